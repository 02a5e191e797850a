//! The Avro serdes against a real Confluent-compatible schema registry (Apicurio, started by
//! `scripts/schema-registry`; `STREAMS_SCHEMA_REGISTRY_URL` names its base URL) and, for the end
//! to end test, the real broker. Skipped when the variable is unset, except under CI.

use std::sync::Arc;
use std::time::Duration;

use apache_avro::types::Value;
use serde::{Deserialize, Serialize};
use streams_core::StreamsConfig;
use streams_core::dsl::{Consumed, Produced, StreamsBuilder};
use streams_core::runtime::{KafkaStreams, RawRecord};
use streams_core::serde::avro::{AvroSerde, GenericAvroSerde, SchemaRegistry, SubjectNaming};
use streams_core::serde::{Serde, SerdeErrorKind, StringSerde};
use streams_core::testing::kafka::TestKafka;

const URL_ENV: &str = "STREAMS_SCHEMA_REGISTRY_URL";

/// The registry, or `None` to skip (the variable is unset outside CI).
fn registry() -> Option<SchemaRegistry> {
    match std::env::var(URL_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(SchemaRegistry::builder(url).build().unwrap()),
        _ if std::env::var_os("CI").is_some() => panic!("{URL_ENV} is not set under CI (scripts/test sets it)"),
        _ => {
            eprintln!("skipped: {URL_ENV} is not set (scripts/schema-registry start)");
            None
        }
    }
}

/// A topic name no other run has used: subjects are per topic.
fn unique(hint: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{hint}-{}-{nanos}", std::process::id())
}

const PAYMENT_V1: &str = r#"{"type": "record", "name": "Payment", "namespace": "streams.test",
  "fields": [{"name": "id", "type": "string"}, {"name": "cents", "type": "long"}]}"#;
/// V1 plus a field with a default: backward and forward compatible.
const PAYMENT_V2: &str = r#"{"type": "record", "name": "Payment", "namespace": "streams.test",
  "fields": [{"name": "id", "type": "string"}, {"name": "cents", "type": "long"},
             {"name": "currency", "type": "string", "default": "EUR"}]}"#;
/// V1 plus a field without a default: not backward compatible.
const PAYMENT_BAD: &str = r#"{"type": "record", "name": "Payment", "namespace": "streams.test",
  "fields": [{"name": "id", "type": "string"}, {"name": "cents", "type": "long"},
             {"name": "card", "type": "string"}]}"#;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PaymentV1 {
    id: String,
    cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PaymentV2 {
    id: String,
    cents: i64,
    currency: String,
}

#[test]
fn a_record_round_trips_in_the_confluent_wire_format() {
    let Some(registry) = registry() else { return };
    let topic = unique("payments");
    let serde = AvroSerde::<PaymentV1>::new(registry, PAYMENT_V1).unwrap();
    let payment = PaymentV1 {
        id: "p-1".into(),
        cents: 1250,
    };
    let bytes = serde.serialize(&topic, &payment).unwrap().unwrap();
    assert_eq!(bytes[0], 0, "magic byte");
    // Avro body: the string "p-1" (zigzag length 3 → 6, then the bytes), the long 1250 (zigzag 2500).
    assert_eq!(&bytes[5..], &[6, b'p', b'-', b'1', 0xC4, 0x13]);
    assert_eq!(serde.deserialize(&topic, Some(&bytes)).unwrap(), payment);
    // The same schema again: the same id.
    let again = serde.serialize(&topic, &payment).unwrap().unwrap();
    assert_eq!(again[..5], bytes[..5]);
}

#[test]
fn schema_evolution_reads_older_and_newer_writers_into_the_readers_schema() {
    let Some(registry) = registry() else { return };
    let topic = unique("evolving");
    let v1 = AvroSerde::<PaymentV1>::new(registry.clone(), PAYMENT_V1).unwrap();
    let v2 = AvroSerde::<PaymentV2>::new(registry, PAYMENT_V2).unwrap();
    let old = v1
        .serialize(
            &topic,
            &PaymentV1 {
                id: "old".into(),
                cents: 5,
            },
        )
        .unwrap()
        .unwrap();
    let new = v2
        .serialize(
            &topic,
            &PaymentV2 {
                id: "new".into(),
                cents: 7,
                currency: "SEK".into(),
            },
        )
        .unwrap()
        .unwrap();
    assert_ne!(old[1..5], new[1..5], "v2 is a new version with its own id");
    // Backward: a v2 reader fills the added field's default into a v1 record.
    assert_eq!(
        v2.deserialize(&topic, Some(&old)).unwrap(),
        PaymentV2 {
            id: "old".into(),
            cents: 5,
            currency: "EUR".into()
        }
    );
    // Forward: a v1 reader drops the field it does not know.
    assert_eq!(
        v1.deserialize(&topic, Some(&new)).unwrap(),
        PaymentV1 {
            id: "new".into(),
            cents: 7
        }
    );
}

