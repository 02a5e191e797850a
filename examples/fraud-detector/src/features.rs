//! The fraud model's input features: the reference definition.
//!
//! The training data (`fraud-training-data`), the model (`models/fraud-*.onnx`) and the streaming
//! topology that scores live transactions must all compute exactly these, in this order
//! ([`FEATURE_NAMES`]). Every feature of a transaction `x` of card `c` at event time `t` is computed
//! from card `c`'s transactions only, taken in event-time order (per card, timestamps are assumed
//! not to decrease; equal timestamps are fine):
//!
//! - the **1-hour window** `W` = `c`'s transactions with a timestamp in `[t − 1 h, t]` (both ends
//!   included: `t − timestamp ≤ 3 600 000 ms`), **including `x` itself**;
//! - the **history** `H` = all `c`'s transactions before `x` (not `x`).
//!
//! | # | name | definition |
//! |---|---|---|
//! | 0 | `amount` | `x.amount` |
//! | 1 | `log_amount` | `ln(1 + x.amount)` |
//! | 2 | `txn_count_1h` | number of transactions in `W` (≥ 1: `x` is in it) |
//! | 3 | `amount_sum_1h` | sum of the amounts in `W` (`x.amount` included) |
//! | 4 | `distinct_merchants_1h` | number of distinct `merchant_id`s in `W` (≥ 1) |
//! | 5 | `amount_zscore` | `(x.amount − mean(H)) / max(std(H), 1.0)` where `std` is the **population** standard deviation (divide by `n`) of the amounts in `H`; `0` if `H` has fewer than 2 transactions |
//! | 6 | `hours_since_prev` | `(t − timestamp of the last transaction in H) / 3 600 000`, capped at 24; `24` if `H` is empty |
//! | 7 | `foreign` | `1.0` if `x.country` differs from the card's home country, else `0.0`; home = the country of the card's first transaction (so a card's first transaction is never foreign) |
//!
//! Everything is computed in `f64` and rounded to `f32` once, at the end.
//!
//! [`FraudFeatures::compute`] is the definition written out directly over a history;
//! [`FeatureState`] computes the same incrementally, in constant memory per card (plus the
//! transactions of the last hour), which is what a streaming topology keeps per card.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::generator::Transaction;

/// Number of features.
pub const N_FEATURES: usize = 8;

/// The feature names, in the model's input order.
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "amount",
    "log_amount",
    "txn_count_1h",
    "amount_sum_1h",
    "distinct_merchants_1h",
    "amount_zscore",
    "hours_since_prev",
    "foreign",
];

/// Length of the window of `txn_count_1h`, `amount_sum_1h` and `distinct_merchants_1h`: one hour.
pub const WINDOW_MS: i64 = 3_600_000;

/// `amount_zscore` divides by at least this standard deviation.
pub const MIN_STD: f64 = 1.0;

/// `hours_since_prev` is capped at this (and is this for a card's first transaction).
pub const MAX_HOURS_SINCE_PREV: f64 = 24.0;

const HOUR_MS: f64 = 3_600_000.0;

/// The features of one transaction, by name; [`FraudFeatures::to_array`] gives the model's input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FraudFeatures {
    /// 0: the amount.
    pub amount: f32,
    /// 1: `ln(1 + amount)`.
    pub log_amount: f32,
    /// 2: the card's transactions in `[t − 1 h, t]`, this one included.
    pub txn_count_1h: f32,
    /// 3: their total amount, this one included.
    pub amount_sum_1h: f32,
    /// 4: their distinct merchants, this one's included.
    pub distinct_merchants_1h: f32,
    /// 5: `(amount − mean) / max(std, 1)` over all the card's previous amounts (population std);
    /// 0 with fewer than 2.
    pub amount_zscore: f32,
    /// 6: hours since the card's previous transaction, capped at 24; 24 if none.
    pub hours_since_prev: f32,
    /// 7: 1 if the country is not the card's home country (its first transaction's), else 0.
    pub foreign: f32,
}

