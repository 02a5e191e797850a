//! The fraud detector's HTTP server (axum):
//!
//! | route | what |
//! |---|---|
//! | `POST /transactions` | validates the JSON body ([`crate::validate`]), publishes it to `transactions` keyed by card id (in the configured format, with `correlation-id` and `ingested-at` headers) and answers `202 Accepted` with `{"txn_id", "correlation_id"}` once Kafka has it; `400` naming the field for invalid input, `413` above 16 KiB, `503` if Kafka refuses it |
//! | `GET /` | the live dashboard (one static page, `web/index.html`) |
//! | `GET /events` | Server-Sent Events: `alert` (each alert as it is read from `fraud-alerts`) and `stats` (once a second: rates, totals, latency) |
//! | `GET /cards/{id}` | the card's current features and window activity, by interactive queries; a card hosted by another instance is fetched from it |
//! | `GET /health` | `200 ok` while the application runs |
//!
//! Re-posting a transaction id is accepted again (`202`): the topology's `dedupe_by` keeps it from
//! being scored twice.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use streams_core::runtime::{KafkaStreams, StreamsState};
use streams_core::serde::SharedSerde;
use tokio::sync::broadcast;

use crate::generator::Transaction;
use crate::topology::{
    ACTIVITY_10M_STORE, ACTIVITY_24H_STORE, Activity, Alert, CORRELATION_ID_HEADER, CardProfile, INGESTED_AT_HEADER,
    PROFILES_STORE, TRANSACTIONS,
};
use crate::validate::{self, MAX_BODY_BYTES};

/// The dashboard page.
const INDEX_HTML: &str = include_str!("../web/index.html");

/// How many recent alerts a new dashboard gets on connecting.
const RECENT_ALERTS: usize = 50;

/// The header marking a card lookup forwarded by another instance (never forwarded again).
const FORWARDED_HEADER: &str = "x-fraud-detector-forwarded";

/// Milliseconds since the Unix epoch, by the wall clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What the server shares between requests.
pub struct AppState {
    /// Publishes accepted transactions.
    pub producer: FutureProducer,
    /// The `transactions` topic's value serde (JSON or Avro).
    pub serde: SharedSerde<Transaction>,
    /// The running application, for interactive queries.
    pub streams: Arc<KafkaStreams>,
    /// This instance's `host:port` (its `application.server`).
    pub endpoint: String,
    /// Live events for the dashboards.
    pub live: Live,
    /// Transactions accepted so far.
    pub accepted: AtomicU64,
    /// Requests refused as invalid so far.
    pub rejected: AtomicU64,
    /// Forwards card lookups to other instances.
    pub http: reqwest::Client,
}

/// Alerts and statistics pushed to the dashboards.
#[derive(Clone)]
pub struct Live {
    sender: broadcast::Sender<(&'static str, String)>,
    recent: Arc<Mutex<VecDeque<String>>>,
    closing: tokio::sync::watch::Sender<bool>,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

impl Live {
    /// No dashboard yet.
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(4096).0,
            recent: Arc::new(Mutex::new(VecDeque::with_capacity(RECENT_ALERTS))),
            closing: tokio::sync::watch::channel(false).0,
        }
    }

    /// Ends every event stream (so that a graceful shutdown of the server can finish).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`Live::close`] was called.
    pub async fn closed(&self) {
        let mut closing = self.closing.subscribe();
        let _ = closing.wait_for(|closed| *closed).await;
    }

    /// Pushes an alert to every dashboard (and keeps it for those connecting later).
    pub fn alert(&self, alert: &Alert, latency_ms: Option<f64>) {
        let mut value = serde_json::to_value(alert).unwrap_or_default();
        value["latency_ms"] = json!(latency_ms);
        let text = value.to_string();
        {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if recent.len() == RECENT_ALERTS {
                recent.pop_front();
            }
            recent.push_back(text.clone());
        }
        let _ = self.sender.send(("alert", text));
    }

    /// Pushes a statistics update (a JSON object) to every dashboard.
    pub fn stats(&self, stats: serde_json::Value) {
        let _ = self.sender.send(("stats", stats.to_string()));
    }
}

