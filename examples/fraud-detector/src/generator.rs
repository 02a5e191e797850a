//! A deterministic generator of card transactions with a ground-truth fraud label.
//!
//! A population of cards, each with a home country, a typical spend level, a handful of usual
//! merchants and a rate of purchases, pays in event-time order. Beside the everyday purchases it
//! produces:
//!
//! - **fraud** (about 2% of the transactions, see [`GeneratorConfig::fraud_episode_probability`]),
//!   in episodes that start some minutes to two days after one of the card's purchases:
//!   - *bursts*: 3–8 purchases a few minutes apart at merchants the card never used, with amounts
//!     well above the card's norm, often from a foreign country;
//!   - *card testing*: 2–4 tiny online purchases within minutes, then 1–3 large ones;
//!   - *single large purchases*: one purchase far above the card's norm, usually abroad;
//! - **hard negatives**, legitimate but fraud-like: trips abroad (days of purchases in another
//!   country at new merchants, after a travel booking at home), large one-off purchases
//!   (electronics, jewellery) and shopping sprees (a few purchases within the hour).
//!
//! The label is kept beside the record, never in it: [`TransactionGenerator`] yields
//! `(Transaction, bool)`, `true` for fraud. The same [`GeneratorConfig`] always yields the same
//! sequence.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use example_data::Rng;
use serde::{Deserialize, Serialize};

/// One card payment, as the payment network reports it (the Kafka value of the `transactions`
/// topic, keyed by `card_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// Unique, increasing in the order the generator yields transactions (from 1). Written as a
    /// signed 64-bit integer (Avro's `long`, Java's `long`), so at most `i64::MAX`.
    #[serde(serialize_with = "serialize_as_i64")]
    pub txn_id: u64,
    /// The card, e.g. `card-000042`.
    pub card_id: String,
    /// The merchant, e.g. `M01234`.
    pub merchant_id: String,
    /// The merchant's category, e.g. `grocery` (one of [`CATEGORIES`]).
    pub merchant_category: String,
    /// The amount in the card's currency, rounded to cents, > 0.
    pub amount: f64,
    /// Where the purchase was made, an ISO 3166 alpha-2 code such as `DE`.
    pub country: String,
    /// Event time: when the purchase was made, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

/// Writes an id as a signed 64-bit integer: Avro has no unsigned type (`apache-avro` would write a
/// `u64` as 8 fixed bytes), and ids never exceed `i64::MAX`.
fn serialize_as_i64<S: serde::Serializer>(id: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    let id = i64::try_from(*id).map_err(|_| serde::ser::Error::custom("an id above i64::MAX"))?;
    serializer.serialize_i64(id)
}

/// The merchant categories the generator uses.
pub const CATEGORIES: [&str; 12] = [
    "grocery",
    "restaurant",
    "fuel",
    "retail",
    "pharmacy",
    "online",
    "entertainment",
    "electronics",
    "jewelry",
    "travel",
    "hotel",
    "gift_cards",
];

/// Countries cards are issued in, and where they travel to or fraud comes from.
pub const COUNTRIES: [&str; 14] = [
    "US", "GB", "DE", "FR", "NL", "ES", "IT", "CA", "BR", "JP", "PL", "SE", "MX", "IN",
];

/// Relative price level of each category in [`CATEGORIES`] (multiplies a card's typical spend).
const CATEGORY_PRICE: [f64; 12] = [1.0, 0.8, 1.2, 1.5, 0.6, 1.3, 1.0, 4.0, 6.0, 6.0, 4.0, 2.0];

/// Categories of everyday purchases (indices into [`CATEGORIES`]).
const EVERYDAY: [usize; 7] = [0, 1, 2, 3, 4, 5, 6];
/// Categories of purchases made on a trip.
const ON_TRIP: [usize; 6] = [1, 3, 6, 9, 10, 2];
/// Categories of large legitimate one-off purchases.
const BIG_TICKET: [usize; 3] = [7, 8, 3];
/// Categories fraudsters favour (resellable goods).
const FRAUD_FAVOURED: [usize; 5] = [7, 8, 11, 5, 3];

