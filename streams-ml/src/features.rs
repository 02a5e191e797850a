//! Streaming statistics for feature engineering, usable as aggregators in windowed aggregations.
//!
//! Every type here is a plain value with `add` (one observation) and, where the statistic allows it,
//! `merge` (combine two partial aggregates, e.g. session-window merges or per-partition pre-aggregation).
//! All of them derive `serde` so an aggregate can live in a state store and its changelog. The `f64`
//! aggregators also implement `Extend<f64>` and (except [`Ewma`]) `FromIterator<f64>`.
//!
//! | type | computes |
//! |---|---|
//! | [`Count`] | number of observations |
//! | [`Sum`] | compensated (Neumaier) sum |
//! | [`Welford`] | count, mean, variance, standard deviation, z-scores |
//! | [`MinMax`] | minimum, maximum, range |
//! | [`Ewma`] | exponentially weighted mean and variance, per observation or decayed by event time |
//! | [`DistinctCount`] | exact, then HyperLogLog, count of distinct values |
//! | [`Stats`] | [`Welford`] + [`MinMax`] + [`Sum`]: the common per-key window statistics |
//!
//! # Non-finite inputs
//!
//! All `f64` aggregators **ignore non-finite inputs** (NaN, +∞, −∞): such a value leaves the statistic
//! unchanged and is counted in `non_finite()`, so one bad record cannot poison a window's aggregate
//! while the data-quality problem stays visible. Finite inputs whose results overflow (a sum past
//! `f64::MAX`) follow IEEE 754 and can give infinite or NaN results; such an aggregate can no longer be
//! stored as JSON, which has no infinities. (With `serde_json`, enable its `float_roundtrip` feature
//! for bit-exact round trips of floats; without it, parsing can be 1 ULP off.)
//!
//! # Example
//!
//! ```
//! use std::collections::HashMap;
//! use streams_ml::features::{DistinctCount, Stats};
//!
//! // Per-card statistics of transaction amounts, plus the number of distinct merchants.
//! let mut per_card: HashMap<&str, (Stats, DistinctCount)> = HashMap::new();
//! for (card, merchant, amount) in [("c1", "shop", 10.0), ("c2", "bar", 3.0), ("c1", "cafe", 30.0)] {
//!     let (stats, merchants) = per_card.entry(card).or_default();
//!     stats.add(amount);
//!     merchants.add_str(merchant);
//! }
//!
//! let (stats, merchants) = &per_card["c1"];
//! assert_eq!(stats.mean(), Some(20.0));
//! assert_eq!(merchants.estimate(), 2);
//! // How unusual is a new amount of 50 for this card? (std_dev is 10)
//! assert_eq!(stats.welford().z_score(50.0, 1.0), Some(3.0));
//!
//! // ["count", "mean", "std_dev", "min", "max", "sum"], missing values as NaN.
//! assert_eq!(Stats::FEATURE_NAMES[1], "mean");
//! let mut features = stats.to_features(f32::NAN).to_vec();
//! features.push(merchants.estimate() as f32);
//! assert_eq!(features, [2.0, 20.0, 10.0, 10.0, 30.0, 40.0, 2.0]);
//! ```

use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};

/// Number of finite observations (see the [module docs](self) on non-finite inputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Count {
    count: u64,
    non_finite: u64,
}

impl Count {
    /// Counts `x` if it is finite; otherwise counts it in [`non_finite`](Self::non_finite) only.
    pub fn add(&mut self, x: f64) {
        if x.is_finite() {
            self.count += 1;
        } else {
            self.non_finite += 1;
        }
    }

    /// Adds the counts of `other` to this one.
    pub fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.non_finite += other.non_finite;
    }

    /// The number of finite observations (0 when empty).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The number of ignored non-finite observations.
    pub fn non_finite(&self) -> u64 {
        self.non_finite
    }
}

/// Sum of the finite observations, with Neumaier (improved Kahan) compensation: the rounding error
/// of every addition is kept in a second term, so the result is accurate even when large values
/// cancel (`[1, 1e100, 1, -1e100]` sums to 2, not 0). The empty sum is 0.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Sum {
    sum: f64,
    compensation: f64,
    non_finite: u64,
}

impl Sum {
    /// Adds `x` if it is finite; otherwise counts it in [`non_finite`](Self::non_finite) only.
    pub fn add(&mut self, x: f64) {
        if x.is_finite() {
            self.add_finite(x);
        } else {
            self.non_finite += 1;
        }
    }

    fn add_finite(&mut self, x: f64) {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() {
            (self.sum - t) + x
        } else {
            (x - t) + self.sum
        };
        self.sum = t;
    }

    /// Adds the sum of `other` (including its compensation term) to this one.
    pub fn merge(&mut self, other: &Self) {
        self.compensation += other.compensation;
        self.add_finite(other.sum);
        self.non_finite += other.non_finite;
    }

    /// The compensated sum; ±∞ (or NaN, if both signs overflowed) once the sum has overflowed.
    pub fn value(&self) -> f64 {
        if self.sum.is_finite() {
            self.sum + self.compensation
        } else {
            self.sum
        }
    }

    /// The number of ignored non-finite observations.
    pub fn non_finite(&self) -> u64 {
        self.non_finite
    }
}

/// Running count, mean and variance of the finite observations, with Welford's numerically stable
/// update and Chan et al.'s parallel combination for [`merge`](Self::merge).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Welford {
    count: u64,
    mean: f64,
    /// Sum of squared deviations from the mean.
    m2: f64,
    non_finite: u64,
}

impl Welford {
    /// Adds `x` if it is finite; otherwise counts it in [`non_finite`](Self::non_finite) only.
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() {
            self.non_finite += 1;
            return;
        }
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Removes an observation previously [`add`](Self::add)ed (the inverse update), e.g. for a sliding
    /// window that evicts its oldest value. A non-finite `x` decrements
    /// [`non_finite`](Self::non_finite); removing from an empty aggregate does nothing.
    ///
    /// Numerical caveat: unlike `add`, the inverse update is not stable. Rounding errors accumulate
    /// over many add/remove cycles, and cancellation is severe when the remaining observations have a
    /// small variance relative to the removed ones (the variance is clamped at 0). Removing a value
    /// that was never added silently corrupts the aggregate. Rebuild periodically if this matters.
    pub fn remove(&mut self, x: f64) {
        if !x.is_finite() {
            self.non_finite = self.non_finite.saturating_sub(1);
            return;
        }
        match self.count {
            0 => {}
            1 => (self.count, self.mean, self.m2) = (0, 0.0, 0.0),
            n => {
                let previous_mean = self.mean - (x - self.mean) / (n - 1) as f64;
                self.m2 = (self.m2 - (x - previous_mean) * (x - self.mean)).max(0.0);
                self.mean = previous_mean;
                self.count -= 1;
            }
        }
    }

