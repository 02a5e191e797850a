//! The serde of `Option<T>`: `None` is a null key or value, so a KTable's tombstones read as `None`.

use std::any::type_name;
use std::fmt;
use std::sync::Arc;

use super::{DefaultSerde, Serde, SerdeError, SerdeErrorKind, SharedSerde};

/// `Option<T>` over a serde of `T`: `None` is null, `Some(v)` is the bytes the inner serde writes
/// for `v`.
///
/// The inner serde must not write null for a value, since that would read back as `None`: doing so
/// is an error. So `Option<()>` can hold only `None`.
///
/// ```
/// use std::sync::Arc;
/// use streams_core::serde::{I32Serde, OptionSerde, Serde};
///
/// let serde = OptionSerde::new(Arc::new(I32Serde));
/// assert_eq!(serde.serialize("t", &Some(1)).unwrap(), Some(vec![0, 0, 0, 1]));
/// assert_eq!(serde.serialize("t", &None).unwrap(), None);
/// assert_eq!(serde.deserialize("t", None).unwrap(), None);
/// ```
pub struct OptionSerde<T> {
    inner: SharedSerde<T>,
}

impl<T> OptionSerde<T> {
    /// Null for `None`, and `inner` for the value in `Some`.
    pub fn new(inner: SharedSerde<T>) -> Self {
        OptionSerde { inner }
    }
}

impl<T> Clone for OptionSerde<T> {
    fn clone(&self) -> Self {
        OptionSerde {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> fmt::Debug for OptionSerde<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OptionSerde<{}>", type_name::<T>())
    }
}

impl<T: 'static> Serde<Option<T>> for OptionSerde<T> {
    fn serialize(&self, topic: &str, value: &Option<T>) -> Result<Option<Vec<u8>>, SerdeError> {
        let Some(value) = value else {
            return Ok(None);
        };
        match self.inner.serialize(topic, value)? {
            Some(bytes) => Ok(Some(bytes)),
            None => Err(SerdeError::of(
                SerdeErrorKind::Unserializable,
                format!(
                    "the serde of {} wrote null for a value in Some, which would read back as None",
                    type_name::<T>()
                ),
            )),
        }
    }

    fn deserialize(&self, topic: &str, bytes: Option<&[u8]>) -> Result<Option<T>, SerdeError> {
        match bytes {
            None => Ok(None),
            Some(bytes) => self.inner.deserialize(topic, Some(bytes)).map(Some),
        }
    }
}

impl<T: DefaultSerde> DefaultSerde for Option<T> {
    /// An [`OptionSerde`] over `T`'s default serde.
    fn default_serde() -> SharedSerde<Self> {
        Arc::new(OptionSerde::new(T::default_serde()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::serde::{I32Serde, StringSerde};

    const TOPIC: &str = "t";

    /// `value` written and read back by `T`'s default serde.
    fn round_trip<T: DefaultSerde>(value: &T) -> T {
        let serde = T::default_serde();
        let bytes = serde.serialize(TOPIC, value).unwrap();
        serde.deserialize(TOPIC, bytes.as_deref()).unwrap()
    }

    #[test]
    fn none_is_null_and_some_is_the_inner_bytes() {
        let serde = Option::<i32>::default_serde();
        assert_eq!(serde.serialize(TOPIC, &None).unwrap(), None);
        assert_eq!(serde.serialize(TOPIC, &Some(1)).unwrap(), Some(vec![0, 0, 0, 1]));
        assert_eq!(serde.deserialize(TOPIC, None).unwrap(), None);
        assert_eq!(serde.deserialize(TOPIC, Some(&[0, 0, 0, 2])).unwrap(), Some(2));
    }

    #[test]
    fn some_empty_string_is_empty_bytes_not_null() {
        let serde = OptionSerde::new(Arc::new(StringSerde));
        assert_eq!(serde.serialize(TOPIC, &Some(String::new())).unwrap(), Some(vec![]));
        assert_eq!(serde.deserialize(TOPIC, Some(&[])).unwrap(), Some(String::new()));
    }

    #[test]
    fn inner_errors_pass_through() {
        let serde = OptionSerde::new(Arc::new(I32Serde));
        let error = serde.deserialize(TOPIC, Some(&[1])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "1 byte where a i32 was expected: a i32 is exactly 4 bytes"
        );
    }

    #[test]
    fn an_inner_serde_writing_null_for_some_is_an_error() {
        let serde = Option::<()>::default_serde();
        assert_eq!(serde.serialize(TOPIC, &None).unwrap(), None);
        let error = serde.serialize(TOPIC, &Some(())).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the serde of () wrote null for a value in Some, which would read back as None"
        );

        let nested = Option::<Option<i32>>::default_serde();
        assert!(nested.serialize(TOPIC, &Some(None)).is_err());
        assert_eq!(nested.serialize(TOPIC, &Some(Some(1))).unwrap(), Some(vec![0, 0, 0, 1]));
    }

    #[test]
    fn debug_names_the_inner_type() {
        assert_eq!(
            format!("{:?}", OptionSerde::new(Arc::new(I32Serde))),
            "OptionSerde<i32>"
        );
    }

    proptest! {
        #[test]
        fn option_string_round_trips(value in any::<Option<String>>()) {
            prop_assert_eq!(round_trip(&value), value);
        }

        #[test]
        fn option_bytes_round_trip(value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..32))) {
            prop_assert_eq!(round_trip(&value), value);
        }

        #[test]
        fn option_integers_round_trip(a in any::<Option<i16>>(), b in any::<Option<i32>>(), c in any::<Option<i64>>()) {
            prop_assert_eq!(round_trip(&a), a);
            prop_assert_eq!(round_trip(&b), b);
            prop_assert_eq!(round_trip(&c), c);
        }

        #[test]
        fn option_floats_round_trip(a in any::<Option<u32>>(), b in any::<Option<u64>>()) {
            let a = a.map(f32::from_bits);
            let b = b.map(f64::from_bits).filter(|v| !v.is_nan());
            prop_assert_eq!(round_trip(&a).map(f32::to_bits), a.map(f32::to_bits));
            prop_assert_eq!(round_trip(&b).map(f64::to_bits), b.map(f64::to_bits));
        }

        #[test]
        fn option_bool_round_trips(value in any::<Option<bool>>()) {
            prop_assert_eq!(round_trip(&value), value);
        }

        #[test]
        fn nested_options_round_trip_where_they_can_be_written(value in any::<Option<i64>>()) {
            let nested = value.map(Some);
            prop_assert_eq!(round_trip(&nested), nested);
        }
    }
}
