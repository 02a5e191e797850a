//! No built-in serde panics on any input, and each failure has the kind its bytes call for.
//!
//! Proven here (a panic fails a proptest, so "returns" means "does not panic"):
//! - For null and arbitrary bytes (0–63), `deserialize` of every public built-in serde returns:
//!   `String`, `Vec<u8>`, `i16`, `i32`, `i64`, `f32`, `f64`, `bool`, `()`, `Option<T>` of each of
//!   those and of JSON, JSON of a struct with nested structs, an enum and options, and the time- and
//!   session-windowed key serdes. Null is `Null` for every type but `()` and `Option<T>`; a
//!   fixed-width type gets `Truncated` for fewer bytes and `Malformed` for more; bytes that are not
//!   UTF-8 are `Malformed`; a windowed key too short for its timestamps is `Truncated`, and the key
//!   serde's kind passes through; `Option<T>` reads null as `None` and anything else exactly as `T`.
//! - JSON: every strict prefix of a written value is `Truncated`; well-formed JSON of another shape
//!   is `TypeMismatch`; `Malformed` and `Truncated` only for text that is not JSON at all; whatever
//!   reads as a value writes back to text that reads as the same value.
//! - Round trips not proven beside the code: the time-windowed serde (the end is derived from the
//!   window size, saturating), the session-windowed serde over all of `i64` with non-`String` keys,
//!   and JSON of nested structs and enums.
//! - Kafka interop, byte for byte against hand-written vectors: `TimeWindowedSerializer` writes key
//!   bytes then the start (8 bytes big-endian), with no sequence number (that is `WindowKeySchema`'s
//!   store layout, which no public serde here claims); `SessionWindowedSerializer` (Kafka's
//!   `SessionKeySchema`) writes key bytes, then the end, then the start.
//!
//! The crate-private serdes (`Change` on repartition topics, timestamped store values) cannot be
//! reached from here.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use streams_core::serde::{
    DefaultSerde, I32Serde, I64Serde, JsonSerde, Serde, SerdeError, SerdeErrorKind, SharedSerde, StringSerde, UnitSerde,
};
use streams_core::time::{SessionWindowedSerde, TimeWindowedSerde, Window, Windowed};

use SerdeErrorKind::{Malformed, Null, Truncated, TypeMismatch, Unserializable};

const TOPIC: &str = "t";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: Customer,
    lines: Vec<Line>,
    status: Status,
    coupon: Option<String>,
    shipping: Option<Address>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Customer {
    name: String,
    vip: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Line {
    sku: String,
    quantity: u32,
    price_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    city: String,
    zip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Status {
    Open,
    Paid { at_ms: i64 },
    Cancelled(String),
}

streams_core::json_serde!(Order);

fn order() -> impl Strategy<Value = Order> {
    let customer = (any::<String>(), any::<bool>()).prop_map(|(name, vip)| Customer { name, vip });
    let line = (any::<String>(), any::<u32>(), any::<i64>()).prop_map(|(sku, quantity, price_cents)| Line {
        sku,
        quantity,
        price_cents,
    });
    let status = prop_oneof![
        Just(Status::Open),
        any::<i64>().prop_map(|at_ms| Status::Paid { at_ms }),
        any::<String>().prop_map(Status::Cancelled),
    ];
    let address = (any::<String>(), any::<Option<String>>()).prop_map(|(city, zip)| Address { city, zip });
    (
        any::<u64>(),
        customer,
        prop::collection::vec(line, 0..3),
        status,
        any::<Option<String>>(),
        prop::option::of(address),
    )
        .prop_map(|(id, customer, lines, status, coupon, shipping)| Order {
            id,
            customer,
            lines,
            status,
            coupon,
            shipping,
        })
}

/// Window sizes in milliseconds: none, ordinary ones, and ones past `i64::MAX`.
fn window_size_ms() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), 1..=86_400_000u64, Just(u64::MAX), any::<u64>()]
}

/// Null or up to 63 arbitrary bytes.
fn any_bytes() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..64))
}