impl FraudFeatures {
    /// The features of `current`, computed directly from the definition.
    ///
    /// `history` holds transactions that came before `current`, in event-time order; only those of
    /// `current.card_id` are used, so a whole stream's prefix can be passed.
    pub fn compute(history: &[Transaction], current: &Transaction) -> Self {
        let previous: Vec<&Transaction> = history.iter().filter(|t| t.card_id == current.card_id).collect();
        let t = current.timestamp_ms;
        let window: Vec<&Transaction> = previous
            .iter()
            .copied()
            .filter(|p| p.timestamp_ms <= t && t - p.timestamp_ms <= WINDOW_MS)
            .chain(std::iter::once(current))
            .collect();
        let mut merchants: Vec<&str> = window.iter().map(|w| w.merchant_id.as_str()).collect();
        merchants.sort_unstable();
        merchants.dedup();
        let amount_zscore = if previous.len() < 2 {
            0.0
        } else {
            let n = previous.len() as f64;
            let mean = previous.iter().map(|p| p.amount).sum::<f64>() / n;
            let variance = previous.iter().map(|p| (p.amount - mean).powi(2)).sum::<f64>() / n;
            (current.amount - mean) / variance.sqrt().max(MIN_STD)
        };
        let hours_since_prev = previous
            .last()
            .map_or(MAX_HOURS_SINCE_PREV, |p| hours_between(p.timestamp_ms, t));
        let home = previous
            .first()
            .map_or(current.country.as_str(), |p| p.country.as_str());
        Self {
            amount: current.amount as f32,
            log_amount: current.amount.ln_1p() as f32,
            txn_count_1h: window.len() as f32,
            amount_sum_1h: window.iter().map(|w| w.amount).sum::<f64>() as f32,
            distinct_merchants_1h: merchants.len() as f32,
            amount_zscore: amount_zscore as f32,
            hours_since_prev: hours_since_prev as f32,
            foreign: if current.country == home { 0.0 } else { 1.0 },
        }
    }

    /// The model's input row, in [`FEATURE_NAMES`] order.
    pub fn to_array(&self) -> [f32; N_FEATURES] {
        [
            self.amount,
            self.log_amount,
            self.txn_count_1h,
            self.amount_sum_1h,
            self.distinct_merchants_1h,
            self.amount_zscore,
            self.hours_since_prev,
            self.foreign,
        ]
    }
}

/// `(later − earlier)` in hours, within `[0, MAX_HOURS_SINCE_PREV]`.
fn hours_between(earlier_ms: i64, later_ms: i64) -> f64 {
    ((later_ms - earlier_ms) as f64 / HOUR_MS).clamp(0.0, MAX_HOURS_SINCE_PREV)
}

/// One card's state for computing its features incrementally: what a streaming topology keeps per
/// card. Feed it the card's transactions in event-time order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureState {
    /// Country of the card's first transaction.
    home: Option<String>,
    /// `(timestamp_ms, amount, merchant_id)` of the transactions of the last hour, oldest first.
    window: VecDeque<(i64, f64, String)>,
    /// Number of transactions seen.
    count: u64,
    /// Running mean of their amounts (Welford).
    mean: f64,
    /// Running sum of squared deviations from the mean (Welford).
    m2: f64,
    /// Timestamp of the latest transaction.
    prev_ts: Option<i64>,
}

impl FeatureState {
    /// The state of a card with no transaction yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of the card's transactions seen.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean amount of the card's transactions; 0 before the first.
    pub fn mean_amount(&self) -> f64 {
        self.mean
    }

    /// Population standard deviation of the card's amounts; 0 before the first.
    pub fn std_amount(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            (self.m2 / self.count as f64).sqrt()
        }
    }

    /// The card's home country (its first transaction's), if it has one.
    pub fn home_country(&self) -> Option<&str> {
        self.home.as_deref()
    }

    /// Event time of the card's latest transaction, if any.
    pub fn last_timestamp_ms(&self) -> Option<i64> {
        self.prev_ts
    }

    /// The features of `txn` (the card's next transaction), as the model's input row; then
    /// `txn` becomes part of the card's history.
    pub fn update(&mut self, txn: &Transaction) -> [f32; N_FEATURES] {
        self.update_features(txn).to_array()
    }

    /// Like [`FeatureState::update`], by name.
    pub fn update_features(&mut self, txn: &Transaction) -> FraudFeatures {
        let t = txn.timestamp_ms;
        while self.window.front().is_some_and(|(ts, _, _)| t - ts > WINDOW_MS) {
            self.window.pop_front();
        }
        self.window.push_back((t, txn.amount, txn.merchant_id.clone()));
        let in_window = || self.window.iter().filter(|(ts, _, _)| *ts <= t);
        let mut merchants: Vec<&str> = in_window().map(|(_, _, m)| m.as_str()).collect();
        merchants.sort_unstable();
        merchants.dedup();
        let amount_zscore = if self.count < 2 {
            0.0
        } else {
            let std = (self.m2 / self.count as f64).sqrt();
            (txn.amount - self.mean) / std.max(MIN_STD)
        };
        let hours_since_prev = self.prev_ts.map_or(MAX_HOURS_SINCE_PREV, |prev| hours_between(prev, t));
        let home = self.home.get_or_insert_with(|| txn.country.clone());
        let features = FraudFeatures {
            amount: txn.amount as f32,
            log_amount: txn.amount.ln_1p() as f32,
            txn_count_1h: in_window().count() as f32,
            amount_sum_1h: in_window().map(|(_, a, _)| a).sum::<f64>() as f32,
            distinct_merchants_1h: merchants.len() as f32,
            amount_zscore: amount_zscore as f32,
            hours_since_prev: hours_since_prev as f32,
            foreign: if txn.country == *home { 0.0 } else { 1.0 },
        };
        // Welford's update, then the rest of the history.
        self.count += 1;
        let delta = txn.amount - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (txn.amount - self.mean);
        self.prev_ts = Some(t);
        features
    }
}