/// 2026-01-01T00:00:00Z in milliseconds since the Unix epoch.
pub const DEFAULT_START_MS: i64 = 1_767_225_600_000;

const SECOND_MS: i64 = 1_000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// What the generator makes; [`GeneratorConfig::default`] is what the training data uses.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Seed of every random choice: the same config yields the same transactions.
    pub seed: u64,
    /// Number of cards in the population.
    pub cards: usize,
    /// Number of merchants in the world (cards' usual merchants and new ones are drawn from them).
    pub merchants: usize,
    /// Event time of the start of the data, ms since the Unix epoch.
    pub start_ms: i64,
    /// Probability that a card's everyday purchase is followed by a fraud episode on that card
    /// (at most one episode at a time per card, none before the card's 3rd purchase).
    /// 0.005 gives about 2% fraudulent transactions.
    pub fraud_episode_probability: f64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            cards: 1_000,
            merchants: 5_000,
            start_ms: DEFAULT_START_MS,
            fraud_episode_probability: 0.005,
        }
    }
}

impl GeneratorConfig {
    /// The default config with another seed.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }
}

/// A card's fixed traits and what it is doing now.
#[derive(Debug)]
struct Card {
    id: String,
    home: usize,
    /// Median amount of an everyday purchase of price level 1.
    spend: f64,
    /// Everyday purchases per day.
    rate_per_day: f64,
    /// Merchant indices this card usually pays at.
    usual: Vec<usize>,
    /// Purchases so far (legitimate and fraudulent).
    txns: u64,
    /// A trip abroad: (country, from, until) in event time.
    trip: Option<(usize, i64, i64)>,
    /// No new fraud episode starts before this event time (one episode at a time).
    fraud_until: i64,
}

/// A purchase decided in advance (fraud episodes, shopping sprees).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Planned {
    merchant: usize,
    category: usize,
    amount_cents: i64,
    country: usize,
    fraud: bool,
}

/// What happens at a scheduled instant.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EventKind {
    /// The card's next everyday purchase (which schedules the one after it).
    Everyday,
    /// A purchase planned earlier.
    Planned(Planned),
}

/// Ordered by time, then by scheduling order: a min-heap on this is event-time order, deterministic.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    timestamp_ms: i64,
    seq: u64,
    card: usize,
    kind: EventKind,
}

/// An endless, event-time ordered stream of `(transaction, is_fraud)`; take as many as needed.
#[derive(Debug)]
pub struct TransactionGenerator {
    config: GeneratorConfig,
    rng: Rng,
    cards: Vec<Card>,
    /// Category of each merchant (index into [`CATEGORIES`]).
    merchant_category: Vec<usize>,
    queue: BinaryHeap<Reverse<Event>>,
    seq: u64,
    next_txn_id: u64,
}

impl TransactionGenerator {
    /// A generator of the population described by `config`.
    ///
    /// # Panics
    /// If `config.cards` or `config.merchants` is 0.
    pub fn new(config: GeneratorConfig) -> Self {
        assert!(
            config.cards > 0 && config.merchants > 0,
            "need at least one card and one merchant"
        );
        let mut rng = Rng::new(config.seed);
        let merchant_category: Vec<usize> = (0..config.merchants).map(|_| rng.below(12) as usize).collect();
        let everyday_merchants: Vec<usize> = (0..config.merchants)
            .filter(|&m| EVERYDAY.contains(&merchant_category[m]))
            .collect();
        let mut cards = Vec::with_capacity(config.cards);
        for i in 0..config.cards {
            // Issuing countries are skewed: the first few are the big markets.
            let home = if rng.chance(0.6) {
                rng.below(4) as usize
            } else {
                rng.below(COUNTRIES.len() as u64) as usize
            };
            let n_usual = rng.int_in(3, 8) as usize;
            let mut usual = Vec::with_capacity(n_usual);
            while usual.len() < n_usual {
                let m = *rng.pick(&everyday_merchants);
                if !usual.contains(&m) {
                    usual.push(m);
                }
            }
            cards.push(Card {
                id: format!("card-{i:06}"),
                home,
                spend: rng.log_normal(30.0, 0.7),
                rate_per_day: rng.uniform(1.0, 8.0),
                usual,
                txns: 0,
                trip: None,
                fraud_until: i64::MIN,
            });
        }
        let mut generator = Self {
            rng,
            cards,
            merchant_category,
            queue: BinaryHeap::new(),
            seq: 0,
            next_txn_id: 1,
            config,
        };
        for card in 0..generator.cards.len() {
            let mean_gap = DAY_MS as f64 / generator.cards[card].rate_per_day;
            let first = generator.config.start_ms + generator.rng.uniform(0.0, mean_gap) as i64;
            generator.schedule(first, card, EventKind::Everyday);
        }
        generator
    }