#[test]
fn an_incompatible_schema_is_refused_with_a_clear_error() {
    let Some(registry) = registry() else { return };
    let topic = unique("strict");
    let v1 = AvroSerde::<PaymentV1>::new(registry.clone(), PAYMENT_V1).unwrap();
    v1.serialize(
        &topic,
        &PaymentV1 {
            id: "a".into(),
            cents: 1,
        },
    )
    .unwrap();
    #[derive(Serialize, Deserialize)]
    struct WithCard {
        id: String,
        cents: i64,
        card: String,
    }
    let bad = AvroSerde::<WithCard>::new(registry, PAYMENT_BAD).unwrap();
    let error = bad
        .serialize(
            &topic,
            &WithCard {
                id: "b".into(),
                cents: 2,
                card: "c".into(),
            },
        )
        .unwrap_err();
    assert_eq!(error.kind(), SerdeErrorKind::IncompatibleSchema, "{error}");
}

#[test]
fn bad_bytes_each_fail_with_their_own_kind() {
    let Some(registry) = registry() else { return };
    let serde = AvroSerde::<PaymentV1>::new(registry, PAYMENT_V1).unwrap();
    let kind = |bytes: &[u8]| serde.deserialize("t", Some(bytes)).unwrap_err().kind();
    assert_eq!(kind(&[0, 0]), SerdeErrorKind::Truncated);
    assert_eq!(kind(b"{\"id\": 1}"), SerdeErrorKind::WrongMagicByte);
    assert_eq!(
        kind(&[0, 0x7F, 0xFF, 0xFF, 0xF0, 2, b'x']),
        SerdeErrorKind::UnknownSchemaId
    );
    assert_eq!(serde.deserialize("t", None).unwrap_err().kind(), SerdeErrorKind::Null);
}

#[test]
fn generic_records_and_record_name_subjects() {
    let Some(registry) = registry() else { return };
    let (first, second) = (unique("generic-a"), unique("generic-b"));
    // Registered under the record's full name from one topic…
    let writer = GenericAvroSerde::new(registry.clone(), PAYMENT_V1)
        .unwrap()
        .with_subject_naming(SubjectNaming::RecordName);
    let record = Value::Record(vec![
        ("id".into(), Value::String("g-1".into())),
        ("cents".into(), Value::Long(99)),
    ]);
    let bytes = writer.serialize(&first, &record).unwrap().unwrap();
    assert_eq!(writer.deserialize(&first, Some(&bytes)).unwrap(), record);
    // …and found by name from another, without registering.
    let reader = GenericAvroSerde::new(registry, PAYMENT_V1)
        .unwrap()
        .with_subject_naming(SubjectNaming::RecordName)
        .with_auto_register(false);
    let other = reader.serialize(&second, &record).unwrap().unwrap();
    assert_eq!(other[..5], bytes[..5], "the same subject, so the same schema id");
}

#[test]
fn avro_records_flow_through_a_topology_on_the_broker() {
    let (Some(registry), Some(kafka)) = (registry(), TestKafka::from_env()) else {
        return;
    };
    let input = kafka.create_topic("avro-in", 2);
    let output = kafka.create_topic("avro-out", 2);
    let app = kafka.unique_name("avro");
    let state = tempfile::tempdir().unwrap();
    let v1 = Arc::new(AvroSerde::<PaymentV1>::new(registry.clone(), PAYMENT_V1).unwrap());
    kafka.produce_records(
        &input,
        (0..100).map(|i| RawRecord {
            key: Some(format!("card-{}", i % 7).into_bytes()),
            value: v1
                .serialize(
                    input.name(),
                    &PaymentV1 {
                        id: format!("p-{i}"),
                        cents: i,
                    },
                )
                .unwrap(),
            ..RawRecord::default()
        }),
    );
    // The application reads v1 and writes v2 (a new field with a value).
    let v2 = Arc::new(AvroSerde::<PaymentV2>::new(registry, PAYMENT_V2).unwrap());
    let builder = StreamsBuilder::new();
    builder
        .stream_with(input.name(), Consumed::with(Arc::new(StringSerde), v1.clone()))
        .map_values(|p: PaymentV1| PaymentV2 {
            id: p.id,
            cents: p.cents * 2,
            currency: "USD".into(),
        })
        .to_with(output.name(), Produced::with(Arc::new(StringSerde), v2.clone()));
    let mut streams = KafkaStreams::new(
        builder.build().unwrap(),
        StreamsConfig::new(&app, kafka.bootstrap_servers()).with_state_dir(state.path()),
    )
    .unwrap();
    streams.start().unwrap();
    let read = kafka.read(&output, 100, Duration::from_secs(60));
    streams.close().unwrap();
    assert_eq!(read.len(), 100);
    // A consumer with the v1 reader schema reads the v2 records (forward compatible).
    let mut cents: Vec<i64> = read
        .iter()
        .map(|r| v1.deserialize(output.name(), r.record.value.as_deref()).unwrap().cents)
        .collect();
    cents.sort_unstable();
    assert_eq!(cents, (0..100).map(|i| i * 2).collect::<Vec<_>>());
    let first = v2.deserialize(output.name(), read[0].record.value.as_deref()).unwrap();
    assert_eq!(first.currency, "USD");
    kafka.delete_topics_with_prefix(&app);
}

