//! The typed DSL: describe a topology as a chain of operations on streams.
//!
//! One type per stage, so only valid calls are offered: [`StreamsBuilder`] gives [`KStream`]s;
//! each operator adds a node to the topology (its processor lives in `processor/ops/`) and
//! returns the next stage. Nothing runs until the built [`Topology`](crate::topology::Topology)
//! is run by the test driver or the Kafka runtime.
//!
//! Serdes come from the types ([`DefaultSerde`](crate::serde::DefaultSerde)) unless an option
//! object gives others: [`Consumed`], [`Produced`], [`Repartitioned`]. Node names are generated as
//! Kafka Streams does (`KSTREAM-FILTER-0000000001`), or taken from [`Named`].
//!
//! ```
//! use streams_core::dsl::StreamsBuilder;
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream::<String, String>("words")
//!     .filter(|_key, word| word.len() > 3)
//!     .map_values(|word| word.to_uppercase())
//!     .to("long-words");
//! let topology = builder.build()?;
//! println!("{}", topology.describe());
//! # Ok::<(), streams_core::Error>(())
//! ```

mod branched;
mod builder;
mod deduplicated;
mod grouped;
mod join;
mod kstream;
mod ktable;
mod materialized;
mod options;
mod windowed;

pub use branched::{Branched, BranchedKStream};
pub use builder::StreamsBuilder;
pub use deduplicated::Deduplicated;
pub use grouped::{Grouped, KGroupedStream};
pub use join::{GlobalKTable, Joined, StreamJoined};
pub use kstream::KStream;
pub use ktable::{KGroupedTable, KTable};
pub use materialized::Materialized;
pub use options::{Consumed, Named, ProcessorOptions, Produced, Repartitioned};
pub use windowed::{SessionWindowedKStream, TimeWindowedKStream, Windowing};