    /// The config this generator was made with.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    fn schedule(&mut self, timestamp_ms: i64, card: usize, kind: EventKind) {
        self.seq += 1;
        self.queue.push(Reverse(Event {
            timestamp_ms,
            seq: self.seq,
            card,
            kind,
        }));
    }

    /// An amount of `median` × a log-normal factor, in cents, at least 50 cents.
    fn amount_cents(&mut self, median: f64, sigma: f64) -> i64 {
        ((self.rng.log_normal(median, sigma) * 100.0).round() as i64).max(50)
    }

    /// A merchant of one of `categories` (uniformly among them), usually not one the card uses.
    fn new_merchant(&mut self, categories: &[usize]) -> usize {
        let category = *self.rng.pick(categories);
        // Rejection sampling: merchant categories are uniform, so ~12 tries on average.
        loop {
            let m = self.rng.below(self.merchant_category.len() as u64) as usize;
            if self.merchant_category[m] == category {
                return m;
            }
        }
    }

    fn foreign_country(&mut self, home: usize) -> usize {
        loop {
            let c = self.rng.below(COUNTRIES.len() as u64) as usize;
            if c != home {
                return c;
            }
        }
    }

    /// A purchase at `merchant` (in the merchant's category).
    fn purchase(&self, merchant: usize, amount_cents: i64, country: usize, fraud: bool) -> Planned {
        Planned {
            merchant,
            category: self.merchant_category[merchant],
            amount_cents,
            country,
            fraud,
        }
    }

    /// A legitimate purchase at `merchant` in `country`, of `spend` × the price level of the
    /// merchant's category × `factor` × a log-normal factor of log-deviation `sigma`.
    fn legit(&mut self, merchant: usize, spend: f64, factor: f64, sigma: f64, country: usize) -> Planned {
        let price = CATEGORY_PRICE[self.merchant_category[merchant]];
        let amount_cents = self.amount_cents(spend * price * factor, sigma);
        self.purchase(merchant, amount_cents, country, false)
    }

    /// A fraudulent purchase in `country` at a new merchant of one of `categories`, of `median` × a
    /// log-normal factor of log-deviation `sigma`.
    fn fraud(&mut self, categories: &[usize], median: f64, sigma: f64, country: usize) -> Planned {
        let merchant = self.new_merchant(categories);
        let amount_cents = self.amount_cents(median, sigma);
        self.purchase(merchant, amount_cents, country, true)
    }

    /// Decides the card's everyday purchase at `now` (and plans what may follow it).
    fn everyday(&mut self, card: usize, now: i64) -> Planned {
        let (home, spend, txns) = (self.cards[card].home, self.cards[card].spend, self.cards[card].txns);
        let on_trip = match self.cards[card].trip {
            Some((country, from, until)) if now >= from && now < until => Some(country),
            Some((_, _, until)) if now >= until => {
                self.cards[card].trip = None;
                None
            }
            _ => None,
        };
        let planned = if let Some(country) = on_trip {
            if self.rng.chance(0.15) {
                // An online purchase at a usual merchant, from home as far as the network knows.
                let merchant = *self.rng.pick(&self.cards[card].usual);
                self.legit(merchant, spend, 1.0, 0.5, home)
            } else {
                let merchant = self.new_merchant(&ON_TRIP);
                self.legit(merchant, spend, 1.3, 0.6, country)
            }
        } else if txns >= 3 && self.cards[card].trip.is_none() && self.rng.chance(0.002) {
            // A trip booking at home; the trip starts 1–10 days later and lasts 2–14 days.
            let from = now + self.rng.int_in(DAY_MS, 10 * DAY_MS);
            let until = from + self.rng.int_in(2 * DAY_MS, 14 * DAY_MS);
            let destination = self.foreign_country(home);
            self.cards[card].trip = Some((destination, from, until));
            let merchant = self.new_merchant(&[9]);
            self.legit(merchant, spend, 1.5, 0.5, home)
        } else if txns >= 3 && self.rng.chance(0.01) {
            // A large legitimate one-off purchase at a new merchant.
            let merchant = self.new_merchant(&BIG_TICKET);
            self.legit(merchant, spend, 2.0, 0.5, home)
        } else {
            if txns >= 3 && self.rng.chance(0.01) {
                // A shopping spree: 2–4 more purchases within the next 5–50 minutes.
                let mut t = now;
                for _ in 0..self.rng.int_in(2, 4) {
                    t += self.rng.int_in(2 * MINUTE_MS, 15 * MINUTE_MS);
                    let merchant = if self.rng.chance(0.5) {
                        *self.rng.pick(&self.cards[card].usual)
                    } else {
                        self.new_merchant(&[3, 1, 6])
                    };
                    let planned = self.legit(merchant, spend, 1.2, 0.6, home);
                    self.schedule(t, card, EventKind::Planned(planned));
                }
            }
            let merchant = if self.rng.chance(0.85) {
                *self.rng.pick(&self.cards[card].usual)
            } else {
                self.new_merchant(&EVERYDAY)
            };
            self.legit(merchant, spend, 1.0, 0.5, home)
        };
        if txns >= 3 && now >= self.cards[card].fraud_until && self.rng.chance(self.config.fraud_episode_probability) {
            self.plan_fraud(card, now);
        }
        planned
    }

    /// Plans a fraud episode on `card`, starting 10 minutes to 2 days after `now`.
    fn plan_fraud(&mut self, card: usize, now: i64) {
        let (home, spend) = (self.cards[card].home, self.cards[card].spend);
        let mut t = now + self.rng.int_in(10 * MINUTE_MS, 2 * DAY_MS);
        let pattern = self.rng.next_f64();
        // One source country per episode.
        let foreign_share = if pattern < 0.55 {
            0.6
        } else if pattern < 0.75 {
            0.5
        } else {
            0.7
        };
        let country = if self.rng.chance(foreign_share) {
            self.foreign_country(home)
        } else {
            home
        };
        let mut plan: Vec<(i64, Planned)> = Vec::new();
        if pattern < 0.55 {
            // Burst: 3–8 purchases 20 s – 6 min apart, amounts ~5× the norm (1.5×–20× typical).
            for _ in 0..self.rng.int_in(3, 8) {
                plan.push((t, self.fraud(&FRAUD_FAVOURED, spend * 5.0, 0.8, country)));
                t += self.rng.int_in(20 * SECOND_MS, 6 * MINUTE_MS);
            }
        } else if pattern < 0.75 {
            // Card testing: tiny online purchases, then large ones.
            for _ in 0..self.rng.int_in(2, 4) {
                let merchant = self.new_merchant(&[5]);
                let amount_cents = self.rng.int_in(50, 500);
                plan.push((t, self.purchase(merchant, amount_cents, country, true)));
                t += self.rng.int_in(10 * SECOND_MS, 3 * MINUTE_MS);
            }
            t += self.rng.int_in(MINUTE_MS, 30 * MINUTE_MS);
            for _ in 0..self.rng.int_in(1, 3) {
                plan.push((t, self.fraud(&FRAUD_FAVOURED, spend * 8.0, 0.7, country)));
                t += self.rng.int_in(30 * SECOND_MS, 10 * MINUTE_MS);
            }
        } else {
            // One large purchase.
            plan.push((t, self.fraud(&[7, 8, 9], spend * 15.0, 0.6, country)));
        }
        self.cards[card].fraud_until = t + HOUR_MS;
        for (at, planned) in plan {
            self.schedule(at, card, EventKind::Planned(planned));
        }
    }
}

