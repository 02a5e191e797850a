//! Why a transaction was flagged: the features that raised its fraud score most.
//!
//! For an alert, each feature in turn is set back to its *typical* value (its median over
//! legitimate transactions of the generator's training population) and the model scores the
//! result; a feature's contribution is how much the fraud probability drops when it is typical.
//! The reasons are the features with the largest contributions, strongest first. This takes one
//! batch of [`N_FEATURES`] rows per alert (microseconds for the shipped models), and only alerts pay it.

use serde::{Deserialize, Serialize};
use streams_ml::model::ModelHandle;

use crate::features::{FEATURE_NAMES, FeatureExtractor, FraudFeatures, N_FEATURES};
use crate::generator::{GeneratorConfig, TransactionGenerator};

/// At most this many reasons per alert.
pub const MAX_REASONS: usize = 3;

/// A contribution below this (in probability) is not a reason.
pub const MIN_CONTRIBUTION: f32 = 0.01;

/// One reason for an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// The feature's name (one of [`FEATURE_NAMES`]).
    pub feature: String,
    /// Its value in this transaction.
    pub value: f32,
    /// Its typical value for legitimate transactions.
    pub typical: f32,
    /// How much lower the fraud probability is with the feature at its typical value.
    pub contribution: f32,
}

/// Explains alerts with the current model (the one the scoring uses, swaps included).
#[derive(Debug, Clone)]
pub struct Explainer {
    model: ModelHandle,
    typical: [f32; N_FEATURES],
}

impl Explainer {
    /// An explainer with the given typical feature values.
    pub fn new(model: ModelHandle, typical: [f32; N_FEATURES]) -> Self {
        Self { model, typical }
    }

    /// An explainer whose typical values are the medians of the features of `rows` legitimate
    /// transactions of the default generator population (seed 0, the training seed).
    pub fn from_generator(model: ModelHandle, rows: usize) -> Self {
        Self::new(model, typical_features(rows))
    }

    /// The typical feature values.
    pub fn typical(&self) -> &[f32; N_FEATURES] {
        &self.typical
    }

    /// The reasons `features` (scored `probability`) was flagged, strongest first: at most
    /// [`MAX_REASONS`], each contributing at least [`MIN_CONTRIBUTION`]. Empty if the model fails.
    pub fn reasons(&self, features: &FraudFeatures, probability: f32) -> Vec<Reason> {
        let row = features.to_array();
        let mut rows = Vec::with_capacity(N_FEATURES * N_FEATURES);
        for i in 0..N_FEATURES {
            let mut changed = row;
            changed[i] = self.typical[i];
            rows.extend_from_slice(&changed);
        }
        let model = self.model.current();
        let Ok(scores) = model.predict(&rows, N_FEATURES) else {
            return Vec::new();
        };
        let width = model.info().output_width.max(1);
        let mut reasons: Vec<Reason> = (0..N_FEATURES)
            .map(|i| Reason {
                feature: FEATURE_NAMES[i].to_string(),
                value: row[i],
                typical: self.typical[i],
                contribution: probability - scores.get(i * width + width - 1).copied().unwrap_or(probability),
            })
            .filter(|r| r.contribution >= MIN_CONTRIBUTION)
            .collect();
        reasons.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        reasons.truncate(MAX_REASONS);
        reasons
    }
}

/// Medians of the features of the first `rows` legitimate transactions of the default generator.
pub fn typical_features(rows: usize) -> [f32; N_FEATURES] {
    let mut extractor = FeatureExtractor::new();
    let mut columns: Vec<Vec<f32>> = (0..N_FEATURES).map(|_| Vec::with_capacity(rows)).collect();
    for (txn, fraud) in TransactionGenerator::new(GeneratorConfig::default()) {
        let features = extractor.update(&txn);
        if fraud {
            continue;
        }
        for (column, value) in columns.iter_mut().zip(features) {
            column.push(value);
        }
        if columns[0].len() >= rows.max(1) {
            break;
        }
    }
    let mut typical = [0.0; N_FEATURES];
    for (t, column) in typical.iter_mut().zip(&mut columns) {
        column.sort_by(f32::total_cmp);
        *t = column[column.len() / 2];
    }
    typical
}

#[cfg(test)]
mod tests {
    use streams_ml::model::{Model, ModelError, ModelInfo};

    use super::*;

    /// p(fraud) = min(1, amount / 1000): only the amount matters.
    #[derive(Debug)]
    struct AmountModel(ModelInfo);

    impl Model for AmountModel {
        fn info(&self) -> &ModelInfo {
            &self.0
        }
        fn predict(&self, features: &[f32], rows: usize) -> Result<Vec<f32>, ModelError> {
            Ok((0..rows)
                .flat_map(|r| {
                    let p = (features[r * N_FEATURES] / 1000.0).min(1.0);
                    [1.0 - p, p]
                })
                .collect())
        }
    }

    #[test]
    fn the_feature_the_model_depends_on_is_the_reason() {
        let info = ModelInfo {
            name: "amount".into(),
            version: "1".into(),
            content_hash: "test:amount".into(),
            input_width: N_FEATURES,
            output_width: 2,
            feature_names: FEATURE_NAMES.iter().map(|n| n.to_string()).collect(),
            labels: vec!["legit".into(), "fraud".into()],
        };
        let explainer = Explainer::new(ModelHandle::new(AmountModel(info)), typical_features(2_000));
        let mut features = FraudFeatures {
            amount: 900.0,
            log_amount: 6.8,
            txn_count_1h: 5.0,
            amount_sum_1h: 2000.0,
            distinct_merchants_1h: 4.0,
            amount_zscore: 9.0,
            hours_since_prev: 0.1,
            foreign: 1.0,
        };
        let reasons = explainer.reasons(&features, 0.9);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert_eq!(reasons[0].feature, "amount");
        assert!((reasons[0].contribution - (0.9 - explainer.typical()[0] / 1000.0)).abs() < 1e-5);
        // At its typical value the amount is no reason.
        features.amount = explainer.typical()[0];
        assert!(explainer.reasons(&features, features.amount / 1000.0).is_empty());
    }

    #[test]
    fn typical_values_are_plausible() {
        let typical = typical_features(5_000);
        assert!(typical[0] > 5.0 && typical[0] < 200.0, "amount {}", typical[0]);
        assert_eq!(typical[2], 1.0, "a legitimate transaction is usually alone in its hour");
        assert_eq!(typical[7], 0.0, "and at home");
    }
}
