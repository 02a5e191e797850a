//! The harness's own Kafka clients: topics that persist between harness runs (the preloaded input
//! is written once), a fast producer, reading a topic to its end, and an application's committed
//! offsets. Plain rdkafka, with the client settings measured in `shared/notes/rdkafka-throughput.md`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The broker, through an admin client.
pub struct Kafka {
    bootstrap: String,
    admin: AdminClient<DefaultClientContext>,
}

impl std::fmt::Debug for Kafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kafka").field("bootstrap", &self.bootstrap).finish()
    }
}

/// A record read back: partition, key, value, timestamp (ms).
#[derive(Debug, Clone)]
pub struct Read {
    /// Its partition.
    pub partition: i32,
    /// Its key.
    pub key: Option<Vec<u8>>,
    /// Its value.
    pub value: Option<Vec<u8>>,
    /// Its timestamp, ms since the epoch.
    pub timestamp: i64,
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}

impl Kafka {
    /// Connects to `bootstrap` and checks the broker answers.
    ///
    /// # Errors
    /// The client cannot be made or the broker does not answer in 30 s.
    pub fn connect(bootstrap: &str) -> Result<Kafka, String> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .create()
            .map_err(|e| format!("an admin client for {bootstrap}: {e}"))?;
        admin
            .inner()
            .fetch_metadata(None, TIMEOUT)
            .map_err(|e| format!("the broker at {bootstrap} does not answer: {e}"))?;
        Ok(Kafka {
            bootstrap: bootstrap.to_string(),
            admin,
        })
    }

    /// The bootstrap address.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The partition count of `topic`, or `None` when it does not exist.
    ///
    /// It asks for every topic's metadata: a request naming the topic would make a broker with
    /// `auto.create.topics.enable` (the default) create it, with one partition.
    pub fn partitions(&self, topic: &str) -> Option<i32> {
        let metadata = self.admin.inner().fetch_metadata(None, TIMEOUT).ok()?;
        metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .map(|t| t.partitions().len() as i32)
    }

    /// Creates `topic` (an existing one is left as it is) and waits until every partition has a
    /// leader.
    ///
    /// # Errors
    /// The broker refuses or does not answer.
    pub fn create_topic(&self, topic: &str, partitions: i32, settings: &[(&str, &str)]) -> Result<(), String> {
        let new = settings.iter().fold(
            NewTopic::new(topic, partitions, TopicReplication::Fixed(1)),
            |t, (k, v)| t.set(k, v),
        );
        let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
        for result in
            block_on(self.admin.create_topics(&[new], &options)).map_err(|e| format!("creating {topic}: {e}"))?
        {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(format!("creating {topic}: {code}")),
            }
        }
        let deadline = Instant::now() + TIMEOUT;
        while self.partitions(topic) != Some(partitions) {
            if Instant::now() > deadline {
                return Err(format!(
                    "{topic} does not have {partitions} partitions after 30 s: {:?}",
                    self.partitions(topic)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Deletes these topics (missing ones are ignored).
    pub fn delete_topics(&self, topics: &[String]) {
        if topics.is_empty() {
            return;
        }
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
        if let Err(e) = block_on(self.admin.delete_topics(&names, &options)) {
            eprintln!("side-by-side: could not delete {names:?}: {e}");
        }
        // Deletion is asynchronous on the broker: wait until the names are gone, so they can be
        // created again.
        let deadline = Instant::now() + TIMEOUT;
        while topics.iter().any(|t| self.partitions(t).is_some()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every topic whose name starts with `prefix`.
    pub fn topics_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.admin
            .inner()
            .fetch_metadata(None, TIMEOUT)
            .map(|m| {
                m.topics()
                    .iter()
                    .map(|t| t.name().to_string())
                    .filter(|n| n.starts_with(prefix))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn consumer(&self, group: &str, extra: &[(&str, &str)]) -> BaseConsumer {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .set("fetch.queue.backoff.ms", "10")
            .set("max.partition.fetch.bytes", "4194304");
        for (k, v) in extra {
            config.set(*k, *v);
        }
        config.create().expect("a consumer")
    }

    /// The sum of the end offsets of `topic`'s partitions (its record count when nothing was
    /// deleted and no transaction markers were written).
    pub fn end_offsets(&self, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
        let consumer = self.consumer("side-by-side-offsets", &[]);
        (0..partitions)
            .map(|p| {
                let (_, high) = consumer.fetch_watermarks(topic, p, TIMEOUT).unwrap_or((0, 0));
                (p, high)
            })
            .collect()
    }

    /// A consumer that reads the committed offsets of the consumer group `group` (without joining
    /// it).
    pub fn offsets_reader(&self, group: &str) -> BaseConsumer {
        self.consumer(group, &[])
    }

    /// `group`'s committed offsets of `topic` (missing partitions: -1).
    pub fn committed(reader: &BaseConsumer, topic: &str, partitions: i32) -> Result<BTreeMap<i32, i64>, KafkaError> {
        let mut list = TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition(topic, p);
        }
        let committed = reader.committed_offsets(list, Duration::from_secs(5))?;
        Ok((0..partitions)
            .map(|p| {
                let offset = match committed.find_partition(topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o,
                    _ => -1,
                };
                (p, offset)
            })
            .collect())
    }

    /// A producer for preloading and for the offered load: idempotent, Java's key partitioner, and
    /// a linger of `linger_ms`.
    pub fn producer(&self, linger_ms: u32) -> BaseProducer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", linger_ms.to_string())
            .set("batch.size", "1000000")
            .set("batch.num.messages", "10000")
            .set("queue.buffering.max.messages", "1000000")
            .create()
            .expect("a producer")
    }

    /// Produces every record (key, value, timestamp) to `topic`, keyed partitioning, and waits for
    /// all acknowledgements.
    ///
    /// # Errors
    /// A record is refused, or the flush times out.
    pub fn produce_all(
        &self,
        topic: &str,
        records: impl Iterator<Item = (Vec<u8>, Vec<u8>, i64)>,
    ) -> Result<u64, String> {
        let producer = self.producer(20);
        let mut sent = 0u64;
        for (key, value, timestamp) in records {
            send(&producer, topic, &key, &value, timestamp)?;
            sent += 1;
            if sent.is_multiple_of(10_000) {
                serve(&producer);
            }
        }
        producer
            .flush(Duration::from_secs(120))
            .map_err(|e| format!("flushing {topic}: {e}"))?;
        Ok(sent)
    }

    /// Reads `topic` from its start to its end (read_committed), handing each record to `each`.
    ///
    /// # Errors
    /// The end is not reached within `timeout`.
    pub fn read_all(
        &self,
        topic: &str,
        partitions: i32,
        timeout: Duration,
        mut each: impl FnMut(Read),
    ) -> Result<u64, String> {
        let consumer = self.consumer("side-by-side-reader", &[("enable.partition.eof", "true")]);
        let mut list = TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
        consumer.assign(&list).map_err(|e| e.to_string())?;
        let mut at_end = vec![false; partitions as usize];
        let deadline = Instant::now() + timeout;
        let mut read = 0;
        while at_end.iter().any(|e| !e) {
            if Instant::now() > deadline {
                return Err(format!(
                    "{topic}: the end not reached in {timeout:?} ({read} records read)"
                ));
            }
            match consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Err(KafkaError::PartitionEOF(p))) => at_end[p as usize] = true,
                Some(Err(e)) => return Err(format!("reading {topic}: {e}")),
                Some(Ok(message)) => {
                    at_end[message.partition() as usize] = false;
                    read += 1;
                    each(Read {
                        partition: message.partition(),
                        key: message.key().map(<[u8]>::to_vec),
                        value: message.payload().map(<[u8]>::to_vec),
                        timestamp: message.timestamp().to_millis().unwrap_or(-1),
                    });
                }
            }
        }
        Ok(read)
    }

    /// A consumer assigned to every partition of `topic` from its start (read_committed), polling
    /// without waiting long: the latency watcher.
    ///
    /// # Errors
    /// The assignment fails.
    pub fn tail(&self, topic: &str, partitions: i32) -> Result<BaseConsumer, String> {
        let consumer = self.consumer("side-by-side-tail", &[("fetch.wait.max.ms", "5")]);
        let mut list = TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
        consumer.assign(&list).map_err(|e| e.to_string())?;
        Ok(consumer)
    }
}

/// Sends one record, waiting (and serving delivery reports) while the producer's queue is full.
///
/// # Errors
/// The producer refuses the record for another reason.
pub fn send(producer: &BaseProducer, topic: &str, key: &[u8], value: &[u8], timestamp: i64) -> Result<(), String> {
    let mut record = BaseRecord::<[u8], [u8]>::to(topic)
        .key(key)
        .payload(value)
        .timestamp(timestamp);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::from_millis(5));
                serve(producer);
            }
            Err((e, _)) => return Err(format!("producing to {topic}: {e}")),
        }
    }
}

/// Serves the delivery reports waiting (each `poll` handles one batch of them): without this the
/// reports pile up and the producer's memory grows.
pub fn serve(producer: &BaseProducer) {
    for _ in 0..64 {
        producer.poll(Duration::ZERO);
    }
}