impl Iterator for TransactionGenerator {
    type Item = (Transaction, bool);

    fn next(&mut self) -> Option<Self::Item> {
        let Reverse(event) = self.queue.pop()?;
        let card = event.card;
        let planned = match event.kind {
            EventKind::Everyday => {
                let planned = self.everyday(card, event.timestamp_ms);
                let mean_gap = DAY_MS as f64 / self.cards[card].rate_per_day;
                // At least a minute between everyday purchases.
                let next = event.timestamp_ms + MINUTE_MS + self.rng.exponential(mean_gap) as i64;
                self.schedule(next, card, EventKind::Everyday);
                planned
            }
            EventKind::Planned(planned) => planned,
        };
        self.cards[card].txns += 1;
        let txn = Transaction {
            txn_id: self.next_txn_id,
            card_id: self.cards[card].id.clone(),
            merchant_id: format!("M{:05}", planned.merchant),
            merchant_category: CATEGORIES[planned.category].to_string(),
            amount: planned.amount_cents as f64 / 100.0,
            country: COUNTRIES[planned.country].to_string(),
            timestamp_ms: event.timestamp_ms,
        };
        self.next_txn_id += 1;
        Some((txn, planned.fraud))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn take(seed: u64, n: usize) -> Vec<(Transaction, bool)> {
        TransactionGenerator::new(GeneratorConfig::with_seed(seed))
            .take(n)
            .collect()
    }

    #[test]
    fn same_seed_same_transactions() {
        assert_eq!(take(7, 5_000), take(7, 5_000));
        assert_ne!(take(7, 1_000), take(8, 1_000));
    }

    #[test]
    fn event_time_order_and_increasing_ids() {
        let txns = take(1, 20_000);
        for pair in txns.windows(2) {
            assert!(pair[0].0.timestamp_ms <= pair[1].0.timestamp_ms);
            assert_eq!(pair[0].0.txn_id + 1, pair[1].0.txn_id);
        }
        assert!(
            txns.iter()
                .all(|(t, _)| t.amount > 0.0 && t.timestamp_ms >= DEFAULT_START_MS)
        );
    }

    #[test]
    fn fraud_rate_is_between_1_and_3_percent() {
        for seed in [1, 2, 3] {
            let txns = take(seed, 50_000);
            let rate = txns.iter().filter(|(_, fraud)| *fraud).count() as f64 / txns.len() as f64;
            assert!((0.01..=0.03).contains(&rate), "seed {seed}: fraud rate {rate}");
        }
    }

    #[test]
    fn first_transactions_of_a_card_are_legitimate_and_at_home() {
        // Home is defined by a card's first transaction; fraud and trips start after the 3rd.
        let mut seen: HashMap<String, (String, u32)> = HashMap::new();
        for (txn, fraud) in take(4, 30_000) {
            let entry = seen.entry(txn.card_id.clone()).or_insert((txn.country.clone(), 0));
            entry.1 += 1;
            if entry.1 <= 3 {
                assert!(!fraud);
                assert_eq!(entry.0, txn.country);
            }
        }
    }

    #[test]
    fn fraud_looks_different_from_legit_on_average() {
        let txns = take(5, 60_000);
        let foreign_share = |fraud: bool| {
            let mut homes: HashMap<&str, &str> = HashMap::new();
            let (mut n, mut foreign) = (0, 0);
            for (t, f) in &txns {
                let home = *homes.entry(&t.card_id).or_insert(&t.country);
                if *f == fraud {
                    n += 1;
                    foreign += usize::from(t.country != home);
                }
            }
            foreign as f64 / n as f64
        };
        let (fraud, legit) = (foreign_share(true), foreign_share(false));
        assert!(
            fraud > 0.4 && legit > 0.005 && legit < 0.2,
            "foreign share: fraud {fraud}, legit {legit}"
        );
    }
}