    /// Combines `other` into this aggregate, as if all of its observations had been added here.
    pub fn merge(&mut self, other: &Self) {
        self.non_finite += other.non_finite;
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            (self.count, self.mean, self.m2) = (other.count, other.mean, other.m2);
            return;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * (nb / n);
        self.m2 += other.m2 + delta * delta * (na * nb / n);
        self.count += other.count;
    }

    /// The number of finite observations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The number of ignored non-finite observations.
    pub fn non_finite(&self) -> u64 {
        self.non_finite
    }

    /// The arithmetic mean; `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }

    /// The population variance (divided by `n`); `None` when empty, `Some(0.0)` for one observation.
    pub fn variance(&self) -> Option<f64> {
        (self.count > 0).then(|| self.m2 / self.count as f64)
    }

    /// The sample (unbiased) variance (divided by `n - 1`); `None` with fewer than 2 observations.
    pub fn sample_variance(&self) -> Option<f64> {
        (self.count > 1).then(|| self.m2 / (self.count - 1) as f64)
    }

    /// The population standard deviation, `sqrt(variance())`; `None` when empty.
    pub fn std_dev(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }

    /// The z-score of `x` against these observations: `(x - mean) / max(std_dev, min_std)`, with the
    /// population standard deviation. `min_std` keeps near-constant series from producing huge scores.
    ///
    /// `None` with fewer than 2 observations, when `x` is not finite, or when the denominator is not
    /// positive (constant observations and `min_std <= 0`). A NaN `min_std` is ignored.
    pub fn z_score(&self, x: f64, min_std: f64) -> Option<f64> {
        if self.count < 2 || !x.is_finite() {
            return None;
        }
        let std = self.std_dev()?.max(min_std);
        (std > 0.0).then(|| (x - self.mean) / std)
    }
}

/// Minimum and maximum of the finite observations.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct MinMax {
    bounds: Option<(f64, f64)>,
    non_finite: u64,
}

impl MinMax {
    /// Adds `x` if it is finite; otherwise counts it in [`non_finite`](Self::non_finite) only.
    pub fn add(&mut self, x: f64) {
        if x.is_finite() {
            self.include(x, x);
        } else {
            self.non_finite += 1;
        }
    }

    fn include(&mut self, lo: f64, hi: f64) {
        self.bounds = Some(self.bounds.map_or((lo, hi), |(min, max)| (min.min(lo), max.max(hi))));
    }

    /// Combines `other` into this aggregate.
    pub fn merge(&mut self, other: &Self) {
        if let Some((lo, hi)) = other.bounds {
            self.include(lo, hi);
        }
        self.non_finite += other.non_finite;
    }

    /// The smallest observation; `None` when empty.
    pub fn min(&self) -> Option<f64> {
        self.bounds.map(|(min, _)| min)
    }

    /// The largest observation; `None` when empty.
    pub fn max(&self) -> Option<f64> {
        self.bounds.map(|(_, max)| max)
    }

    /// `max - min`; `None` when empty, 0 for one observation.
    pub fn range(&self) -> Option<f64> {
        self.bounds.map(|(min, max)| max - min)
    }

    /// The number of ignored non-finite observations.
    pub fn non_finite(&self) -> u64 {
        self.non_finite
    }
}

/// How an [`Ewma`] forgets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Decay {
    Alpha(f64),
    HalfLifeMs(i64),
}

impl Decay {
    fn validated(self) -> Result<Self, &'static str> {
        match self {
            Decay::Alpha(alpha) if !(alpha > 0.0 && alpha <= 1.0) => Err("Ewma alpha must be in (0, 1]"),
            Decay::HalfLifeMs(half_life) if half_life <= 0 => Err("Ewma half-life must be positive"),
            valid => Ok(valid),
        }
    }

    fn deserialize_validated<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::deserialize(deserializer)?.validated().map_err(D::Error::custom)
    }
}

/// Exponentially weighted moving average (and variance) of the finite observations.
///
/// - [`with_alpha`](Self::with_alpha): per observation, `mean += alpha * (x - mean)`, the first
///   observation initialising the mean (no bias correction); timestamps are ignored.
/// - [`with_half_life_ms`](Self::with_half_life_ms): decayed by event time. The value is the weighted
///   mean of all observations, an observation's weight halving every `half_life_ms` of event time
///   after the latest timestamp seen. Observations with the same timestamp weigh the same; an
///   out-of-order observation (timestamp before the latest seen) is treated as if it arrived at the
///   latest timestamp (`dt` is taken as 0: the clock never goes back), and [`add`](Self::add) without
///   a timestamp likewise adds at the latest timestamp seen, without decay.
///
/// The variance is the exponentially weighted population variance with the same weights (0 after
/// one observation). Being order-dependent, an `Ewma` has no `merge`, and no meaningful `Default`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ewma {
    #[serde(deserialize_with = "Decay::deserialize_validated")]
    decay: Decay,
    count: u64,
    mean: f64,
    variance: f64,
    /// Half-life mode: the total decayed weight of the observations so far.
    weight: f64,
    last_timestamp_ms: Option<i64>,
    non_finite: u64,
}

impl Ewma {
    fn new(decay: Decay) -> Self {
        let decay = decay.validated().unwrap_or_else(|e| panic!("{e}"));
        Self {
            decay,
            count: 0,
            mean: 0.0,
            variance: 0.0,
            weight: 0.0,
            last_timestamp_ms: None,
            non_finite: 0,
        }
    }

    /// An average giving each new observation weight `alpha` (larger forgets faster).
    ///
    /// # Panics
    ///
    /// Unless `0 < alpha <= 1` (so also on NaN).
    pub fn with_alpha(alpha: f64) -> Self {
        Self::new(Decay::Alpha(alpha))
    }

