//! Prints a topology's description in Kafka Streams' text format and as a Mermaid diagram: the
//! word count with a windowed count beside it, as in `docs/dsl.md`. No Kafka needed.
//!
//! `cargo run -p streams-core --example describe_topology`

use streams_core::dsl::{Materialized, StreamsBuilder};
use streams_core::time::{TimeWindows, minutes, seconds};

fn main() -> Result<(), streams_core::Error> {
    let builder = StreamsBuilder::new();
    let words = builder.stream::<String, String>("words");
    words
        .group_by(|_, word| word.to_lowercase())
        .count_with(Materialized::named("word-counts"))
        .to_stream()
        .to("word-counts");
    words
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(minutes(1), seconds(10)))
        .count_with(Materialized::named("words-per-minute"))
        .to_stream()
        .to("words-per-minute");
    let topology = builder.build()?;
    let description = topology.describe();
    println!("{description}");
    println!("{}", description.to_mermaid());
    for topic in topology.internal_topics("word-count") {
        println!("internal topic {} {:?}", topic.name, topic.config);
    }
    Ok(())
}
