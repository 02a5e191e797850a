//! Validation of `POST /transactions` bodies: a [`Transaction`] or an error naming the field.

use serde_json::{Map, Value};

use crate::generator::Transaction;

/// The largest body accepted, in bytes (larger ones get `413 Payload Too Large`).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The largest amount accepted.
pub const MAX_AMOUNT: f64 = 1_000_000.0;

/// The longest id or category accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// How far in the past an event time may be: 400 days.
pub const MAX_AGE_MS: i64 = 400 * 24 * 3_600_000;

/// How far in the future an event time may be: 1 hour (Kafka's default
/// `log.message.timestamp.after.max.ms` refuses records further ahead).
pub const MAX_AHEAD_MS: i64 = 3_600_000;

/// Why a body is not a valid transaction: the field (or `body`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field at fault, or `body` for the whole document.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

/// The transaction in `body`, a JSON object with the fields of [`Transaction`], checked:
/// `txn_id` a positive integer; `card_id`, `merchant_id`, `merchant_category` non-empty strings of
/// at most [`MAX_ID_LEN`] bytes; `amount` a number in `(0, MAX_AMOUNT]`; `country` two uppercase
/// letters; `timestamp_ms` an integer within [`MAX_AGE_MS`] before and [`MAX_AHEAD_MS`] after
/// `now_ms`. Unknown fields are refused, so a misspelt field is not silently ignored.
pub fn transaction(body: &[u8], now_ms: i64) -> Result<Transaction, Invalid> {
    if body.len() > MAX_BODY_BYTES {
        return Err(invalid("body", format!("larger than {MAX_BODY_BYTES} bytes")));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| invalid("body", format!("not valid JSON ({e})")))?;
    let Value::Object(object) = value else {
        return Err(invalid("body", "not a JSON object"));
    };
    const FIELDS: [&str; 7] = [
        "txn_id",
        "card_id",
        "merchant_id",
        "merchant_category",
        "amount",
        "country",
        "timestamp_ms",
    ];
    if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(invalid("body", format!("unknown field {unknown:?}")));
    }
    let txn_id = match object.get("txn_id") {
        Some(Value::Number(n)) => n.as_u64().filter(|&id| id > 0 && i64::try_from(id).is_ok()),
        None => return Err(invalid("txn_id", "missing")),
        Some(_) => None,
    }
    .ok_or_else(|| invalid("txn_id", "must be a positive integer up to 2^63 - 1"))?;
    let amount = match object.get("amount") {
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| invalid("amount", "must be a number"))?,
        None => return Err(invalid("amount", "missing")),
        Some(_) => return Err(invalid("amount", "must be a number")),
    };
    if !(amount > 0.0 && amount <= MAX_AMOUNT) {
        return Err(invalid(
            "amount",
            format!("must be > 0 and <= {MAX_AMOUNT}, got {amount}"),
        ));
    }
    let country = string(&object, "country")?;
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            "country",
            format!("must be an ISO 3166 alpha-2 code such as DE, got {country:?}"),
        ));
    }
    let timestamp_ms = match object.get("timestamp_ms") {
        Some(Value::Number(n)) => n.as_i64(),
        None => return Err(invalid("timestamp_ms", "missing")),
        Some(_) => None,
    }
    .ok_or_else(|| invalid("timestamp_ms", "must be an integer (ms since the Unix epoch)"))?;
    if timestamp_ms < now_ms - MAX_AGE_MS || timestamp_ms > now_ms + MAX_AHEAD_MS {
        return Err(invalid(
            "timestamp_ms",
            format!("must be within 400 days before and 1 hour after now ({now_ms}), got {timestamp_ms}"),
        ));
    }
    Ok(Transaction {
        txn_id,
        card_id: string(&object, "card_id")?,
        merchant_id: string(&object, "merchant_id")?,
        merchant_category: string(&object, "merchant_category")?,
        amount,
        country,
        timestamp_ms,
    })
}

fn string(object: &Map<String, Value>, field: &'static str) -> Result<String, Invalid> {
    match object.get(field) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID_LEN => Ok(s.clone()),
        Some(Value::String(_)) => Err(invalid(field, format!("must be 1 to {MAX_ID_LEN} bytes long"))),
        None => Err(invalid(field, "missing")),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000_000;

    fn body(overrides: &[(&str, Value)], remove: &[&str]) -> Vec<u8> {
        let mut object = serde_json::json!({
            "txn_id": 7, "card_id": "card-000001", "merchant_id": "M00042",
            "merchant_category": "grocery", "amount": 12.5, "country": "DE",
            "timestamp_ms": NOW - 1000,
        });
        for (k, v) in overrides {
            object[*k] = v.clone();
        }
        for k in remove {
            object.as_object_mut().unwrap().remove(*k);
        }
        serde_json::to_vec(&object).unwrap()
    }

    fn field_of(bytes: &[u8]) -> &'static str {
        transaction(bytes, NOW).expect_err("invalid").field
    }

    #[test]
    fn a_valid_transaction_is_read() {
        let txn = transaction(&body(&[], &[]), NOW).unwrap();
        assert_eq!(txn.txn_id, 7);
        assert_eq!(txn.card_id, "card-000001");
        assert_eq!(txn.amount, 12.5);
    }

    #[test]
    fn each_bad_field_is_named() {
        use serde_json::json;
        assert_eq!(field_of(b"{not json"), "body");
        assert_eq!(field_of(b"[1]"), "body");
        assert_eq!(field_of(&body(&[("extra", json!(1))], &[])), "body");
        assert_eq!(field_of(&body(&[], &["txn_id"])), "txn_id");
        assert_eq!(field_of(&body(&[("txn_id", json!(-3))], &[])), "txn_id");
        assert_eq!(field_of(&body(&[("txn_id", json!("7"))], &[])), "txn_id");
        assert_eq!(field_of(&body(&[("amount", json!(0))], &[])), "amount");
        assert_eq!(field_of(&body(&[("amount", json!(2e6))], &[])), "amount");
        assert_eq!(field_of(&body(&[("amount", json!("12"))], &[])), "amount");
        assert_eq!(field_of(&body(&[], &["amount"])), "amount");
        assert_eq!(field_of(&body(&[("country", json!("Germany"))], &[])), "country");
        assert_eq!(field_of(&body(&[("card_id", json!(""))], &[])), "card_id");
        assert_eq!(field_of(&body(&[("merchant_id", json!(5))], &[])), "merchant_id");
        assert_eq!(field_of(&body(&[], &["merchant_category"])), "merchant_category");
        assert_eq!(
            field_of(&body(&[("timestamp_ms", json!(NOW + 2 * MAX_AHEAD_MS))], &[])),
            "timestamp_ms"
        );
        assert_eq!(field_of(&body(&[("timestamp_ms", json!(1.5))], &[])), "timestamp_ms");
        assert_eq!(field_of(&vec![b' '; MAX_BODY_BYTES + 1]), "body");
    }
}
