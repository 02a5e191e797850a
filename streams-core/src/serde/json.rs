//! The JSON serde of any `serde` type, and [`json_serde!`](crate::json_serde) to make it a type's
//! default.

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;

use ::serde::Serialize;
use ::serde::de::DeserializeOwned;

use super::primitive::non_null;
use super::{Serde, SerdeError, SerdeErrorKind};

/// A `T` as JSON text in UTF-8, through `serde_json`: compact, fields in declaration order.
///
/// Null bytes are an error (use `Option<T>` to read tombstones), and so is text that is not a `T`,
/// with `serde_json`'s message; its [kind](super::SerdeErrorKind) is `Truncated` for text that ends
/// early, `Malformed` for text that is not JSON, and `TypeMismatch` for JSON of another shape.
/// Keys must serialize deterministically: a `HashMap` writes its entries in no fixed order, so key
/// types should use a `BTreeMap`. Non-finite floats have no JSON form; `serde_json` writes them as
/// `null`, which does not read back as a float.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use streams_core::serde::{JsonSerde, Serde};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Txn {
///     card: String,
///     amount_cents: i64,
/// }
///
/// let serde = JsonSerde::<Txn>::new();
/// let txn = Txn { card: "c1".into(), amount_cents: 500 };
/// let bytes = serde.serialize("transactions", &txn).unwrap();
/// assert_eq!(bytes.as_deref(), Some(&br#"{"card":"c1","amount_cents":500}"#[..]));
/// assert_eq!(serde.deserialize("transactions", bytes.as_deref()).unwrap(), txn);
/// ```
pub struct JsonSerde<T> {
    // `fn() -> T`: the serde holds no `T`, so it is `Send + Sync` whatever `T` is.
    _type: PhantomData<fn() -> T>,
}

impl<T> JsonSerde<T> {
    /// The JSON serde of `T`.
    pub const fn new() -> Self {
        JsonSerde { _type: PhantomData }
    }
}

impl<T> Default for JsonSerde<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for JsonSerde<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for JsonSerde<T> {}

impl<T> fmt::Debug for JsonSerde<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonSerde<{}>", type_name::<T>())
    }
}

impl<T> Serde<T> for JsonSerde<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn serialize(&self, _topic: &str, value: &T) -> Result<Option<Vec<u8>>, SerdeError> {
        serde_json::to_vec(value).map(Some).map_err(|e| {
            SerdeError::of(
                SerdeErrorKind::Unserializable,
                format!("could not write a {} as JSON: {e}", type_name::<T>()),
            )
        })
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<T, SerdeError> {
        let bytes = non_null(bytes, type_name::<T>())?;
        serde_json::from_slice(bytes).map_err(|e| {
            SerdeError::of(
                read_error_kind(&e),
                format!("could not read a {} from JSON: {e}", type_name::<T>()),
            )
        })
    }
}

/// The kind of a `serde_json` reading error: text that ends early is
/// [`Truncated`](SerdeErrorKind::Truncated), text that is not JSON (bad syntax, invalid UTF-8,
/// trailing characters, nesting past the recursion limit) is
/// [`Malformed`](SerdeErrorKind::Malformed), and JSON of another shape than the type (a wrong type, a
/// missing field, an unknown variant, a number out of range) is a
/// [`TypeMismatch`](SerdeErrorKind::TypeMismatch).
fn read_error_kind(error: &serde_json::Error) -> SerdeErrorKind {
    match error.classify() {
        serde_json::error::Category::Eof => SerdeErrorKind::Truncated,
        serde_json::error::Category::Data => SerdeErrorKind::TypeMismatch,
        serde_json::error::Category::Syntax | serde_json::error::Category::Io => SerdeErrorKind::Malformed,
    }
}