/// Feature states of all cards: feed it a stream of transactions in event-time order.
#[derive(Debug, Clone, Default)]
pub struct FeatureExtractor {
    cards: HashMap<String, FeatureState>,
}

impl FeatureExtractor {
    /// An extractor that has seen no card.
    pub fn new() -> Self {
        Self::default()
    }

    /// The features of `txn`, from its card's history; then `txn` joins that history.
    pub fn update(&mut self, txn: &Transaction) -> [f32; N_FEATURES] {
        self.cards.entry(txn.card_id.clone()).or_default().update(txn)
    }

    /// Number of cards seen.
    pub fn cards(&self) -> usize {
        self.cards.len()
    }
}

#[cfg(test)]
mod tests {
    use example_data::check::{assert_features, assert_incremental_equals_direct, close};

    use super::*;
    use crate::generator::{GeneratorConfig, TransactionGenerator};

    const MIN: i64 = 60_000;

    fn txn(card: &str, merchant: &str, amount: f64, country: &str, minute: i64) -> Transaction {
        Transaction {
            txn_id: 0,
            card_id: card.to_string(),
            merchant_id: merchant.to_string(),
            merchant_category: "grocery".to_string(),
            amount,
            country: country.to_string(),
            timestamp_ms: 1_000_000_000_000 + minute * MIN,
        }
    }

    #[test]
    fn hand_computed_sequence() {
        let seq = [
            txn("a", "m1", 10.0, "DE", 0),
            txn("b", "m9", 999.0, "US", 1), // another card: ignored
            txn("a", "m2", 30.0, "DE", 30),
            txn("a", "m1", 20.0, "FR", 60), // exactly 1 h after the first: still in the window
            txn("a", "m3", 100.0, "DE", 61), // the first has left the window
            txn("a", "m3", 5.0, "DE", 61 + 48 * 60),
        ];
        let expected: [[f64; N_FEATURES]; 6] = [
            [10.0, 11f64.ln(), 1.0, 10.0, 1.0, 0.0, 24.0, 0.0],
            [999.0, 1000f64.ln(), 1.0, 999.0, 1.0, 0.0, 24.0, 0.0],
            // 1 previous: no z-score.
            [30.0, 31f64.ln(), 2.0, 40.0, 2.0, 0.0, 0.5, 0.0],
            // previous 10, 30: mean 20, std 10.
            [20.0, 21f64.ln(), 3.0, 60.0, 2.0, 0.0, 0.5, 1.0],
            // previous 10, 30, 20: mean 20, population std sqrt(200/3).
            [
                100.0,
                101f64.ln(),
                3.0,
                150.0,
                3.0,
                80.0 / (200f64 / 3.0).sqrt(),
                1.0 / 60.0,
                0.0,
            ],
            // previous 10, 30, 20, 100: mean 40, std sqrt((900+100+400+3600)/4) = sqrt(1250).
            [5.0, 6f64.ln(), 1.0, 5.0, 1.0, -35.0 / 1250f64.sqrt(), 24.0, 0.0],
        ];
        let mut extractor = FeatureExtractor::new();
        for (i, current) in seq.iter().enumerate() {
            assert_features(
                &FEATURE_NAMES,
                FraudFeatures::compute(&seq[..i], current).to_array(),
                expected[i],
            );
            assert_features(&FEATURE_NAMES, extractor.update(current), expected[i]);
        }
        assert_eq!(extractor.cards(), 2);
    }

    #[test]
    fn small_std_is_floored_at_one() {
        let seq = [
            txn("a", "m", 10.0, "DE", 0),
            txn("a", "m", 10.2, "DE", 100),
            txn("a", "m", 13.0, "DE", 200),
        ];
        let mut state = FeatureState::new();
        state.update(&seq[0]);
        state.update(&seq[1]);
        // mean 10.1, std 0.1 → floored to 1.
        let z = state.update(&seq[2])[5];
        assert!(close(z, 2.9), "{z}");
    }

    #[test]
    fn incremental_equals_direct_on_generated_data() {
        let txns: Vec<Transaction> = TransactionGenerator::new(GeneratorConfig {
            cards: 40,
            ..GeneratorConfig::with_seed(3)
        })
        .take(3_000)
        .map(|(t, _)| t)
        .collect();
        let mut extractor = FeatureExtractor::new();
        assert_incremental_equals_direct(
            &FEATURE_NAMES,
            &txns,
            |before, current| FraudFeatures::compute(before, current).to_array(),
            |current| extractor.update(current),
        );
    }
}