    /// An average whose observations' weights halve every `half_life_ms` of event time; feed it with
    /// [`add_at`](Self::add_at).
    ///
    /// # Panics
    ///
    /// Unless `half_life_ms > 0`.
    pub fn with_half_life_ms(half_life_ms: i64) -> Self {
        Self::new(Decay::HalfLifeMs(half_life_ms))
    }

    /// Adds `x` without a timestamp (in half-life mode: at the latest timestamp seen, without decay).
    /// A non-finite `x` is only counted in [`non_finite`](Self::non_finite).
    pub fn add(&mut self, x: f64) {
        self.observe(x, None);
    }

    /// Adds `x` observed at event time `timestamp_ms` (ignored in alpha mode except for
    /// [`last_timestamp_ms`](Self::last_timestamp_ms)). A non-finite `x` is only counted in
    /// [`non_finite`](Self::non_finite), and its timestamp is ignored.
    pub fn add_at(&mut self, x: f64, timestamp_ms: i64) {
        self.observe(x, Some(timestamp_ms));
    }

    fn observe(&mut self, x: f64, timestamp_ms: Option<i64>) {
        if !x.is_finite() {
            self.non_finite += 1;
            return;
        }
        let alpha = match self.decay {
            Decay::Alpha(alpha) => alpha,
            Decay::HalfLifeMs(half_life) => {
                let dt = match (self.last_timestamp_ms, timestamp_ms) {
                    (Some(last), Some(now)) => now.saturating_sub(last).max(0),
                    _ => 0,
                };
                self.weight = self.weight * 0.5f64.powf(dt as f64 / half_life as f64) + 1.0;
                1.0 / self.weight
            }
        };
        if let Some(now) = timestamp_ms {
            self.last_timestamp_ms = Some(self.last_timestamp_ms.map_or(now, |last| last.max(now)));
        }
        if self.count == 0 {
            (self.mean, self.variance) = (x, 0.0);
        } else {
            let diff = x - self.mean;
            let increment = alpha * diff;
            self.mean += increment;
            self.variance = (1.0 - alpha) * (self.variance + diff * increment);
        }
        self.count += 1;
    }

    /// The weighted mean; `None` before the first finite observation.
    pub fn value(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }

    /// The exponentially weighted population variance; `None` when empty, 0 after one observation.
    pub fn variance(&self) -> Option<f64> {
        (self.count > 0).then_some(self.variance)
    }

    /// `sqrt(variance())`; `None` when empty.
    pub fn std_dev(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }

    /// The number of finite observations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The number of ignored non-finite observations.
    pub fn non_finite(&self) -> u64 {
        self.non_finite
    }

    /// The latest timestamp given to [`add_at`](Self::add_at) with a finite value, if any.
    pub fn last_timestamp_ms(&self) -> Option<i64> {
        self.last_timestamp_ms
    }
}

/// The stable 64-bit hash [`DistinctCount`] uses: FNV-1a 64 of `bytes`, then MurmurHash3's `fmix64`
/// finalizer (FNV-1a alone mixes its high bits poorly; HyperLogLog needs all 64 bits uniform).
///
/// Unlike `std::hash`, its output is fixed forever: it is part of the persisted format of
/// `DistinctCount`, so changing it would corrupt stored sketches.
pub fn stable_hash64(bytes: &[u8]) -> u64 {
    fmix64(fnv1a64(bytes))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// HyperLogLog precision: 2^12 = 4096 one-byte registers, a standard error of 1.04/64 ≈ 1.6%.
const HLL_PRECISION: u32 = 12;
const HLL_REGISTERS: usize = 1 << HLL_PRECISION;
/// The largest rank: the 52 hash bits below the register index all zero.
const HLL_MAX_RANK: u8 = (64 - HLL_PRECISION + 1) as u8;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Sketch {
    /// Sorted, deduplicated hashes.
    Exact(#[serde(deserialize_with = "deserialize_hashes")] Vec<u64>),
    /// `HLL_REGISTERS` registers, each the largest rank seen.
    Hll(#[serde(deserialize_with = "deserialize_registers")] Vec<u8>),
}

fn deserialize_hashes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
    let hashes = Vec::<u64>::deserialize(deserializer)?;
    if hashes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(D::Error::custom("DistinctCount hashes must be sorted and distinct"));
    }
    Ok(hashes)
}

fn deserialize_registers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let registers = Vec::<u8>::deserialize(deserializer)?;
    if registers.len() != HLL_REGISTERS || registers.iter().any(|&r| r > HLL_MAX_RANK) {
        return Err(D::Error::custom(
            "DistinctCount needs 4096 HyperLogLog registers of at most 53",
        ));
    }
    Ok(registers)
}

fn hll_insert(registers: &mut [u8], hash: u64) {
    let index = (hash >> (64 - HLL_PRECISION)) as usize;
    let rank = ((hash << HLL_PRECISION).leading_zeros() + 1).min(u32::from(HLL_MAX_RANK)) as u8;
    registers[index] = registers[index].max(rank);
}

/// Count of distinct values: exact while at most `threshold` distinct values have been seen (a sorted
/// set of their 64-bit [`stable_hash64`] hashes, 8 bytes each), then a HyperLogLog sketch (precision
/// 12: 4096 bytes, about 1.6% standard error), whose estimate uses linear counting in the small range.
///
/// Values are hashed with [`stable_hash64`]; two values are "the same" when their bytes are
/// ([`add_u64`](Self::add_u64) hashes the little-endian bytes, so it agrees with
/// [`add_bytes`](Self::add_bytes) on them). Hash collisions (negligible with 64 bits) undercount.
/// [`Default`] uses a threshold of [`DEFAULT_EXACT_THRESHOLD`](Self::DEFAULT_EXACT_THRESHOLD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistinctCount {
    threshold: usize,
    sketch: Sketch,
}

impl Default for DistinctCount {
    fn default() -> Self {
        Self::with_threshold(Self::DEFAULT_EXACT_THRESHOLD)
    }
}

impl DistinctCount {
    /// The default number of distinct values counted exactly.
    pub const DEFAULT_EXACT_THRESHOLD: usize = 64;