/// Makes JSON ([`JsonSerde`](crate::serde::JsonSerde)) the default serde of each type named.
///
/// Each type must implement `serde`'s `Serialize` and `Deserialize`. `Option<T>` of those types then
/// has a default serde too, with `None` as null.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use streams_core::serde::DefaultSerde;
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Txn {
///     card: String,
///     amount_cents: i64,
/// }
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct CardStats {
///     count: u64,
/// }
///
/// streams_core::json_serde!(Txn, CardStats);
///
/// let bytes = CardStats::default_serde().serialize("stats", &CardStats { count: 3 }).unwrap();
/// assert_eq!(bytes.as_deref(), Some(&br#"{"count":3}"#[..]));
/// let tombstone = Option::<Txn>::default_serde().serialize("transactions", &None).unwrap();
/// assert_eq!(tombstone, None);
/// ```
#[macro_export]
macro_rules! json_serde {
    ($($type:ty),+ $(,)?) => {
        $(
            impl $crate::serde::DefaultSerde for $type {
                fn default_serde() -> $crate::serde::SharedSerde<Self> {
                    ::std::sync::Arc::new($crate::serde::JsonSerde::<$type>::new())
                }
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ::serde::{Deserialize, Serialize};
    use proptest::prelude::*;

    use super::*;
    use crate::serde::DefaultSerde;

    const TOPIC: &str = "t";

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Txn {
        card: String,
        amount_cents: i64,
        approved: bool,
        note: Option<String>,
        tags: Vec<String>,
        counts: BTreeMap<String, u32>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct CardId(u64);

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Decision {
        Allow,
        Deny { reason: String },
    }

    crate::json_serde!(Txn);
    crate::json_serde!(CardId, Decision,);

    fn txn() -> impl Strategy<Value = Txn> {
        (
            any::<String>(),
            any::<i64>(),
            any::<bool>(),
            any::<Option<String>>(),
            proptest::collection::vec(any::<String>(), 0..4),
            proptest::collection::btree_map(any::<String>(), any::<u32>(), 0..4),
        )
            .prop_map(|(card, amount_cents, approved, note, tags, counts)| Txn {
                card,
                amount_cents,
                approved,
                note,
                tags,
                counts,
            })
    }

    fn decision() -> impl Strategy<Value = Decision> {
        prop_oneof![
            Just(Decision::Allow),
            any::<String>().prop_map(|reason| Decision::Deny { reason })
        ]
    }

    /// `value` written and read back by `T`'s default serde.
    fn round_trip<T: DefaultSerde>(value: &T) -> T {
        let serde = T::default_serde();
        let bytes = serde.serialize(TOPIC, value).unwrap();
        serde.deserialize(TOPIC, bytes.as_deref()).unwrap()
    }

    #[test]
    fn writes_compact_json_in_field_order() {
        let value = Txn {
            card: "c1".into(),
            amount_cents: -5,
            approved: true,
            note: None,
            tags: vec!["é".into()],
            counts: BTreeMap::from([("b".into(), 2), ("a".into(), 1)]),
        };
        let bytes = JsonSerde::<Txn>::new().serialize(TOPIC, &value).unwrap().unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"card":"c1","amount_cents":-5,"approved":true,"note":null,"tags":["é"],"counts":{"a":1,"b":2}}"#
        );
    }

    #[test]
    fn json_serde_macro_makes_json_the_default() {
        assert_eq!(
            CardId::default_serde().serialize(TOPIC, &CardId(7)).unwrap(),
            Some(b"7".to_vec())
        );
        let deny = Decision::Deny { reason: "x".into() };
        assert_eq!(
            Decision::default_serde().serialize(TOPIC, &deny).unwrap(),
            Some(br#"{"Deny":{"reason":"x"}}"#.to_vec())
        );
        assert_eq!(
            Decision::default_serde()
                .deserialize(TOPIC, Some(br#""Allow""#))
                .unwrap(),
            Decision::Allow
        );
        assert_eq!(Option::<CardId>::default_serde().serialize(TOPIC, &None).unwrap(), None);
        assert_eq!(
            Option::<CardId>::default_serde()
                .deserialize(TOPIC, Some(b"3"))
                .unwrap(),
            Some(CardId(3))
        );
    }

    #[test]
    fn null_is_an_error_naming_the_type() {
        let error = Txn::default_serde().deserialize(TOPIC, None).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("null key or value where a {} was expected", type_name::<Txn>())
        );
    }

    #[test]
    fn text_that_is_not_the_type_is_an_error_with_serde_jsons_message() {
        let serde = JsonSerde::<CardId>::new();
        let message = serde.deserialize(TOPIC, Some(b"\"seven\"")).unwrap_err().to_string();
        let serde_json_message = serde_json::from_slice::<CardId>(b"\"seven\"").unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "could not read a {} from JSON: {serde_json_message}",
                type_name::<CardId>()
            )
        );

        assert!(serde.deserialize(TOPIC, Some(b"")).is_err(), "empty bytes are not JSON");
        assert!(serde.deserialize(TOPIC, Some(b"7 8")).is_err(), "trailing text");
        assert!(serde.deserialize(TOPIC, Some(&[0xFF])).is_err(), "not UTF-8");
    }

    #[test]
    fn values_json_cannot_hold_are_an_error_with_serde_jsons_message() {
        let serde = JsonSerde::<BTreeMap<Vec<u8>, u8>>::new();
        let message = serde
            .serialize(TOPIC, &BTreeMap::from([(vec![1], 1)]))
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("could not write a "), "{message}");
        assert!(message.ends_with(": key must be a string"), "{message}");
    }

    #[test]
    fn debug_names_the_type() {
        assert_eq!(format!("{:?}", JsonSerde::<u8>::new()), "JsonSerde<u8>");
    }

    proptest! {
        #[test]
        fn json_round_trips(value in txn()) {
            prop_assert_eq!(round_trip(&value), value);
        }

        #[test]
        fn json_round_trips_through_the_macro_for_newtypes_and_enums(id in any::<u64>(), decision in decision()) {
            prop_assert_eq!(round_trip(&CardId(id)), CardId(id));
            prop_assert_eq!(round_trip(&decision), decision);
        }

        #[test]
        fn option_of_json_round_trips(value in proptest::option::of(txn())) {
            prop_assert_eq!(round_trip(&value), value);
        }

        #[test]
        fn equal_values_give_equal_bytes(value in txn()) {
            let serde = Txn::default_serde();
            prop_assert_eq!(serde.serialize(TOPIC, &value).unwrap(), serde.serialize(TOPIC, &value.clone()).unwrap());
        }
    }
}
