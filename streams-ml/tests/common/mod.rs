//! Models for the scoring tests: deterministic, and slow or failing on demand.

#![allow(dead_code, reason = "not every test binary uses every helper")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use streams_ml::model::{Model, ModelError, ModelInfo};

/// Scores a row `[x0, x1, …]` as `[x0 * w + x1, batch size]`, so a test can compute the expected
/// score of each record and see which batch scored it. Optionally sleeps per batch, and fails any
/// batch holding a NaN feature.
pub struct Linear {
    pub info: ModelInfo,
    pub weight: f32,
    pub sleep: Duration,
    pub batches: AtomicUsize,
}

impl Linear {
    pub fn new(version: &str, weight: f32) -> Self {
        Linear {
            info: ModelInfo {
                name: "linear".into(),
                version: version.into(),
                content_hash: format!("test:{version}"),
                input_width: 2,
                output_width: 2,
                feature_names: vec!["x0".into(), "x1".into()],
                labels: Vec::new(),
            },
            weight,
            sleep: Duration::ZERO,
            batches: AtomicUsize::new(0),
        }
    }

    pub fn slow(mut self, sleep: Duration) -> Self {
        self.sleep = sleep;
        self
    }

    pub fn shared(self) -> Arc<dyn Model> {
        Arc::new(self)
    }
}

impl Model for Linear {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, features: &[f32], rows: usize) -> Result<Vec<f32>, ModelError> {
        self.batches.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(self.sleep);
        if features.iter().any(|f| f.is_nan()) {
            return Err(ModelError::Inference("a NaN feature".into()));
        }
        Ok(features
            .chunks(2)
            .flat_map(|row| [row[0] * self.weight + row[1], rows as f32])
            .collect())
    }
}
