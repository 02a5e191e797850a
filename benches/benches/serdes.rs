//! Serdes, records per second, one thread, as regression guards: 1,000 distinct transactions (8
//! fields: five strings, an `f64`, an `i64`, a `bool`; about 200 bytes of JSON, 95 of Avro)
//! serialized and deserialized with
//!
//! - `json`: [`JsonSerde`];
//! - `avro`: [`AvroSerde`] in the Confluent wire format, the full path a record takes (the value
//!   checked against the schema, the registry client's encoder or decoder with its cached schema,
//!   reached through the serdes' background runtime, and Avro itself);
//! - `avro_body`: the same Avro encoding with apache-avro alone (to/from an Avro value, resolved
//!   against the schema, written or read with the schema resolved once, the 5-byte header added or
//!   skipped), without the registry client: the difference to `avro` is what the client and the
//!   hand-off to its runtime cost per record.
//!
//! The Avro serde needs a schema registry, but asks it once per schema: the bench serves the two
//! calls it makes (registering the schema, fetching it by id) from a stand-in registry on
//! 127.0.0.1, before the measurement; the bench fails if the serde asks again while measured.
//!
//! `cargo bench -p streams-benches --bench serdes`

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime};
use serde::{Deserialize, Serialize};
use streams_core::serde::avro::{AvroSerde, HEADER_LEN, MAGIC_BYTE, SchemaRegistry, check_framing};
use streams_core::serde::{JsonSerde, Serde};

const RECORDS: usize = 1_000;
const TOPIC: &str = "transactions";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Transaction {
    id: String,
    card: String,
    merchant: String,
    category: String,
    amount: f64,
    currency: String,
    timestamp_ms: i64,
    online: bool,
}

const TRANSACTION_SCHEMA: &str = r#"{"type": "record", "name": "Transaction", "namespace": "streams.bench",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "card", "type": "string"},
    {"name": "merchant", "type": "string"},
    {"name": "category", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "currency", "type": "string"},
    {"name": "timestamp_ms", "type": "long"},
    {"name": "online", "type": "boolean"}
  ]}"#;

fn transactions() -> Vec<Transaction> {
    const MERCHANTS: [&str; 4] = ["Corner Grocery", "City Fuel", "Online Books Ltd", "Cafe Central"];
    const CATEGORIES: [&str; 4] = ["groceries", "fuel", "books", "restaurants"];
    (0..RECORDS)
        .map(|i| Transaction {
            id: format!("9f1c2e7a-{i:04x}-4b8e-a1d2-6c0f3b5e{i:04x}"),
            card: format!("card-{:05}", i * 37 % 10_000),
            merchant: MERCHANTS[i % 4].to_string(),
            category: CATEGORIES[i % 4].to_string(),
            amount: (i as f64 * 13.37) % 500.0 + 0.99,
            currency: "EUR".to_string(),
            timestamp_ms: 1_795_000_000_000 + i as i64 * 1_250,
            online: i % 3 == 0,
        })
        .collect()
}

/// A stand-in for a Confluent schema registry on 127.0.0.1, enough for one serde: registering a
/// schema under any subject gives id 1, and id 1 is [`TRANSACTION_SCHEMA`]. One request per
/// connection; it counts the requests it answered.
struct StandInRegistry {
    url: String,
    requests: Arc<AtomicUsize>,
}

impl StandInRegistry {
    fn start() -> StandInRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if answer(stream).is_ok() {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        StandInRegistry { url, requests }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Reads one HTTP request from `stream` and answers it.
fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut content_length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap_or(0);
        }
    }
    reader.read_exact(&mut vec![0; content_length])?;
    let mut words = request_line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, body) = match method {
        "POST" if path.starts_with("/subjects/") && path.ends_with("/versions") => {
            ("200 OK", r#"{"id":1}"#.to_string())
        }
        "GET" if path.starts_with("/schemas/ids/1?") => (
            "200 OK",
            serde_json::json!({ "schema": TRANSACTION_SCHEMA }).to_string(),
        ),
        _ => (
            "404 Not Found",
            r#"{"error_code":40401,"message":"not found"}"#.to_string(),
        ),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(RECORDS as u64));
}

