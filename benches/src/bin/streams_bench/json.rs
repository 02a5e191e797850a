//! The one JSON line a run prints: a flat object whose fields keep the order they were put in (as
//! the Java jar's `Json.java` prints them), decimals rounded to three places.

use std::fmt;

use serde_json::Value;

/// A flat JSON object, fields in insertion order.
#[derive(Debug, Default)]
pub struct JsonLine {
    fields: Vec<(&'static str, Value)>,
}

impl JsonLine {
    /// Adds (or replaces) the field `key`.
    pub fn put(&mut self, key: &'static str, value: impl Into<Value>) -> &mut Self {
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| *k == key) {
            Some(field) => field.1 = value,
            None => self.fields.push((key, value)),
        }
        self
    }
}

/// `x` rounded to three decimals (Java's `%.3f`), or null when absent or not finite.
pub fn decimal(x: Option<f64>) -> Value {
    match x {
        Some(x) if x.is_finite() => {
            serde_json::Number::from_f64((x * 1000.0).round() / 1000.0).map_or(Value::Null, Value::Number)
        }
        _ => Value::Null,
    }
}

impl fmt::Display for JsonLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (index, (key, value)) in self.fields.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}: {value}", Value::from(*key))?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_order_and_decimals_are_rounded() {
        let mut line = JsonLine::default();
        line.put("case", "stateless")
            .put("records", 3u64)
            .put("seconds", decimal(Some(1.23456)))
            .put("expected", Value::Null)
            .put("rate", decimal(Some(f64::NAN)))
            .put("records", 4u64);
        assert_eq!(
            line.to_string(),
            r#"{"case": "stateless", "records": 4, "seconds": 1.235, "expected": null, "rate": null}"#
        );
        let parsed: Value = serde_json::from_str(&line.to_string()).unwrap();
        assert_eq!(parsed["records"], 4);
    }
}
