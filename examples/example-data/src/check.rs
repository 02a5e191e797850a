//! Assertions for the examples' feature tests. A feature is computed in `f64` and rounded to `f32`
//! once; these compare such features with expected `f64` values, or with each other, to a relative
//! tolerance of 1e-5 (absolute below 1).

/// Whether the feature `actual` is within 1e-5 of `expected`, relative to `|expected|` when that is
/// larger than 1.
pub fn close(actual: f32, expected: f64) -> bool {
    (actual as f64 - expected).abs() <= 1e-5 * expected.abs().max(1.0)
}

/// Panics, naming the feature (from `names`), unless every feature of `actual` is [`close`] to the
/// same one of `expected`.
pub fn assert_features<const N: usize>(names: &[&str; N], actual: [f32; N], expected: [f64; N]) {
    for i in 0..N {
        assert!(
            close(actual[i], expected[i]),
            "{}: {} != {}",
            names[i],
            actual[i],
            expected[i]
        );
    }
}

/// Panics, naming the record and the feature, unless for every record of `records` the incremental
/// computation (`incremental`, fed the records in order) gives the same features (to [`close`]) as the
/// direct definition (`direct`, given the records before it and the record).
pub fn assert_incremental_equals_direct<R, const N: usize>(
    names: &[&str; N],
    records: &[R],
    direct: impl Fn(&[R], &R) -> [f32; N],
    mut incremental: impl FnMut(&R) -> [f32; N],
) {
    for (i, current) in records.iter().enumerate() {
        let direct = direct(&records[..i], current);
        let incremental = incremental(current);
        for f in 0..N {
            assert!(
                close(incremental[f], direct[f] as f64),
                "record {i} {}: {} != {}",
                names[f],
                incremental[f],
                direct[f]
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_is_relative_above_one_and_absolute_below() {
        assert!(close(1000.0, 1000.009));
        assert!(!close(1000.0, 1000.02));
        assert!(close(0.0, 9e-6));
        assert!(!close(0.0, 2e-5));
    }

    #[test]
    #[should_panic(expected = "b: 2 != 3")]
    fn assert_features_names_the_feature() {
        assert_features(&["a", "b"], [1.0, 2.0], [1.0, 3.0]);
    }

    #[test]
    #[should_panic(expected = "record 2 sum: 4 != 6")]
    fn assert_incremental_equals_direct_names_the_record() {
        let mut sum = 0.0;
        assert_incremental_equals_direct(
            &["sum"],
            &[1.0f32, 2.0, 3.0],
            |before, x| [before.iter().sum::<f32>() + x],
            |x| {
                sum += if *x == 3.0 { 1.0 } else { *x };
                [sum]
            },
        );
    }
}