/// Text made of JSON tokens, `Order`'s field and variant names among them, in any order: mostly not
/// JSON, sometimes JSON of another shape, now and then an `Order`.
fn json_like() -> impl Strategy<Value = Vec<u8>> {
    let token = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        " ",
        "\"id\"",
        "\"customer\"",
        "\"name\"",
        "\"vip\"",
        "\"lines\"",
        "\"sku\"",
        "\"quantity\"",
        "\"price_cents\"",
        "\"status\"",
        "\"Open\"",
        "\"Paid\"",
        "\"at_ms\"",
        "\"Cancelled\"",
        "\"coupon\"",
        "\"shipping\"",
        "\"city\"",
        "\"zip\"",
        "\"x\"",
        "\"\\u00e9\"",
        "\"\\ud800\"",
        "\"\\u12",
        "0",
        "-1",
        "1.5",
        "1e400",
        "18446744073709551616",
        "true",
        "null",
    ]);
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat().into_bytes())
}

/// The error kind of `result`, `None` if it is a value.
fn kind<T>(result: &Result<T, SerdeError>) -> Option<SerdeErrorKind> {
    result.as_ref().err().map(SerdeError::kind)
}

/// What `T`'s default serde reads from `bytes`.
fn read<T: DefaultSerde>(bytes: Option<&[u8]>) -> Result<T, SerdeError> {
    T::default_serde().deserialize(TOPIC, bytes)
}

/// The kind a fixed-width type of `width` bytes must give for `bytes`, `None` for a value.
fn fixed_width_kind(bytes: Option<&[u8]>, width: usize) -> Option<SerdeErrorKind> {
    match bytes {
        None => Some(Null),
        Some(bytes) if bytes.len() < width => Some(Truncated),
        Some(bytes) if bytes.len() > width => Some(Malformed),
        Some(_) => None,
    }
}

/// `Option<T>` reads null as `None` and other bytes exactly as `T` does (value or error alike).
fn check_option<T: DefaultSerde + Debug>(bytes: Option<&[u8]>) -> Result<(), TestCaseError> {
    let read_option = read::<Option<T>>(bytes);
    match bytes {
        None => prop_assert!(matches!(read_option, Ok(None)), "{read_option:?}"),
        Some(_) => prop_assert_eq!(format!("{read_option:?}"), format!("{:?}", read::<T>(bytes).map(Some))),
    }
    Ok(())
}

/// JSON reading never panics, and its kinds agree with what `serde_json` makes of the text as
/// untyped JSON: well-formed JSON is never `Malformed` or `Truncated`.
fn check_json(bytes: Option<&[u8]>) -> Result<(), TestCaseError> {
    let serde = JsonSerde::<Order>::new();
    let result = serde.deserialize(TOPIC, bytes);
    let Some(text) = bytes else {
        prop_assert_eq!(kind(&result), Some(Null));
        return Ok(());
    };
    let as_json = serde_json::from_slice::<serde_json::Value>(text);
    match result {
        Ok(order) => {
            let written = serde.serialize(TOPIC, &order).unwrap();
            prop_assert_eq!(serde.deserialize(TOPIC, written.as_deref()).unwrap(), order);
        }
        Err(error) => {
            let kind = error.kind();
            prop_assert!([Malformed, Truncated, TypeMismatch].contains(&kind), "{error:?}");
            if as_json.is_ok() {
                prop_assert_eq!(kind, TypeMismatch, "{}", error);
            }
            if kind != TypeMismatch {
                prop_assert!(as_json.is_err(), "{error:?}");
            }
        }
    }
    Ok(())
}

/// The big-endian `i64` in `bytes[at..at + 8]`.
fn be_i64(bytes: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap())
}

fn time_windowed<K: DefaultSerde>(window_size: Duration) -> TimeWindowedSerde<K> {
    TimeWindowedSerde::new(K::default_serde(), window_size)
}

fn session_windowed<K: DefaultSerde>() -> SessionWindowedSerde<K> {
    SessionWindowedSerde::new(K::default_serde())
}

