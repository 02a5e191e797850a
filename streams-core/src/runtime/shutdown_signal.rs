//! Shutting down every instance of an application when one stream thread's failure asks for it
//! ([`StreamThreadExceptionResponse::ShutdownApplication`](super::StreamThreadExceptionResponse)).
//!
//! Kafka Streams passes the request through its own partition assignor, which librdkafka does not
//! let us replace; instead, the request is a record on the application's internal topic
//! `<application.id>-shutdown-requests` (one partition, created at start-up), and every instance
//! watches that topic from the end with a small consumer of its own (no group, so every instance
//! sees every request).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use tracing::{info, warn};

use super::client_config::admin_config;
use super::kafka_streams::AppShared;
use crate::config::StreamsConfig;
use crate::error::{Error, Result};

/// The topic of shutdown requests of an application.
pub(crate) fn topic(application_id: &str) -> String {
    format!("{application_id}-shutdown-requests")
}

/// Asks every instance to shut down, giving `reason`.
pub(crate) fn request(config: &StreamsConfig, reason: &str) -> Result<()> {
    let producer: BaseProducer = admin_config(config)
        .create()
        .map_err(|e| Error::kafka("creating the shutdown-request producer", e))?;
    let topic = topic(config.application_id());
    producer
        .send(BaseRecord::<[u8], [u8]>::to(&topic).payload(reason.as_bytes()))
        .map_err(|(e, _)| Error::kafka("requesting the application's shutdown", e))?;
    producer
        .flush(Duration::from_secs(10))
        .map_err(|e| Error::kafka("requesting the application's shutdown", e))
}

/// Watches the shutdown-request topic and fails the instance when a request arrives.
pub(crate) struct ShutdownWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ShutdownWatcher {
    /// Starts watching from the topic's end: requests made before this instance started are not
    /// for it.
    pub(crate) fn start(config: &StreamsConfig, app: Arc<AppShared>) -> Result<Self> {
        let mut client = admin_config(config);
        client
            .set("group.id", format!("{}-shutdown-watcher", config.application_id()))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "latest");
        let consumer: BaseConsumer = client
            .create()
            .map_err(|e| Error::kafka("creating the shutdown-request watcher", e))?;
        let topic = topic(config.application_id());
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&topic, 0, Offset::End)
            .map_err(|e| Error::kafka("watching shutdown requests", e))?;
        consumer
            .assign(&assignment)
            .map_err(|e| Error::kafka("watching shutdown requests", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name(format!("{}-shutdown-watcher", config.application_id()))
            .spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Acquire) {
                        match consumer.poll(Duration::from_millis(200)) {
                            Some(Ok(message)) => {
                                let reason =
                                    String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
                                info!(%reason, "an instance asked the application to shut down");
                                app.fail(Error::Processing(format!(
                                    "the application was asked to shut down after a failure: {reason}"
                                )));
                            }
                            Some(Err(error)) => warn!(%error, "watching shutdown requests"),
                            None => {}
                        }
                    }
                }
            })
            .map_err(|e| Error::Config(format!("could not start the shutdown-request watcher: {e}")))?;
        Ok(ShutdownWatcher {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops watching.
    pub(crate) fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ShutdownWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