/// The router of all routes, over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/health", get(health))
        .route("/transactions", post(ingest))
        .route("/events", get(events))
        .route("/cards/{id}", get(card))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    match state.streams.state() {
        StreamsState::Running | StreamsState::Rebalancing => (StatusCode::OK, "ok").into_response(),
        other => (StatusCode::SERVICE_UNAVAILABLE, format!("{other:?}")).into_response(),
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn ingest(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let received_ms = now_ms();
    let txn = match validate::transaction(&body, received_ms) {
        Ok(txn) => txn,
        Err(invalid) => {
            state.rejected.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::BAD_REQUEST, invalid.to_string());
        }
    };
    let value = match state.serde.serialize(TRANSACTIONS, &txn) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return error(StatusCode::INTERNAL_SERVER_ERROR, "the serde wrote no value"),
        // An Avro registry that is down: the client may retry.
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot encode the transaction: {e}"),
            );
        }
    };
    let correlation_id = format!("txn-{}-{:x}", txn.txn_id, received_ms);
    let received = received_ms.to_string();
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: CORRELATION_ID_HEADER,
            value: Some(correlation_id.as_bytes()),
        })
        .insert(Header {
            key: INGESTED_AT_HEADER,
            value: Some(received.as_bytes()),
        });
    let record = FutureRecord::to(TRANSACTIONS)
        .key(txn.card_id.as_bytes())
        .payload(&value)
        .timestamp(txn.timestamp_ms)
        .headers(headers);
    match state.producer.send(record, Duration::from_secs(10)).await {
        Ok(_) => {
            state.accepted.fetch_add(1, Ordering::Relaxed);
            (
                StatusCode::ACCEPTED,
                Json(json!({ "txn_id": txn.txn_id, "correlation_id": correlation_id })),
            )
                .into_response()
        }
        Err((e, _)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Kafka did not take the transaction: {e}"),
        ),
    }
}

async fn events(State(state): State<Arc<AppState>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let recent: Vec<String> = state
        .live
        .recent
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect();
    let receiver = state.live.sender.subscribe();
    let backlog = futures::stream::iter(recent.into_iter().map(|a| Ok(Event::default().event("alert").data(a))));
    let live = futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok((kind, data)) => return Some((Ok(Event::default().event(kind).data(data)), receiver)),
                // A slow client missed some events: go on with the next.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    use futures::StreamExt;
    let live_state = state.live.clone();
    let closed = Box::pin(async move { live_state.closed().await });
    Sse::new(backlog.chain(live).take_until(closed)).keep_alive(KeepAlive::default())
}

/// Answers `GET /cards/{id}` from this instance's stores, or from the instance hosting the card.
async fn card(State(state): State<Arc<AppState>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let forwarded = headers.contains_key(FORWARDED_HEADER);
    let lookup_state = state.clone();
    let lookup_id = id.clone();
    let local = tokio::task::spawn_blocking(move || lookup(&lookup_state, &lookup_id)).await;
    match local {
        Ok(Ok(Lookup::Found(body))) => Json(body).into_response(),
        Ok(Ok(Lookup::Elsewhere(host))) if !forwarded => {
            let url = format!("http://{host}/cards/{id}");
            match state.http.get(&url).header(FORWARDED_HEADER, "1").send().await {
                Ok(response) => {
                    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                    match response.bytes().await {
                        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
                        Err(e) => error(StatusCode::BAD_GATEWAY, format!("{host} failed to answer: {e}")),
                    }
                }
                Err(e) => error(
                    StatusCode::BAD_GATEWAY,
                    format!("{host}, which hosts card {id}, is unreachable: {e}"),
                ),
            }
        }
        Ok(Ok(Lookup::Elsewhere(host))) => error(
            StatusCode::MISDIRECTED_REQUEST,
            format!("card {id} is hosted by {host}"),
        ),
        Ok(Ok(Lookup::Unknown)) => error(StatusCode::NOT_FOUND, format!("no transaction of card {id} yet")),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

enum Lookup {
    Found(serde_json::Value),
    Elsewhere(String),
    Unknown,
}

fn lookup(state: &AppState, id: &String) -> streams_core::Result<Lookup> {
    let streams = &state.streams;
    let metadata = streams.query_metadata_for_key::<String>(PROFILES_STORE, id)?;
    if let Some(host) = metadata.active_host.filter(|h| *h != state.endpoint) {
        return Ok(Lookup::Elsewhere(host));
    }
    let Some(profile) = streams
        .key_value_store::<String, CardProfile>(PROFILES_STORE)?
        .get(id)?
    else {
        return Ok(Lookup::Unknown);
    };
    let latest_ms = profile.state.last_timestamp_ms().unwrap_or(0);
    let windows = |store: &str, span_ms: i64| -> streams_core::Result<Vec<serde_json::Value>> {
        let found = streams
            .window_store::<String, Activity>(store)?
            .fetch(id, latest_ms - span_ms, latest_ms)?;
        Ok(found
            .into_iter()
            .map(|(start, activity)| json!({ "window_start_ms": start, "activity": activity.summary() }))
            .collect())
    };
    Ok(Lookup::Found(json!({
        "card_id": id,
        "partition": metadata.partition,
        "host": state.endpoint,
        "transactions": profile.state.count(),
        "mean_amount": profile.state.mean_amount(),
        "std_amount": profile.state.std_amount(),
        "home_country": profile.state.home_country(),
        "last_transaction_ms": profile.state.last_timestamp_ms(),
        "latest": profile.latest.map(|(txn_id, features)| json!({ "txn_id": txn_id, "features": features })),
        "activity_10m": windows(ACTIVITY_10M_STORE, 10 * 60_000)?,
        "activity_24h": windows(ACTIVITY_24H_STORE, 24 * 3_600_000)?,
    })))
}