proptest! {
    #[test]
    fn string_and_bytes_read_any_bytes(bytes in any_bytes()) {
        let bytes = bytes.as_deref();
        match bytes {
            None => {
                prop_assert_eq!(kind(&read::<String>(None)), Some(Null));
                prop_assert_eq!(kind(&read::<Vec<u8>>(None)), Some(Null));
            }
            Some(b) => {
                let expected = std::str::from_utf8(b).map(str::to_owned).map_err(|_| Malformed);
                prop_assert_eq!(read::<String>(bytes).map_err(|e| e.kind()), expected);
                prop_assert_eq!(read::<Vec<u8>>(bytes).unwrap(), b);
            }
        }
    }

    #[test]
    fn fixed_width_types_read_any_bytes(bytes in any_bytes()) {
        let bytes = bytes.as_deref();
        prop_assert_eq!(kind(&read::<i16>(bytes)), fixed_width_kind(bytes, 2));
        prop_assert_eq!(kind(&read::<i32>(bytes)), fixed_width_kind(bytes, 4));
        prop_assert_eq!(kind(&read::<i64>(bytes)), fixed_width_kind(bytes, 8));
        prop_assert_eq!(kind(&read::<f32>(bytes)), fixed_width_kind(bytes, 4));
        prop_assert_eq!(kind(&read::<f64>(bytes)), fixed_width_kind(bytes, 8));
        let bool_kind = match bytes {
            Some([0 | 1]) => None,
            Some([_]) => Some(Malformed),
            _ => fixed_width_kind(bytes, 1),
        };
        prop_assert_eq!(kind(&read::<bool>(bytes)), bool_kind);
    }

    #[test]
    fn unit_reads_only_null(bytes in any_bytes()) {
        let expected = bytes.as_ref().map(|_| Malformed);
        prop_assert_eq!(kind(&read::<()>(bytes.as_deref())), expected);
    }

    #[test]
    fn options_read_null_as_none_and_other_bytes_as_their_inner_type(bytes in any_bytes()) {
        let bytes = bytes.as_deref();
        check_option::<String>(bytes)?;
        check_option::<Vec<u8>>(bytes)?;
        check_option::<i16>(bytes)?;
        check_option::<i32>(bytes)?;
        check_option::<i64>(bytes)?;
        check_option::<f32>(bytes)?;
        check_option::<f64>(bytes)?;
        check_option::<bool>(bytes)?;
        check_option::<()>(bytes)?;
        check_option::<Order>(bytes)?;
        check_option::<Option<i32>>(bytes)?;
    }

    #[test]
    fn json_reads_any_bytes(bytes in any_bytes()) {
        check_json(bytes.as_deref())?;
    }

    #[test]
    fn json_reads_any_text_of_json_tokens(text in json_like()) {
        check_json(Some(&text))?;
    }

    #[test]
    fn every_strict_prefix_of_written_json_is_truncated(order in order(), cut in any::<prop::sample::Index>()) {
        let serde = JsonSerde::<Order>::new();
        let bytes = serde.serialize(TOPIC, &order).unwrap().unwrap();
        let prefix = &bytes[..cut.index(bytes.len())];
        let error = serde.deserialize(TOPIC, Some(prefix)).unwrap_err();
        prop_assert_eq!(error.kind(), Truncated, "{}", error);
    }

    #[test]
    fn time_windowed_keys_read_any_bytes(bytes in any_bytes(), size_ms in window_size_ms()) {
        let bytes = bytes.as_deref();
        let size = Duration::from_millis(size_ms);
        let read = time_windowed::<String>(size).deserialize(TOPIC, bytes);
        match bytes {
            None => prop_assert_eq!(kind(&read), Some(Null)),
            Some(b) if b.len() < 8 => prop_assert_eq!(kind(&read), Some(Truncated)),
            Some(b) => {
                let (key, _) = b.split_at(b.len() - 8);
                let start = be_i64(b, b.len() - 8);
                let end = start.saturating_add(i64::try_from(size_ms).unwrap_or(i64::MAX));
                match std::str::from_utf8(key) {
                    Ok(key) => prop_assert_eq!(read.as_ref().unwrap(), &Windowed::new(key.to_owned(), Window::new(start, end))),
                    Err(_) => prop_assert_eq!(kind(&read), Some(Malformed)),
                }
            }
        }

        // The key serde's own kinds pass through: an i32 key must be exactly 4 bytes.
        let with_i32_keys = time_windowed::<i32>(size).deserialize(TOPIC, bytes);
        let expected = match bytes {
            Some(b) if b.len() >= 8 => fixed_width_kind(Some(&b[..b.len() - 8]), 4),
            _ => kind(&read),
        };
        prop_assert_eq!(kind(&with_i32_keys), expected);
    }

    #[test]
    fn session_windowed_keys_read_any_bytes(bytes in any_bytes()) {
        let bytes = bytes.as_deref();
        let read = session_windowed::<String>().deserialize(TOPIC, bytes);
        match bytes {
            None => prop_assert_eq!(kind(&read), Some(Null)),
            Some(b) if b.len() < 16 => prop_assert_eq!(kind(&read), Some(Truncated)),
            Some(b) => {
                let (key, _) = b.split_at(b.len() - 16);
                let window = Window::new(be_i64(b, b.len() - 8), be_i64(b, b.len() - 16));
                match std::str::from_utf8(key) {
                    Ok(key) => prop_assert_eq!(read.as_ref().unwrap(), &Windowed::new(key.to_owned(), window)),
                    Err(_) => prop_assert_eq!(kind(&read), Some(Malformed)),
                }
            }
        }
        prop_assert_eq!(format!("{read:?}"), format!("{:?}", Windowed::<String>::default_serde().deserialize(TOPIC, bytes)));

        let with_i64_keys = session_windowed::<i64>().deserialize(TOPIC, bytes);
        let expected = match bytes {
            Some(b) if b.len() >= 16 => fixed_width_kind(Some(&b[..b.len() - 16]), 8),
            _ => kind(&read),
        };
        prop_assert_eq!(kind(&with_i64_keys), expected);
    }

    /// The start round-trips over all of `i64`; the end is not written, and reads as
    /// `start + window size`, saturating at `i64::MAX` as Kafka's `TimeWindowedDeserializer` does.
    #[test]
    fn time_windowed_keys_round_trip_the_start_and_derive_the_end(
        key in any::<String>(),
        start in any::<i64>(),
        written_end in any::<i64>(),
        size_ms in window_size_ms(),
    ) {
        let serde = time_windowed::<String>(Duration::from_millis(size_ms));
        let bytes = serde.serialize(TOPIC, &Windowed::new(key.clone(), Window::new(start, written_end))).unwrap();
        let end = start.saturating_add(i64::try_from(size_ms).unwrap_or(i64::MAX));
        prop_assert_eq!(serde.deserialize(TOPIC, bytes.as_deref()).unwrap(), Windowed::new(key, Window::new(start, end)));
    }

    #[test]
    fn session_windowed_keys_round_trip_any_window_and_key_bytes(
        bytes_key in prop::collection::vec(any::<u8>(), 0..32),
        long_key in any::<i64>(),
        start in any::<i64>(),
        end in any::<i64>(),
    ) {
        let window = Window::new(start, end);
        let bytes_serde = session_windowed::<Vec<u8>>();
        let windowed = Windowed::new(bytes_key, window);
        let bytes = bytes_serde.serialize(TOPIC, &windowed).unwrap();
        prop_assert_eq!(bytes_serde.deserialize(TOPIC, bytes.as_deref()).unwrap(), windowed);

        let long_serde = session_windowed::<i64>();
        let windowed = Windowed::new(long_key, window);
        let bytes = long_serde.serialize(TOPIC, &windowed).unwrap();
        prop_assert_eq!(long_serde.deserialize(TOPIC, bytes.as_deref()).unwrap(), windowed);
    }

    #[test]
    fn json_of_nested_structs_and_enums_round_trips(order in proptest::option::of(order())) {
        let serde = Option::<Order>::default_serde();
        let bytes = serde.serialize(TOPIC, &order).unwrap();
        prop_assert_eq!(serde.deserialize(TOPIC, bytes.as_deref()).unwrap(), order);
    }
}

