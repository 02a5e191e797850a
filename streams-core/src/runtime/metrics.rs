//! The runtime's metrics, recorded through the [`metrics`] facade: nothing is kept until the
//! application installs a recorder (any `metrics` exporter), so they cost next to nothing by
//! default. With the `prometheus` feature, [`serve_prometheus`] installs one and serves it.
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | `streams_records_consumed_total` | counter | `thread` | records read from source and repartition topics |
//! | `streams_records_processed_total` | counter | `thread` | records processed by tasks |
//! | `streams_records_produced_total` | counter | `thread` | records sent to sink and repartition topics |
//! | `streams_process_latency_seconds` | histogram | `thread` | mean time per record, one sample per processing turn |
//! | `streams_commit_latency_seconds` | histogram | `thread` | one commit: flush, acknowledgements, offsets, checkpoints |
//! | `streams_consumer_lag_records` | gauge | `topic`, `partition` | records behind the partition's end (librdkafka statistics, every 5 s) |
//! | `streams_dropped_records_total` | counter | `thread` | records dropped by operators by design (late for their window) |
//! | `streams_skipped_records_total` | counter | `thread` | records skipped: an invalid timestamp, a failure under `LogAndContinue`, an output refused under `ProductionErrorHandler::Skip` |
//! | `streams_dead_lettered_records_total` | counter | `thread` | records that failed and were sent to the dead-letter topic |
//! | `streams_restored_records_total` | counter | `thread` | changelog records restored |
//! | `streams_restore_remaining_records` | gauge | `thread` | changelog records still to restore |
//! | `streams_rebalances_total` | counter | `thread` | partition assignments received |
//!
//! Records/s are the rates of the counters (`rate(streams_records_consumed_total[1m])`).

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

/// The metric handles of one stream thread.
#[derive(Clone)]
pub(crate) struct ThreadMetrics {
    pub(crate) consumed: Counter,
    pub(crate) processed: Counter,
    pub(crate) produced: Counter,
    pub(crate) process_latency: Histogram,
    pub(crate) commit_latency: Histogram,
    pub(crate) dropped: Counter,
    pub(crate) skipped: Counter,
    pub(crate) dead_lettered: Counter,
    pub(crate) restored: Counter,
    pub(crate) restore_remaining: Gauge,
    pub(crate) rebalances: Counter,
}

impl ThreadMetrics {
    /// The handles labelled with the thread's name.
    pub(crate) fn new(thread: &str) -> Self {
        let thread = thread.to_string();
        ThreadMetrics {
            consumed: counter!("streams_records_consumed_total", "thread" => thread.clone()),
            processed: counter!("streams_records_processed_total", "thread" => thread.clone()),
            produced: counter!("streams_records_produced_total", "thread" => thread.clone()),
            process_latency: histogram!("streams_process_latency_seconds", "thread" => thread.clone()),
            commit_latency: histogram!("streams_commit_latency_seconds", "thread" => thread.clone()),
            dropped: counter!("streams_dropped_records_total", "thread" => thread.clone()),
            skipped: counter!("streams_skipped_records_total", "thread" => thread.clone()),
            dead_lettered: counter!("streams_dead_lettered_records_total", "thread" => thread.clone()),
            restored: counter!("streams_restored_records_total", "thread" => thread.clone()),
            restore_remaining: gauge!("streams_restore_remaining_records", "thread" => thread.clone()),
            rebalances: counter!("streams_rebalances_total", "thread" => thread),
        }
    }

    /// Records a processing turn of `records` records that took `took`.
    pub(crate) fn processed_turn(&self, records: usize, took: Duration) {
        if records > 0 {
            self.processed.increment(records as u64);
            self.process_latency.record(took.as_secs_f64() / records as f64);
        }
    }
}

/// Sets the lag gauge of a partition.
pub(crate) fn consumer_lag(topic: &str, partition: i32, lag: i64) {
    gauge!("streams_consumer_lag_records", "topic" => topic.to_string(), "partition" => partition.to_string())
        .set(lag as f64);
}

#[cfg(feature = "prometheus")]
pub use prometheus::{PrometheusEndpoint, serve_prometheus};

#[cfg(feature = "prometheus")]
mod prometheus {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::JoinHandle;
    use std::time::Duration;

    use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

    use crate::error::{Error, Result};

    /// A Prometheus scrape endpoint serving every metric recorded in this process on
    /// `GET /metrics`; stops when dropped.
    #[derive(Debug)]
    pub struct PrometheusEndpoint {
        address: SocketAddr,
        handle: PrometheusHandle,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    /// Installs a Prometheus recorder as the process's `metrics` recorder and serves it on
    /// `address` (e.g. `127.0.0.1:9464`; port 0 picks a free one). Call it once, before starting
    /// the application.
    ///
    /// # Errors
    /// [`Error::Config`] when a recorder is already installed or the address cannot be bound.
    pub fn serve_prometheus(address: &str) -> Result<PrometheusEndpoint> {
        let handle = PrometheusBuilder::new()
            .install_recorder()
            .map_err(|e| Error::Config(format!("installing the Prometheus recorder: {e}")))?;
        let listener = TcpListener::bind(address).map_err(|e| Error::Config(format!("binding {address}: {e}")))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::Config(format!("binding {address}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("binding {address}: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("streams-prometheus".into())
            .spawn({
                let (stop, handle) = (stop.clone(), handle.clone());
                move || {
                    while !stop.load(Ordering::Acquire) {
                        match listener.accept() {
                            Ok((mut connection, _)) => {
                                let _ = connection.set_nonblocking(false);
                                let mut request = String::new();
                                let _ = BufReader::new(&connection).read_line(&mut request);
                                let body = handle.render();
                                let _ = write!(
                                    connection,
                                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                    body.len()
                                );
                            }
                            Err(_) => std::thread::sleep(Duration::from_millis(20)),
                        }
                    }
                }
            })
            .map_err(|e| Error::Config(format!("starting the Prometheus endpoint: {e}")))?;
        Ok(PrometheusEndpoint {
            address: bound,
            handle,
            stop,
            thread: Some(thread),
        })
    }

    impl PrometheusEndpoint {
        /// Where it listens.
        pub fn address(&self) -> SocketAddr {
            self.address
        }

        /// The current exposition text, as a scrape would get it.
        pub fn render(&self) -> String {
            self.handle.render()
        }
    }

    impl Drop for PrometheusEndpoint {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Release);
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}