/// Criterion group `name`: `serde` serializing every record, then deserializing every record's
/// bytes.
fn bench_serde(c: &mut Criterion, name: &str, serde: &dyn Serde<Transaction>, records: &[Transaction]) {
    let encoded: Vec<Vec<u8>> = records
        .iter()
        .map(|r| serde.serialize(TOPIC, r).unwrap().unwrap())
        .collect();
    for (record, bytes) in records.iter().zip(&encoded) {
        assert_eq!(&serde.deserialize(TOPIC, Some(bytes)).unwrap(), record);
    }
    let mut group = c.benchmark_group(name);
    configure(&mut group);
    group.bench_function("serialize", |b| {
        b.iter(|| {
            for record in records {
                black_box(serde.serialize(TOPIC, black_box(record)).unwrap());
            }
        })
    });
    group.bench_function("deserialize", |b| {
        b.iter(|| {
            for bytes in &encoded {
                black_box(serde.deserialize(TOPIC, Some(black_box(bytes))).unwrap());
            }
        })
    });
    group.finish();
}

fn json(c: &mut Criterion) {
    bench_serde(c, "json", &JsonSerde::<Transaction>::new(), &transactions());
}

fn avro(c: &mut Criterion) {
    let registry = StandInRegistry::start();
    let client = SchemaRegistry::builder(&registry.url).build().unwrap();
    let serde = AvroSerde::<Transaction>::new(client, TRANSACTION_SCHEMA).unwrap();
    let records = transactions();
    bench_serde(c, "avro", &serde, &records);
    // `avro_body` writes the same bytes.
    let schema = Schema::parse_str(TRANSACTION_SCHEMA).unwrap();
    let body = AvroBody::new(&schema);
    for record in &records {
        assert_eq!(serde.serialize(TOPIC, record).unwrap().unwrap(), body.serialize(record));
    }
    assert_eq!(
        registry.requests(),
        2,
        "the Avro serde asks the registry once to register the schema and once to fetch it by id"
    );
}

/// The Avro body the serde writes, with apache-avro alone: the value resolved against the schema
/// (as the serde does before handing it to the registry client), written with a writer that
/// resolved the schema once, after the Confluent header of schema id 1.
struct AvroBody<'s> {
    schema: &'s Schema,
    writer: GenericDatumWriter<'s>,
    reader: GenericDatumReader<'s>,
}

impl<'s> AvroBody<'s> {
    fn new(schema: &'s Schema) -> Self {
        AvroBody {
            schema,
            writer: GenericDatumWriter::builder(schema).build().unwrap(),
            reader: GenericDatumReader::builder(schema).build().unwrap(),
        }
    }

    fn serialize(&self, record: &Transaction) -> Vec<u8> {
        let value = apache_avro::to_value(record).unwrap().resolve(self.schema).unwrap();
        let mut bytes = Vec::with_capacity(128);
        bytes.push(MAGIC_BYTE);
        bytes.extend_from_slice(&1u32.to_be_bytes());
        self.writer.write_value(&mut bytes, value).unwrap();
        bytes
    }

    fn deserialize(&self, bytes: &[u8]) -> Transaction {
        assert_eq!(check_framing(bytes).unwrap(), 1);
        let value = self.reader.read_value(&mut &bytes[HEADER_LEN..]).unwrap();
        apache_avro::from_value(&value.resolve(self.schema).unwrap()).unwrap()
    }
}

fn avro_body(c: &mut Criterion) {
    let records = transactions();
    let schema = Schema::parse_str(TRANSACTION_SCHEMA).unwrap();
    let body = AvroBody::new(&schema);
    let encoded: Vec<Vec<u8>> = records.iter().map(|r| body.serialize(r)).collect();
    for (record, bytes) in records.iter().zip(&encoded) {
        assert_eq!(&body.deserialize(bytes), record);
    }
    let mut group = c.benchmark_group("avro_body");
    configure(&mut group);
    group.bench_function("serialize", |b| {
        b.iter(|| {
            for record in &records {
                black_box(body.serialize(black_box(record)));
            }
        })
    });
    group.bench_function("deserialize", |b| {
        b.iter(|| {
            for bytes in &encoded {
                black_box(body.deserialize(black_box(bytes)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, json, avro, avro_body);
criterion_main!(benches);