#[test]
fn hand_picked_inputs_have_the_expected_kinds() {
    assert_eq!(kind(&read::<i32>(Some(&[0, 0, 1]))), Some(Truncated));
    assert_eq!(kind(&read::<i32>(Some(&[0, 0, 0, 1, 0]))), Some(Malformed));
    assert_eq!(kind(&read::<i64>(Some(&[]))), Some(Truncated));
    assert_eq!(kind(&read::<f64>(Some(&[0; 9]))), Some(Malformed));
    assert_eq!(kind(&read::<bool>(Some(&[2]))), Some(Malformed));
    assert_eq!(kind(&read::<String>(Some(&[b'a', 0xFF]))), Some(Malformed));
    assert_eq!(
        kind(&read::<String>(Some(&[0xC3]))),
        Some(Malformed),
        "a cut-short UTF-8 sequence"
    );
    assert_eq!(kind(&read::<()>(Some(&[]))), Some(Malformed));
    for null in [
        kind(&read::<String>(None)),
        kind(&read::<Vec<u8>>(None)),
        kind(&read::<i16>(None)),
        kind(&read::<i32>(None)),
        kind(&read::<i64>(None)),
        kind(&read::<f32>(None)),
        kind(&read::<f64>(None)),
        kind(&read::<bool>(None)),
        kind(&read::<Order>(None)),
        kind(&read::<Windowed<String>>(None)),
        kind(&time_windowed::<String>(Duration::from_secs(1)).deserialize(TOPIC, None)),
    ] {
        assert_eq!(null, Some(Null));
    }

    for (json, expected) in [
        (&b"{\"a\":"[..], Truncated),
        (b"", Truncated),
        (b"{", Truncated),
        (b"{\"id\":1,\"customer\":{\"name\":\"n", Truncated),
        (b"}", Malformed),
        (b"nul", Truncated),
        (b"nulx", Malformed),
        (&[b'"', 0xFF, b'"'], Malformed),
        (b"[1,2]", TypeMismatch),
        (b"\"x\"", TypeMismatch),
        (b"null", TypeMismatch),
        (b"{\"id\":-1}", TypeMismatch),
        (b"{\"id\":1}", TypeMismatch),
    ] {
        let result = read::<Order>(Some(json));
        assert_eq!(
            kind(&result),
            Some(expected),
            "{:?}: {result:?}",
            String::from_utf8_lossy(json)
        );
    }

    let order = Order {
        id: 1,
        customer: Customer {
            name: "n".into(),
            vip: false,
        },
        lines: vec![],
        status: Status::Open,
        coupon: None,
        shipping: None,
    };
    let mut trailing = JsonSerde::new().serialize(TOPIC, &order).unwrap().unwrap();
    assert_eq!(read::<Order>(Some(&trailing)).unwrap(), order);
    trailing.push(b'}');
    assert_eq!(
        kind(&read::<Order>(Some(&trailing))),
        Some(Malformed),
        "trailing characters"
    );

    let ms = Duration::from_millis(1);
    assert_eq!(
        kind(&time_windowed::<String>(ms).deserialize(TOPIC, Some(&[0; 7]))),
        Some(Truncated)
    );
    assert_eq!(
        kind(&session_windowed::<String>().deserialize(TOPIC, Some(&[0; 15]))),
        Some(Truncated)
    );
    let invalid_utf8_key = [&[0xFF][..], &[0; 16]].concat();
    assert_eq!(
        kind(&session_windowed::<String>().deserialize(TOPIC, Some(&invalid_utf8_key))),
        Some(Malformed)
    );
    assert_eq!(
        kind(&time_windowed::<i32>(ms).deserialize(TOPIC, Some(&[0; 11]))),
        Some(Truncated)
    );
}