    /// A counter that is exact up to `threshold` distinct values (0: HyperLogLog from the start).
    /// Above 512 the exact set takes more memory than the 4096-byte sketch.
    pub fn with_threshold(threshold: usize) -> Self {
        let mut count = Self {
            threshold,
            sketch: Sketch::Exact(Vec::new()),
        };
        if threshold == 0 {
            count.registers();
        }
        count
    }

    /// Adds a value given by its bytes.
    pub fn add_bytes(&mut self, bytes: &[u8]) {
        self.insert_hash(stable_hash64(bytes));
    }

    /// Adds a string (its UTF-8 bytes).
    pub fn add_str(&mut self, value: &str) {
        self.add_bytes(value.as_bytes());
    }

    /// Adds an integer (its little-endian bytes).
    pub fn add_u64(&mut self, value: u64) {
        self.add_bytes(&value.to_le_bytes());
    }

    fn insert_hash(&mut self, hash: u64) {
        match &mut self.sketch {
            Sketch::Exact(hashes) => {
                if let Err(at) = hashes.binary_search(&hash) {
                    hashes.insert(at, hash);
                    if hashes.len() > self.threshold {
                        self.registers();
                    }
                }
            }
            Sketch::Hll(registers) => hll_insert(registers, hash),
        }
    }

    /// The HyperLogLog registers, switching to HyperLogLog first if still exact.
    fn registers(&mut self) -> &mut [u8] {
        if let Sketch::Exact(hashes) = &self.sketch {
            let mut registers = vec![0; HLL_REGISTERS];
            hashes.iter().for_each(|&hash| hll_insert(&mut registers, hash));
            self.sketch = Sketch::Hll(registers);
        }
        match &mut self.sketch {
            Sketch::Hll(registers) => registers,
            Sketch::Exact(_) => unreachable!("switched to HyperLogLog above"),
        }
    }

    /// Combines `other` into this counter: afterwards it counts the union of both value sets. Exact
    /// while the union stays within this counter's threshold; the result is the same as adding all
    /// values to one counter.
    pub fn merge(&mut self, other: &Self) {
        match &other.sketch {
            Sketch::Exact(hashes) => hashes.iter().for_each(|&hash| self.insert_hash(hash)),
            Sketch::Hll(theirs) => {
                self.registers()
                    .iter_mut()
                    .zip(theirs)
                    .for_each(|(ours, &theirs)| *ours = (*ours).max(theirs));
            }
        }
    }

    /// Whether the count is still exact (at most `threshold` distinct values seen).
    pub fn is_exact(&self) -> bool {
        matches!(self.sketch, Sketch::Exact(_))
    }

    /// The number of distinct values: exact in exact mode (0 when empty), else the HyperLogLog
    /// estimate (linear counting while the raw estimate is at most 2.5 × 4096 and a register is 0).
    pub fn estimate(&self) -> u64 {
        match &self.sketch {
            Sketch::Exact(hashes) => hashes.len() as u64,
            Sketch::Hll(registers) => {
                let m = HLL_REGISTERS as f64;
                let inverse_sum: f64 = registers.iter().map(|&r| (-f64::from(r)).exp2()).sum();
                let raw = 0.7213 / (1.0 + 1.079 / m) * m * m / inverse_sum;
                let zeros = registers.iter().filter(|&&r| r == 0).count();
                let estimate = if raw <= 2.5 * m && zeros > 0 {
                    m * (m / zeros as f64).ln()
                } else {
                    raw
                };
                estimate.round() as u64
            }
        }
    }
}

/// The common per-key window statistics: a [`Welford`], a [`MinMax`] and a [`Sum`] fed the same
/// observations (non-finite ones ignored and counted, see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Stats {
    welford: Welford,
    min_max: MinMax,
    sum: Sum,
}

impl Stats {
    /// The names of the [`to_features`](Self::to_features) entries, in order.
    pub const FEATURE_NAMES: [&'static str; 6] = ["count", "mean", "std_dev", "min", "max", "sum"];

    /// Adds `x` to every statistic (a non-finite `x` is only counted in
    /// [`non_finite`](Self::non_finite)).
    pub fn add(&mut self, x: f64) {
        self.welford.add(x);
        self.min_max.add(x);
        self.sum.add(x);
    }

    /// Combines `other` into this aggregate.
    pub fn merge(&mut self, other: &Self) {
        self.welford.merge(&other.welford);
        self.min_max.merge(&other.min_max);
        self.sum.merge(&other.sum);
    }

    /// The number of finite observations.
    pub fn count(&self) -> u64 {
        self.welford.count()
    }

    /// The number of ignored non-finite observations.
    pub fn non_finite(&self) -> u64 {
        self.welford.non_finite()
    }

    /// See [`Welford::mean`].
    pub fn mean(&self) -> Option<f64> {
        self.welford.mean()
    }

    /// See [`Welford::variance`] (population).
    pub fn variance(&self) -> Option<f64> {
        self.welford.variance()
    }

    /// See [`Welford::std_dev`] (population).
    pub fn std_dev(&self) -> Option<f64> {
        self.welford.std_dev()
    }

    /// See [`MinMax::min`].
    pub fn min(&self) -> Option<f64> {
        self.min_max.min()
    }

    /// See [`MinMax::max`].
    pub fn max(&self) -> Option<f64> {
        self.min_max.max()
    }

    /// See [`Sum::value`] (0 when empty).
    pub fn sum(&self) -> f64 {
        self.sum.value()
    }

    /// The mean/variance part, e.g. for [`Welford::z_score`].
    pub fn welford(&self) -> &Welford {
        &self.welford
    }

    /// The min/max part, e.g. for [`MinMax::range`].
    pub fn min_max(&self) -> &MinMax {
        &self.min_max
    }

    /// A model input: `[count, mean, std_dev, min, max, sum]` (see
    /// [`FEATURE_NAMES`](Self::FEATURE_NAMES)) as `f32`, with `missing` for the statistics that are
    /// undefined on no observations (mean, std_dev, min, max; count and sum are then 0). Pass NaN for
    /// models that handle missing values natively (tree ensembles), or a neutral value otherwise.
    /// `f32` is exact for counts up to 2^24.
    pub fn to_features(&self, missing: f32) -> [f32; 6] {
        let f = |v: Option<f64>| v.map_or(missing, |v| v as f32);
        [
            self.count() as f32,
            f(self.mean()),
            f(self.std_dev()),
            f(self.min()),
            f(self.max()),
            self.sum() as f32,
        ]
    }
}

macro_rules! impl_extend {
    ($($t:ty),*) => {$(
        impl Extend<f64> for $t {
            fn extend<I: IntoIterator<Item = f64>>(&mut self, iter: I) {
                iter.into_iter().for_each(|x| self.add(x));
            }
        }
    )*};
}

macro_rules! impl_from_iter {
    ($($t:ty),*) => {$(
        impl FromIterator<f64> for $t {
            fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
                let mut aggregate = Self::default();
                aggregate.extend(iter);
                aggregate
            }
        }
    )*};
}

