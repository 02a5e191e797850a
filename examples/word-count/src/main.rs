//! Word count on Kafka, with its state served over HTTP: lines go into a topic, a topology splits
//! them into words, re-keys by word (through a repartition topic) and counts them in the RocksDB
//! store `word-counts`; `GET /count/<word>` answers from the instance that hosts the word (another
//! instance's address is given as a redirect), `GET /counts` lists this instance's counts.
//!
//! Delivery guarantee: at-least-once. State survives a restart (checkpoints) and a crash (it is
//! restored from its changelog topic).
//!
//! Run `scripts/word-count` (it starts the local broker), then type lines, and in another terminal
//! `curl localhost:7070/count/the`. Options: `--port N` (default 7070), `--check` (feed a sample
//! text, check every count through HTTP, exit: what CI runs).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use streams_core::StreamsConfig;
use streams_core::dsl::{Materialized, StreamsBuilder};
use streams_core::runtime::{KafkaStreams, StreamsState};
use streams_core::testing::kafka::TestKafka;

const SAMPLE: &str = "the quick brown fox jumps over the lazy dog\n\
                      the dog sleeps\n\
                      a fox is quick and a dog is lazy";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let check = args.iter().any(|a| a == "--check");
    let port: u16 = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(7070), |p| p.parse())?;
    let Some(kafka) = TestKafka::from_env() else {
        return Err("set STREAMS_BOOTSTRAP_SERVERS (scripts/word-count does)".into());
    };
    let lines = kafka.create_topic("lines", 2);
    let counts_topic = kafka.create_topic("word-counts", 2);
    let application_id = kafka.unique_name("word-count");
    let state_dir = tempfile::tempdir()?;

    let builder = StreamsBuilder::new();
    builder
        // Lines have no key: `Option<String>` reads a null key as `None`.
        .stream::<Option<String>, String>(lines.name())
        .flat_map_values(|line: String| line.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>())
        .group_by(|_, word: &String| word.clone())
        .count_with(Materialized::named("word-counts"))
        .to_stream()
        .to(counts_topic.name());
    let topology = builder.build()?;
    println!("{}", topology.describe());

    let endpoint = format!("localhost:{port}");
    let config = StreamsConfig::new(&application_id, kafka.bootstrap_servers())
        .with_state_dir(state_dir.path())
        .with_commit_interval(Duration::from_secs(1))
        .with_application_server(&endpoint);
    let mut streams = KafkaStreams::new(topology, config)?;
    streams.start()?;
    if !streams.wait_for_state(StreamsState::Running, Duration::from_secs(60))? {
        return Err("the application did not reach RUNNING in 60 s".into());
    }
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    println!(
        "lines go to topic {}; counts are served on http://{endpoint}/count/<word>",
        lines.name()
    );

    let stop = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        let streams = &streams;
        let stop = &stop;
        scope.spawn(move || serve(&listener, streams, stop));
        let outcome = if check {
            self_check(&kafka, &lines, streams, port)
        } else {
            println!("type lines (Ctrl-D to stop):");
            for line in std::io::stdin().lock().lines() {
                let line = line?;
                kafka.produce(&lines, [(None, Some(line.into_bytes()))]);
            }
            Ok(())
        };
        stop.store(true, Ordering::Release);
        outcome
    });
    streams.close()?;
    kafka.delete_topics_with_prefix(&application_id);
    result
}

/// Feeds the sample text and checks every word's count through HTTP.
fn self_check(
    kafka: &TestKafka,
    lines: &streams_core::testing::kafka::TestTopic,
    streams: &KafkaStreams,
    port: u16,
) -> Result<(), Box<dyn std::error::Error>> {
    kafka.produce(
        lines,
        SAMPLE.lines().map(|l| (None, Some(l.trim().as_bytes().to_vec()))),
    );
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for word in SAMPLE.split_whitespace() {
        *expected.entry(word.to_string()).or_insert(0) += 1;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for (word, count) in &expected {
        loop {
            let body = http_get(port, &format!("/count/{word}"))?;
            if body.contains(&format!("\"count\":{count}")) {
                println!("GET /count/{word} -> {body}");
                break;
            }
            if streams.state() == StreamsState::Error || Instant::now() > deadline {
                return Err(format!("/count/{word} answered {body:?}, expected count {count}").into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    println!(
        "all {} words counted right; stats: {:?}",
        expected.len(),
        streams.stats()
    );
    Ok(())
}

fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response)?;
    Ok(response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string())
}

/// Answers HTTP requests until `stop` is set.
fn serve(listener: &TcpListener, streams: &KafkaStreams, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((connection, _)) => {
                if let Err(error) = answer(connection, streams) {
                    eprintln!("http: {error}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => eprintln!("http: {error}"),
        }
    }
}

fn answer(mut connection: TcpStream, streams: &KafkaStreams) -> Result<(), Box<dyn std::error::Error>> {
    connection.set_nonblocking(false)?;
    let mut request = String::new();
    BufReader::new(&connection).read_line(&mut request)?;
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, headers, body) = if let Some(word) = path.strip_prefix("/count/") {
        let store = streams.key_value_store::<String, i64>("word-counts")?;
        let metadata = streams.query_metadata_for_key::<String>("word-counts", &word.to_string())?;
        match store.get(&word.to_string())? {
            Some(count) => (
                "200 OK",
                String::new(),
                format!(
                    "{{\"word\":\"{word}\",\"count\":{count},\"partition\":{}}}",
                    metadata.partition
                ),
            ),
            None => match metadata.active_host {
                // Hosted elsewhere: send the client there.
                Some(host) if Some(host.as_str()) != streams_config_endpoint(streams).as_deref() => (
                    "307 Temporary Redirect",
                    format!("Location: http://{host}{path}\r\n"),
                    String::new(),
                ),
                _ => (
                    "404 Not Found",
                    String::new(),
                    format!("{{\"word\":\"{word}\",\"count\":0}}"),
                ),
            },
        }
    } else if path == "/counts" {
        let all = streams.key_value_store::<String, i64>("word-counts")?.all()?;
        let entries: Vec<String> = all.iter().map(|(w, c)| format!("\"{w}\":{c}")).collect();
        ("200 OK", String::new(), format!("{{{}}}", entries.join(",")))
    } else {
        (
            "404 Not Found",
            String::new(),
            "try /count/<word> or /counts".to_string(),
        )
    };
    write!(
        connection,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}

fn streams_config_endpoint(streams: &KafkaStreams) -> Option<String> {
    streams.config().application_server().map(str::to_string)
}