#[test]
fn values_that_cannot_be_written_are_unserializable() {
    let json = JsonSerde::<BTreeMap<Vec<u8>, u8>>::new();
    assert_eq!(
        kind(&json.serialize(TOPIC, &BTreeMap::from([(vec![1], 1)]))),
        Some(Unserializable)
    );
    assert_eq!(
        kind(&Option::<()>::default_serde().serialize(TOPIC, &Some(()))),
        Some(Unserializable)
    );

    let unit_keys: SharedSerde<()> = Arc::new(UnitSerde);
    let windowed = Windowed::new((), Window::new(0, 1));
    let time = TimeWindowedSerde::new(Arc::clone(&unit_keys), Duration::from_millis(1));
    assert_eq!(kind(&time.serialize(TOPIC, &windowed)), Some(Unserializable));
    assert_eq!(
        kind(&SessionWindowedSerde::new(unit_keys).serialize(TOPIC, &windowed)),
        Some(Unserializable)
    );
}

/// Regression: JSON nested far deeper than `serde_json`'s recursion limit is an error, not a stack
/// overflow.
#[test]
fn deeply_nested_json_is_malformed_not_a_stack_overflow() {
    let deep = "[".repeat(100_000);
    let error = JsonSerde::<serde_json::Value>::new()
        .deserialize(TOPIC, Some(deep.as_bytes()))
        .unwrap_err();
    assert_eq!(error.kind(), Malformed, "{error}");
    assert!(read::<Order>(Some(deep.as_bytes())).is_err());
}