#[test]
fn arbitrary_avro_bodies_after_a_known_schema_id_never_panic() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let Some(registry) = registry() else { return };
    let topic = unique("fuzzed");
    let serde = AvroSerde::<PaymentV2>::new(registry, PAYMENT_V2).unwrap();
    let valid = serde
        .serialize(
            &topic,
            &PaymentV2 {
                id: "x".into(),
                cents: 1,
                currency: "EUR".into(),
            },
        )
        .unwrap()
        .unwrap();
    let header = valid[..5].to_vec();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    let mut runner = TestRunner::new(Config::with_cases(cases));
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..48), |body| {
            let mut bytes = header.clone();
            bytes.extend_from_slice(&body);
            if let Err(error) = serde.deserialize(&topic, Some(&bytes)) {
                prop_assert!(
                    matches!(
                        error.kind(),
                        SerdeErrorKind::Malformed | SerdeErrorKind::Truncated | SerdeErrorKind::TypeMismatch
                    ),
                    "{error}"
                );
            }
            Ok(())
        })
        .unwrap();
    // Cut short anywhere after the header: an error, never a panic or a wrong value.
    for end in 5..valid.len() {
        assert!(serde.deserialize(&topic, Some(&valid[..end])).is_err(), "cut at {end}");
    }
}

/// A TCP forwarder in front of the registry that can be cut off: what goes through it after the
/// cut fails, so a serde still working then did not need the registry.
struct CutOff {
    address: std::net::SocketAddr,
    open: Arc<std::sync::atomic::AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl CutOff {
    fn new(target: &str) -> CutOff {
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::Ordering;
        let authority = target
            .split("//")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let open = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let connections: Arc<std::sync::Mutex<Vec<TcpStream>>> = Arc::default();
        let (open2, connections2) = (open.clone(), connections.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !open2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused from now on
                }
                let server = TcpStream::connect(&authority).unwrap();
                let mut all = connections2.lock().unwrap();
                all.push(client.try_clone().unwrap());
                all.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        CutOff {
            address,
            open,
            connections,
        }
    }

    /// The registry URL through the forwarder.
    fn url(&self, target: &str) -> String {
        let path = target
            .split("//")
            .nth(1)
            .unwrap()
            .split_once('/')
            .map_or("", |(_, path)| path);
        format!("http://{}/{path}", self.address)
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            let _ = connection.shutdown(std::net::Shutdown::Both);
        }
    }
}

#[test]
fn the_registry_is_asked_once_per_schema_not_per_record() {
    if registry().is_none() {
        return;
    }
    let target = std::env::var(URL_ENV).unwrap();
    let forwarder = CutOff::new(&target);
    let registry = SchemaRegistry::builder(forwarder.url(&target))
        .with_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let topic = unique("cached");
    let serde = AvroSerde::<PaymentV1>::new(registry, PAYMENT_V1).unwrap();
    let payment = |i: i64| PaymentV1 {
        id: format!("p-{i}"),
        cents: i,
    };
    let first = serde.serialize(&topic, &payment(0)).unwrap().unwrap();
    assert_eq!(serde.deserialize(&topic, Some(&first)).unwrap(), payment(0));

    // No registry from here on: every further record is written and read from the caches.
    forwarder.cut();
    for i in 1..1_000 {
        let bytes = serde.serialize(&topic, &payment(i)).unwrap().unwrap();
        assert_eq!(serde.deserialize(&topic, Some(&bytes)).unwrap(), payment(i));
    }
    // And the cut is real: a schema not seen before cannot be fetched.
    let unknown = [0, 0x7F, 0xFF, 0xFF, 0xF1, 2, b'x'];
    assert_eq!(
        serde.deserialize(&topic, Some(&unknown)).unwrap_err().kind(),
        SerdeErrorKind::RegistryUnavailable
    );
}

#[test]
fn topic_record_name_subjects_are_per_topic_and_record() {
    let Some(registry) = registry() else { return };
    let topic = unique("mixed");
    let naming = SubjectNaming::TopicRecordName;
    let writer = AvroSerde::<PaymentV1>::new(registry.clone(), PAYMENT_V1)
        .unwrap()
        .with_subject_naming(naming);
    let payment = PaymentV1 {
        id: "t".into(),
        cents: 3,
    };
    let bytes = writer.serialize(&topic, &payment).unwrap().unwrap();
    // Found under `<topic>-streams.test.Payment` without registering…
    let latest = AvroSerde::<PaymentV1>::new(registry.clone(), PAYMENT_V1)
        .unwrap()
        .with_subject_naming(naming)
        .with_auto_register(false);
    assert_eq!(latest.serialize(&topic, &payment).unwrap().unwrap(), bytes);
    // …but not under another topic's subject.
    let error = latest.serialize(&unique("other"), &payment).unwrap_err();
    assert_eq!(error.kind(), SerdeErrorKind::UnknownSchemaId, "{error}");
}