impl_extend!(Count, Sum, Welford, MinMax, Ewma, Stats);
impl_from_iter!(Count, Sum, Welford, MinMax, Stats);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;
    use std::fmt::Debug;

    const DATA: [f64; 8] = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];

    /// `|a - b| <= rel * max(|a|, |b|, floor)`: relative, except near 0 where `floor` (derived from the
    /// data's magnitude) sets the scale.
    fn close(a: f64, b: f64, rel: f64, floor: f64) -> bool {
        (a - b).abs() <= rel * a.abs().max(b.abs()).max(floor)
    }

    fn max_abs(xs: &[f64]) -> f64 {
        xs.iter().fold(1e-300, |m, x| m.max(x.abs()))
    }

    fn two_pass(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        (mean, xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n)
    }

    fn assert_welford_close(actual: &Welford, expected_mean: f64, expected_var: f64, xs: &[f64]) {
        let scale = max_abs(xs);
        let (mean, var) = (actual.mean().unwrap(), actual.variance().unwrap());
        assert!(
            close(mean, expected_mean, 1e-9, 1e-3 * scale),
            "mean {mean} vs {expected_mean}"
        );
        assert!(
            close(var, expected_var, 1e-9, 1e-3 * scale * scale),
            "variance {var} vs {expected_var}"
        );
    }

    /// serde_json without its `float_roundtrip` feature may parse a float 1 ULP off, so floats are
    /// compared within 2 ULPs; integers and options exactly.
    fn assert_round_trip<T: Serialize + DeserializeOwned + Debug>(value: &T, parts: fn(&T) -> (Vec<u64>, Vec<f64>)) {
        let json = serde_json::to_string(value).unwrap();
        let back: T = serde_json::from_str(&json).unwrap();
        let ((ints, floats), (back_ints, back_floats)) = (parts(value), parts(&back));
        assert_eq!(ints, back_ints, "{json}");
        assert_eq!(floats.len(), back_floats.len());
        for (a, b) in floats.into_iter().zip(back_floats) {
            assert!(
                a == b || (a.to_bits() as i64 - b.to_bits() as i64).abs() <= 2,
                "{a} vs {b} in {json}"
            );
        }
    }

    fn count_parts(c: &Count) -> (Vec<u64>, Vec<f64>) {
        (vec![c.count, c.non_finite], vec![])
    }
    fn sum_parts(s: &Sum) -> (Vec<u64>, Vec<f64>) {
        (vec![s.non_finite], vec![s.sum, s.compensation])
    }
    fn welford_parts(w: &Welford) -> (Vec<u64>, Vec<f64>) {
        (vec![w.count, w.non_finite], vec![w.mean, w.m2])
    }
    fn min_max_parts(m: &MinMax) -> (Vec<u64>, Vec<f64>) {
        let (lo, hi) = m.bounds.unzip();
        (
            vec![m.non_finite, lo.is_some().into()],
            lo.into_iter().chain(hi).collect(),
        )
    }
    fn ewma_parts(e: &Ewma) -> (Vec<u64>, Vec<f64>) {
        let (decay_kind, decay) = match e.decay {
            Decay::Alpha(a) => (0, a),
            Decay::HalfLifeMs(h) => (1, h as f64),
        };
        let last = e.last_timestamp_ms.map_or(u64::MAX, |t| t as u64);
        (
            vec![decay_kind, e.count, e.non_finite, last],
            vec![decay, e.mean, e.variance, e.weight],
        )
    }
    fn stats_parts(s: &Stats) -> (Vec<u64>, Vec<f64>) {
        let parts = [welford_parts(&s.welford), min_max_parts(&s.min_max), sum_parts(&s.sum)];
        (
            parts.iter().flat_map(|p| p.0.clone()).collect(),
            parts.iter().flat_map(|p| p.1.clone()).collect(),
        )
    }

    #[test]
    fn count_counts_finite_and_non_finite_separately() {
        let mut c: Count = [1.0, f64::NAN, -3.0, f64::INFINITY].into_iter().collect();
        assert_eq!((c.count(), c.non_finite()), (2, 2));
        c.merge(&[0.0, f64::NEG_INFINITY].into_iter().collect());
        assert_eq!((c.count(), c.non_finite()), (3, 3));
        assert_eq!(Count::default().count(), 0);
    }

    #[test]
    fn sum_is_compensated() {
        assert_eq!(Sum::default().value(), 0.0);
        let naive: f64 = [1.0, 1e100, 1.0, -1e100].iter().sum();
        assert_eq!(naive, 0.0);
        assert_eq!([1.0, 1e100, 1.0, -1e100].into_iter().collect::<Sum>().value(), 2.0);
        assert_eq!(std::iter::repeat_n(0.1, 10).collect::<Sum>().value(), 1.0);
        let mut s: Sum = [1.0, 1e100, f64::NAN].into_iter().collect();
        s.merge(&[1.0, -1e100].into_iter().collect());
        assert_eq!((s.value(), s.non_finite()), (2.0, 1));
    }

    #[test]
    fn sum_overflow_is_infinite_not_nan() {
        let s: Sum = [f64::MAX, f64::MAX].into_iter().collect();
        assert_eq!(s.value(), f64::INFINITY);
    }

    #[test]
    fn welford_known_values() {
        let w: Welford = DATA.into_iter().collect();
        assert_eq!(w.count(), 8);
        assert_eq!(w.mean(), Some(5.0));
        assert_eq!(w.variance(), Some(4.0));
        assert_eq!(w.std_dev(), Some(2.0));
        assert_eq!(w.sample_variance(), Some(32.0 / 7.0));
    }

    #[test]
    fn welford_empty_and_single() {
        let mut w = Welford::default();
        assert_eq!(
            (w.mean(), w.variance(), w.sample_variance(), w.std_dev()),
            (None, None, None, None)
        );
        assert_eq!(w.z_score(1.0, 1.0), None);
        w.add(3.0);
        assert_eq!(
            (w.mean(), w.variance(), w.sample_variance()),
            (Some(3.0), Some(0.0), None)
        );
        assert_eq!(w.z_score(4.0, 1.0), None, "fewer than 2 observations");
    }

    #[test]
    fn welford_ignores_non_finite() {
        let w: Welford = [f64::NAN, 2.0, f64::INFINITY, 4.0, f64::NEG_INFINITY]
            .into_iter()
            .collect();
        assert_eq!(
            (w.count(), w.non_finite(), w.mean(), w.variance()),
            (2, 3, Some(3.0), Some(1.0))
        );
    }

    #[test]
    fn z_score_uses_population_std_and_min_std() {
        let w: Welford = DATA.into_iter().collect();
        assert_eq!(w.z_score(9.0, 0.0), Some(2.0));
        assert_eq!(w.z_score(1.0, 1.0), Some(-2.0));
        assert_eq!(w.z_score(9.0, 4.0), Some(1.0), "min_std above std");
        assert_eq!(w.z_score(9.0, f64::NAN), Some(2.0), "NaN min_std ignored");
        assert_eq!(w.z_score(f64::NAN, 0.0), None);
        let constant: Welford = [3.0; 4].into_iter().collect();
        assert_eq!(constant.z_score(5.0, 0.0), None, "zero denominator");
        assert_eq!(constant.z_score(5.0, 0.5), Some(4.0));
    }

    #[test]
    fn welford_remove_inverts_add() {
        let mut w: Welford = (1..=10).map(f64::from).collect();
        for x in [1.0, 2.0, 3.0, f64::NAN] {
            w.remove(x);
        }
        let expected: Welford = (4..=10).map(f64::from).collect();
        assert_eq!(w.count(), 7);
        assert_welford_close(&w, expected.mean().unwrap(), expected.variance().unwrap(), &[10.0]);
        assert_eq!(w.non_finite(), 0, "saturates at 0");
        for x in 4..=10 {
            w.remove(f64::from(x));
        }
        assert_eq!(w, Welford::default());
        w.remove(1.0);
        assert_eq!(w, Welford::default(), "removing from empty does nothing");
    }

    #[test]
    fn welford_merge_with_empty_sides() {
        let full: Welford = DATA.into_iter().collect();
        let mut empty = Welford::default();
        empty.merge(&full);
        assert_eq!(empty, full);
        let mut w = full;
        w.merge(&Welford::default());
        assert_eq!(w, full);
    }

    #[test]
    fn min_max_known_values() {
        let mut m = MinMax::default();
        assert_eq!((m.min(), m.max(), m.range()), (None, None, None));
        m.extend([3.0, f64::NAN, -2.0, 7.5, f64::NEG_INFINITY]);
        assert_eq!(
            (m.min(), m.max(), m.range(), m.non_finite()),
            (Some(-2.0), Some(7.5), Some(9.5), 2)
        );
        m.merge(&[10.0].into_iter().collect());
        m.merge(&MinMax::default());
        assert_eq!((m.min(), m.max()), (Some(-2.0), Some(10.0)));
        assert_eq!([4.0].into_iter().collect::<MinMax>().range(), Some(0.0));
    }

    #[test]
    fn ewma_alpha_known_values() {
        let mut e = Ewma::with_alpha(0.5);
        assert_eq!((e.value(), e.variance()), (None, None));
        e.add(1.0);
        assert_eq!((e.value(), e.variance()), (Some(1.0), Some(0.0)));
        e.add(f64::NAN);
        e.add_at(3.0, 123);
        assert_eq!(
            (e.value(), e.variance(), e.std_dev()),
            (Some(2.0), Some(1.0), Some(1.0))
        );
        assert_eq!((e.count(), e.non_finite(), e.last_timestamp_ms()), (2, 1, Some(123)));
        let mut one = Ewma::with_alpha(1.0);
        one.extend([5.0, 8.0]);
        assert_eq!((one.value(), one.variance()), (Some(8.0), Some(0.0)));
    }

    #[test]
    fn ewma_rejects_invalid_parameters() {
        for alpha in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            assert!(
                std::panic::catch_unwind(|| Ewma::with_alpha(alpha)).is_err(),
                "alpha {alpha}"
            );
        }
        for half_life in [0, -1000] {
            assert!(std::panic::catch_unwind(|| Ewma::with_half_life_ms(half_life)).is_err());
        }
        let json = serde_json::to_string(&Ewma::with_alpha(0.5))
            .unwrap()
            .replace("0.5", "2.0");
        assert!(
            serde_json::from_str::<Ewma>(&json)
                .unwrap_err()
                .to_string()
                .contains("alpha")
        );
    }

    #[test]
    fn ewma_half_life_decays_by_event_time() {
        let mut e = Ewma::with_half_life_ms(1000);
        e.add_at(0.0, 5_000);
        e.add_at(3.0, 6_000); // weights 0.5 and 1
        assert_eq!(e.value(), Some(2.0));
        assert!(close(e.variance().unwrap(), (0.5 * 4.0 + 1.0) / 1.5, 1e-12, 0.0));
        e.add_at(5.0, 6_000); // same time: weights 0.5, 1, 1
        assert!(close(e.value().unwrap(), 8.0 / 2.5, 1e-12, 0.0));
        // A long gap forgets (almost) everything.
        e.add_at(-1.0, 6_000 + 100_000);
        assert!(close(e.value().unwrap(), -1.0, 1e-12, 0.0));
    }

    #[test]
    fn ewma_out_of_order_is_added_at_latest_time() {
        let mut e = Ewma::with_half_life_ms(1000);
        e.add_at(0.0, 10_000);
        e.add_at(3.0, 2_000); // late: dt treated as 0
        assert_eq!((e.value(), e.last_timestamp_ms()), (Some(1.5), Some(10_000)));
        e.add(6.0); // no timestamp: also at the latest time
        assert_eq!(e.value(), Some(3.0));
        e.add_at(f64::NAN, 99_000);
        assert_eq!(
            e.last_timestamp_ms(),
            Some(10_000),
            "non-finite value's timestamp ignored"
        );
        e.add_at(9.0, 11_000); // the three earlier observations weigh 0.5 each
        assert!(close(e.value().unwrap(), (0.5 * 9.0 + 9.0) / 2.5, 1e-12, 0.0));
        let mut extreme = Ewma::with_half_life_ms(1);
        extreme.add_at(1.0, i64::MIN);
        extreme.add_at(2.0, i64::MAX);
        assert_eq!(extreme.value(), Some(2.0));
    }

    #[test]
    fn stable_hash_is_pinned() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fmix64(0), 0);
        // The persisted format: these values must never change.
        assert_eq!(stable_hash64(b""), 0xefd0_1f60_ba99_2926);
        assert_eq!(stable_hash64(b"foobar"), 0x2c22_1949_22d1_672b);
    }

    #[test]
    fn distinct_count_is_exact_below_threshold() {
        let mut d = DistinctCount::default();
        assert_eq!(d.estimate(), 0);
        for i in 0..200 {
            d.add_u64(i % 64);
        }
        assert!(d.is_exact());
        assert_eq!(d.estimate(), 64);
        d.add_str("a");
        d.add_bytes(b"a");
        assert!(!d.is_exact(), "65 distinct values");
        assert!(
            d.estimate().abs_diff(65) <= 2,
            "linear counting is all but exact at this size"
        );

        let mut by_u64 = DistinctCount::default();
        by_u64.add_u64(42);
        let mut by_bytes = DistinctCount::default();
        by_bytes.add_bytes(&42u64.to_le_bytes());
        assert_eq!(by_u64, by_bytes);
        let mut hll = DistinctCount::with_threshold(0);
        assert!(!hll.is_exact());
        assert_eq!(hll.estimate(), 0);
        hll.add_str("x");
        assert_eq!(hll.estimate(), 1);
    }

    #[test]
    fn distinct_count_hll_error_under_3_percent() {
        for n in [10_000u64, 100_000] {
            let mut d = DistinctCount::default();
            (0..n).for_each(|i| d.add_str(&format!("user-{i}")));
            let error = (d.estimate() as f64 - n as f64).abs() / n as f64;
            assert!(error < 0.03, "{n} distinct: estimate {} ({error})", d.estimate());
        }
    }

    #[test]
    fn distinct_count_merge_of_halves_equals_whole() {
        let n = 20_000u64;
        let build = |values: &mut dyn Iterator<Item = u64>| {
            let mut d = DistinctCount::default();
            values.for_each(|v| d.add_u64(v));
            d
        };
        let whole = build(&mut (0..n));
        let mut merged = build(&mut (0..n / 2));
        merged.merge(&build(&mut (n / 2..n)));
        assert_eq!(merged.estimate(), whole.estimate());
        assert_eq!(merged, whole, "register-wise max is the exact union");
        assert!((whole.estimate() as f64 - n as f64).abs() / (n as f64) < 0.03);
        // Across modes, in both directions: 10 values already counted, 10 new ones.
        let small = build(&mut (0..10).chain(n..n + 10));
        let expected = build(&mut (0..n + 10));
        let mut big_then_small = whole.clone();
        big_then_small.merge(&small);
        let mut small_then_big = small.clone();
        small_then_big.merge(&whole);
        assert_eq!(big_then_small, expected);
        assert_eq!(small_then_big, expected);
    }

    #[test]
    fn distinct_count_serde_round_trip_is_identical() {
        for n in [0, 30, 10_000] {
            let mut d = DistinctCount::default();
            (0..n).for_each(|i| d.add_u64(i));
            let json = serde_json::to_string(&d).unwrap();
            let back: DistinctCount = serde_json::from_str(&json).unwrap();
            assert_eq!((back.estimate(), back.is_exact()), (d.estimate(), d.is_exact()));
            assert_eq!(back, d);
        }
    }

    #[test]
    fn distinct_count_rejects_corrupt_state() {
        for json in [
            r#"{"threshold":64,"sketch":{"Exact":[2,1]}}"#,
            r#"{"threshold":64,"sketch":{"Exact":[1,1]}}"#,
            r#"{"threshold":64,"sketch":{"Hll":[0,0,0]}}"#,
        ] {
            assert!(serde_json::from_str::<DistinctCount>(json).is_err(), "{json}");
        }
        let mut registers = vec![0u8; HLL_REGISTERS];
        let valid = serde_json::json!({"threshold": 64, "sketch": {"Hll": registers}});
        assert!(serde_json::from_value::<DistinctCount>(valid).is_ok());
        registers[7] = HLL_MAX_RANK + 1;
        let invalid = serde_json::json!({"threshold": 64, "sketch": {"Hll": registers}});
        assert!(serde_json::from_value::<DistinctCount>(invalid).is_err());
    }

    #[test]
    fn stats_features() {
        let empty = Stats::default();
        assert_eq!(empty.to_features(-1.0), [0.0, -1.0, -1.0, -1.0, -1.0, 0.0]);
        assert!(empty.to_features(f32::NAN)[1].is_nan());
        let mut s: Stats = DATA.into_iter().collect();
        s.add(f64::NAN);
        assert_eq!(s.to_features(0.0), [8.0, 5.0, 2.0, 2.0, 9.0, 40.0]);
        assert_eq!(
            (s.variance(), s.non_finite(), s.min_max().range()),
            (Some(4.0), 1, Some(7.0))
        );
        let mut merged: Stats = DATA[..3].iter().copied().collect();
        merged.merge(&DATA[3..].iter().copied().chain([f64::NAN]).collect());
        assert_eq!(merged, s);
    }

    /// The module example, kept in the unit tests (doctests are not run by `cargo test --lib`).
    #[test]
    fn module_example() {
        use std::collections::HashMap;
        let mut per_card: HashMap<&str, (Stats, DistinctCount)> = HashMap::new();
        for (card, merchant, amount) in [("c1", "shop", 10.0), ("c2", "bar", 3.0), ("c1", "cafe", 30.0)] {
            let (stats, merchants) = per_card.entry(card).or_default();
            stats.add(amount);
            merchants.add_str(merchant);
        }
        let (stats, merchants) = &per_card["c1"];
        assert_eq!(stats.mean(), Some(20.0));
        assert_eq!(merchants.estimate(), 2);
        assert_eq!(stats.welford().z_score(50.0, 1.0), Some(3.0));
        assert_eq!(Stats::FEATURE_NAMES[1], "mean");
        let mut features = stats.to_features(f32::NAN).to_vec();
        features.push(merchants.estimate() as f32);
        assert_eq!(features, [2.0, 20.0, 10.0, 10.0, 30.0, 40.0, 2.0]);
    }

    #[test]
    fn serde_round_trips_known_values() {
        let xs = [0.1, 2.0 / 3.0, -1e-7, 12345.678, f64::NAN];
        assert_round_trip(&xs.into_iter().collect::<Count>(), count_parts);
        assert_round_trip(&xs.into_iter().collect::<Sum>(), sum_parts);
        assert_round_trip(&xs.into_iter().collect::<Welford>(), welford_parts);
        assert_round_trip(&xs.into_iter().collect::<MinMax>(), min_max_parts);
        assert_round_trip(&MinMax::default(), min_max_parts);
        assert_round_trip(&xs.into_iter().collect::<Stats>(), stats_parts);
        assert_round_trip(&Ewma::with_alpha(0.3), ewma_parts);
        let mut e = Ewma::with_half_life_ms(60_000);
        xs.iter().enumerate().for_each(|(i, &x)| e.add_at(x, i as i64 * 7_000));
        assert_round_trip(&e, ewma_parts);
    }

    fn finite_values(max_len: usize) -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(-1e6f64..1e6, 1..max_len)
    }

    /// Mostly finite values, some NaN and infinities.
    fn with_non_finite() -> impl Strategy<Value = f64> {
        prop_oneof![8 => -1e6f64..1e6, 1 => Just(f64::NAN), 1 => Just(f64::INFINITY), 1 => Just(f64::NEG_INFINITY)]
    }

    proptest! {
        #[test]
        fn welford_matches_two_pass(xs in finite_values(300)) {
            let (mean, var) = two_pass(&xs);
            assert_welford_close(&xs.iter().copied().collect(), mean, var, &xs);
        }

        #[test]
        fn merge_equals_adding_all(xs in finite_values(300), split in 0.0f64..=1.0) {
            let (a, b) = xs.split_at((split * xs.len() as f64) as usize);
            let whole: Stats = xs.iter().copied().collect();
            let mut merged: Stats = a.iter().copied().collect();
            merged.merge(&b.iter().copied().collect());
            prop_assert_eq!(merged.count(), whole.count());
            prop_assert_eq!(merged.min_max, whole.min_max);
            let (mean, var) = (whole.mean().unwrap(), whole.variance().unwrap());
            assert_welford_close(&merged.welford, mean, var, &xs);
            prop_assert!(close(merged.sum(), whole.sum(), 1e-9, 1e-3 * max_abs(&xs)));
            let mut count: Count = a.iter().copied().collect();
            count.merge(&b.iter().copied().collect());
            prop_assert_eq!(count, xs.iter().copied().collect::<Count>());
        }

        #[test]
        fn welford_remove_matches_fresh(xs in finite_values(100), removed in 0usize..100) {
            let removed = removed.min(xs.len() - 1);
            let mut w: Welford = xs.iter().copied().collect();
            xs[..removed].iter().for_each(|&x| w.remove(x));
            let (mean, var) = two_pass(&xs[removed..]);
            prop_assert_eq!(w.count(), (xs.len() - removed) as u64);
            // Looser than add: the inverse update cancels (see `remove`).
            let scale = max_abs(&xs);
            prop_assert!(close(w.mean().unwrap(), mean, 1e-6, scale));
            prop_assert!(close(w.variance().unwrap(), var, 1e-6, scale * scale));
        }

        #[test]
        fn ewma_alpha_matches_reference(xs in finite_values(200), alpha in 0.001f64..=1.0) {
            let mut e = Ewma::with_alpha(alpha);
            e.extend(xs.iter().copied());
            let reference = xs[1..].iter().fold(xs[0], |v, &x| alpha * x + (1.0 - alpha) * v);
            prop_assert!(close(e.value().unwrap(), reference, 1e-9, 1e-3 * max_abs(&xs)));
        }

        #[test]
        fn distinct_count_merge_equals_union(
            a in prop::collection::vec(0u64..500, 0..300),
            b in prop::collection::vec(0u64..500, 0..300),
            threshold in 0usize..100,
        ) {
            let build = |values: &[u64]| {
                let mut d = DistinctCount::with_threshold(threshold);
                values.iter().for_each(|&v| d.add_u64(v));
                d
            };
            let mut merged = build(&a);
            merged.merge(&build(&b));
            let whole = build(&[a.as_slice(), b.as_slice()].concat());
            prop_assert_eq!(&merged, &whole);
            if whole.is_exact() {
                let mut distinct = [a, b].concat();
                distinct.sort_unstable();
                distinct.dedup();
                prop_assert_eq!(whole.estimate(), distinct.len() as u64);
            }
        }

        #[test]
        fn serde_round_trips(xs in prop::collection::vec(with_non_finite(), 0..50), alpha in 0.001f64..=1.0) {
            assert_round_trip(&xs.iter().copied().collect::<Count>(), count_parts);
            assert_round_trip(&xs.iter().copied().collect::<Sum>(), sum_parts);
            assert_round_trip(&xs.iter().copied().collect::<Welford>(), welford_parts);
            assert_round_trip(&xs.iter().copied().collect::<MinMax>(), min_max_parts);
            assert_round_trip(&xs.iter().copied().collect::<Stats>(), stats_parts);
            let mut e = Ewma::with_alpha(alpha);
            e.extend(xs.iter().copied());
            assert_round_trip(&e, ewma_parts);
            let mut d = DistinctCount::with_threshold(20);
            xs.iter().for_each(|x| d.add_u64(x.to_bits()));
            let back: DistinctCount = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
            prop_assert_eq!(back, d);
        }
    }
}