/// Kafka's `TimeWindowedSerializer` (`WindowKeySchema.toBinary`): key bytes, then the window start
/// as 8 bytes big-endian; no end and no sequence number.
#[test]
fn time_windowed_keys_are_kafkas_bytes() {
    let serde = TimeWindowedSerde::new(Arc::new(StringSerde), Duration::from_secs(5 * 60));
    let windowed = Windowed::new("card-1".to_owned(), Window::new(1_700_000_000_000, 1_700_000_300_000));
    #[rustfmt::skip]
    let kafka: &[u8] = &[
        b'c', b'a', b'r', b'd', b'-', b'1',
        0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00, // start 1_700_000_000_000
    ];
    assert_eq!(serde.serialize(TOPIC, &windowed).unwrap().as_deref(), Some(kafka));
    assert_eq!(serde.deserialize(TOPIC, Some(kafka)).unwrap(), windowed);

    let serde = TimeWindowedSerde::new(Arc::new(I32Serde), Duration::from_millis(10));
    #[rustfmt::skip]
    let kafka: &[u8] = &[
        0x00, 0x00, 0x00, 0x2A,                         // Serdes.Integer() 42
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // start -1
    ];
    let windowed = Windowed::new(42, Window::new(-1, 9));
    assert_eq!(serde.serialize(TOPIC, &windowed).unwrap().as_deref(), Some(kafka));
    assert_eq!(serde.deserialize(TOPIC, Some(kafka)).unwrap(), windowed);

    // Java's `timeWindowForSize` truncates an end past `Long.MAX_VALUE` to it.
    let serde = TimeWindowedSerde::new(Arc::new(StringSerde), Duration::from_secs(60));
    let kafka = [b'k', 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE];
    assert_eq!(
        serde.deserialize(TOPIC, Some(&kafka)).unwrap(),
        Windowed::new("k".to_owned(), Window::new(i64::MAX - 1, i64::MAX))
    );
}

/// Kafka's `SessionWindowedSerializer` (`SessionKeySchema.toBinary`): key bytes, then the window end,
/// then the start, 8 bytes big-endian each. The default serde of `Windowed<K>` writes the same.
#[test]
fn session_windowed_keys_are_kafkas_bytes() {
    let windowed = Windowed::new("user-7".to_owned(), Window::new(1_700_000_000_000, 1_700_000_060_000));
    #[rustfmt::skip]
    let kafka: &[u8] = &[
        b'u', b's', b'e', b'r', b'-', b'7',
        0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE6, 0x52, 0x60, // end 1_700_000_060_000
        0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00, // start 1_700_000_000_000
    ];
    let session = SessionWindowedSerde::new(Arc::new(StringSerde));
    let default = Windowed::<String>::default_serde();
    for serde in [&session as &dyn Serde<Windowed<String>>, &*default] {
        assert_eq!(serde.serialize(TOPIC, &windowed).unwrap().as_deref(), Some(kafka));
        assert_eq!(serde.deserialize(TOPIC, Some(kafka)).unwrap(), windowed);
    }

    let serde = SessionWindowedSerde::new(Arc::new(I64Serde));
    #[rustfmt::skip]
    let kafka: &[u8] = &[
        0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // Serdes.Long() i64::MIN
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, // end 5
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, // start -2
    ];
    let windowed = Windowed::new(i64::MIN, Window::new(-2, 5));
    assert_eq!(serde.serialize(TOPIC, &windowed).unwrap().as_deref(), Some(kafka));
    assert_eq!(serde.deserialize(TOPIC, Some(kafka)).unwrap(), windowed);

    let empty_key = [0u8; 16];
    assert_eq!(
        SessionWindowedSerde::new(Arc::new(StringSerde))
            .deserialize(TOPIC, Some(&empty_key))
            .unwrap(),
        Windowed::new(String::new(), Window::new(0, 0))
    );
}
