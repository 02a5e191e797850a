//! Serdes of Rust's primitive types, writing the same bytes as Kafka's Java `Serdes` (the table is
//! in the [module docs](super)).
//!
//! Java serdes turn a null record into a null object; a Rust `String` or `i64` has no null, so these
//! serdes refuse null on input, and the serde of `Option<T>` ([`OptionSerde`](super::OptionSerde))
//! is the one that reads null as `None`.

use std::sync::Arc;

use super::{DefaultSerde, Serde, SerdeError, SerdeErrorKind, SharedSerde};

/// `String` as UTF-8, as Kafka's `Serdes.String()` with its default encoding.
///
/// Bytes that are not UTF-8 are an error, where Java would put U+FFFD in their place: a string
/// changed by reading it would be written back as different bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StringSerde;

impl Serde<String> for StringSerde {
    fn serialize(&self, _topic: &str, value: &String) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(value.as_bytes().to_vec()))
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<String, SerdeError> {
        let bytes = non_null(bytes, "String")?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|e| {
            SerdeError::of(
                SerdeErrorKind::Malformed,
                format!("invalid UTF-8 where a String was expected: {e}"),
            )
        })
    }
}

/// `Vec<u8>` as the bytes it holds, as Kafka's `Serdes.ByteArray()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BytesSerde;

impl Serde<Vec<u8>> for BytesSerde {
    fn serialize(&self, _topic: &str, value: &Vec<u8>) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(value.clone()))
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<Vec<u8>, SerdeError> {
        non_null(bytes, "Vec<u8>").map(<[u8]>::to_vec)
    }
}

/// `i16` as 2 bytes of big-endian two's complement, as Kafka's `Serdes.Short()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct I16Serde;

impl Serde<i16> for I16Serde {
    fn serialize(&self, _topic: &str, value: &i16) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(value.to_be_bytes().to_vec()))
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<i16, SerdeError> {
        fixed_width(bytes, "i16").map(i16::from_be_bytes)
    }
}

/// `i32` as 4 bytes of big-endian two's complement, as Kafka's `Serdes.Integer()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct I32Serde;

impl Serde<i32> for I32Serde {
    fn serialize(&self, _topic: &str, value: &i32) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(value.to_be_bytes().to_vec()))
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<i32, SerdeError> {
        fixed_width(bytes, "i32").map(i32::from_be_bytes)
    }
}

/// `i64` as 8 bytes of big-endian two's complement, as Kafka's `Serdes.Long()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct I64Serde;

impl Serde<i64> for I64Serde {
    fn serialize(&self, _topic: &str, value: &i64) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(value.to_be_bytes().to_vec()))
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<i64, SerdeError> {
        fixed_width(bytes, "i64").map(i64::from_be_bytes)
    }
}

/// `f32` as its 4 IEEE 754 bytes, big-endian, as Kafka's `Serdes.Float()`.
///
/// The bits are written as they are (Java's `floatToRawIntBits`), NaN payloads included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct F32Serde;

impl Serde<f32> for F32Serde {
    fn serialize(&self, _topic: &str, value: &f32) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(value.to_bits().to_be_bytes().to_vec()))
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<f32, SerdeError> {
        fixed_width(bytes, "f32").map(|b| f32::from_bits(u32::from_be_bytes(b)))
    }
}

/// `f64` as its 8 IEEE 754 bytes, big-endian, as Kafka's `Serdes.Double()`.
///
/// Like Kafka's `DoubleSerializer` (Java's `doubleToLongBits`), every NaN is written as the one
/// canonical NaN `0x7FF8000000000000`, so equal-looking values give equal bytes. Reading keeps the
/// bits as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct F64Serde;

impl F64Serde {
    /// The bits Java's `Double.doubleToLongBits` gives every NaN.
    const CANONICAL_NAN: u64 = 0x7FF8_0000_0000_0000;
}

impl Serde<f64> for F64Serde {
    fn serialize(&self, _topic: &str, value: &f64) -> Result<Option<Vec<u8>>, SerdeError> {
        let bits = if value.is_nan() {
            Self::CANONICAL_NAN
        } else {
            value.to_bits()
        };
        Ok(Some(bits.to_be_bytes().to_vec()))
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<f64, SerdeError> {
        fixed_width(bytes, "f64").map(|b| f64::from_bits(u64::from_be_bytes(b)))
    }
}

/// `bool` as one byte, `0x01` for true and `0x00` for false, as Kafka's `Serdes.Boolean()`; any
/// other byte is an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoolSerde;

impl Serde<bool> for BoolSerde {
    fn serialize(&self, _topic: &str, value: &bool) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(vec![u8::from(*value)]))
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<bool, SerdeError> {
        match fixed_width(bytes, "bool")? {
            [0x00] => Ok(false),
            [0x01] => Ok(true),
            [other] => Err(SerdeError::of(
                SerdeErrorKind::Malformed,
                format!("byte 0x{other:02X} where a bool was expected (0x01 is true, 0x00 is false)"),
            )),
        }
    }
}

/// `()` as a null key or value, as Kafka's `Serdes.Void()`: it writes null and reads only null.
///
/// The key type of records that have no key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitSerde;

impl Serde<()> for UnitSerde {
    fn serialize(&self, _topic: &str, _value: &()) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(None)
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<(), SerdeError> {
        match bytes {
            None => Ok(()),
            Some(bytes) => Err(SerdeError::of(
                SerdeErrorKind::Malformed,
                format!(
                    "{} where a () was expected: a () key or value is always null",
                    byte_count(bytes.len())
                ),
            )),
        }
    }
}

/// The bytes of a key or value that may not be null; null is a [`SerdeErrorKind::Null`] error
/// naming the `expected` type.
pub(super) fn non_null<'a>(bytes: Option<&'a [u8]>, expected: &str) -> Result<&'a [u8], SerdeError> {
    bytes.ok_or_else(|| {
        SerdeError::of(
            SerdeErrorKind::Null,
            format!("null key or value where a {expected} was expected"),
        )
    })
}

/// The `N` bytes of a fixed-width `expected` type; null is an error, and so is any other length:
/// fewer bytes are [`Truncated`](SerdeErrorKind::Truncated), more are
/// [`Malformed`](SerdeErrorKind::Malformed).
fn fixed_width<const N: usize>(bytes: Option<&[u8]>, expected: &str) -> Result<[u8; N], SerdeError> {
    let bytes = non_null(bytes, expected)?;
    bytes.try_into().map_err(|_| {
        let kind = if bytes.len() < N {
            SerdeErrorKind::Truncated
        } else {
            SerdeErrorKind::Malformed
        };
        SerdeError::of(
            kind,
            format!(
                "{} where a {expected} was expected: a {expected} is exactly {}",
                byte_count(bytes.len()),
                byte_count(N)
            ),
        )
    })
}

/// "1 byte", "4 bytes".
fn byte_count(n: usize) -> String {
    if n == 1 {
        "1 byte".to_owned()
    } else {
        format!("{n} bytes")
    }
}

/// `impl DefaultSerde for $type` with the unit struct `$serde`.
macro_rules! default_serdes {
    ($($type:ty => $serde:ident),+ $(,)?) => {
        $(
            impl DefaultSerde for $type {
                fn default_serde() -> SharedSerde<Self> {
                    Arc::new($serde)
                }
            }
        )+
    };
}

default_serdes!(
    String => StringSerde,
    Vec<u8> => BytesSerde,
    i16 => I16Serde,
    i32 => I32Serde,
    i64 => I64Serde,
    f32 => F32Serde,
    f64 => F64Serde,
    bool => BoolSerde,
    () => UnitSerde,
);

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use proptest::prelude::*;

    use super::*;

    const TOPIC: &str = "t";

    /// The bytes `T`'s default serde writes for `value`.
    fn bytes_of<T: DefaultSerde>(value: T) -> Option<Vec<u8>> {
        T::default_serde().serialize(TOPIC, &value).unwrap()
    }

    /// What `T`'s default serde reads from `bytes`.
    fn read<T: DefaultSerde>(bytes: Option<&[u8]>) -> Result<T, SerdeError> {
        T::default_serde().deserialize(TOPIC, bytes)
    }

    /// `value` written and read back by `T`'s default serde.
    fn round_trip<T: DefaultSerde + Debug>(value: &T) -> T {
        let serde = T::default_serde();
        let bytes = serde.serialize(TOPIC, value).unwrap();
        serde.deserialize(TOPIC, bytes.as_deref()).unwrap()
    }

    /// The message of the error reading `bytes` as a `T`.
    fn read_error<T: DefaultSerde + Debug>(bytes: Option<&[u8]>) -> String {
        read::<T>(bytes).unwrap_err().to_string()
    }

    #[test]
    fn string_is_utf8_like_kafka() {
        assert_eq!(bytes_of("é".to_string()), Some(vec![0xC3, 0xA9]));
        assert_eq!(bytes_of("ab".to_string()), Some(b"ab".to_vec()));
        assert_eq!(bytes_of(String::new()), Some(vec![]), "the empty string is not null");
        assert_eq!(read::<String>(Some(&[0xC3, 0xA9])).unwrap(), "é");
        assert_eq!(read::<String>(Some(&[])).unwrap(), "");
    }

    #[test]
    fn bytes_are_as_they_are() {
        assert_eq!(bytes_of(vec![0u8, 0xFF, 7]), Some(vec![0, 0xFF, 7]));
        assert_eq!(bytes_of(Vec::<u8>::new()), Some(vec![]));
        assert_eq!(read::<Vec<u8>>(Some(&[1, 2])).unwrap(), vec![1, 2]);
    }

    #[test]
    fn integers_are_big_endian_twos_complement_like_kafka() {
        assert_eq!(bytes_of(1i16), Some(vec![0, 1]));
        assert_eq!(bytes_of(0x0102i16), Some(vec![1, 2]));
        assert_eq!(bytes_of(-1i16), Some(vec![0xFF; 2]));
        assert_eq!(bytes_of(i16::MIN), Some(vec![0x80, 0]));

        assert_eq!(bytes_of(1i32), Some(vec![0, 0, 0, 1]));
        assert_eq!(bytes_of(0x0102_0304i32), Some(vec![1, 2, 3, 4]));
        assert_eq!(bytes_of(-1i32), Some(vec![0xFF; 4]));
        assert_eq!(bytes_of(i32::MIN), Some(vec![0x80, 0, 0, 0]));
        assert_eq!(bytes_of(i32::MAX), Some(vec![0x7F, 0xFF, 0xFF, 0xFF]));

        assert_eq!(bytes_of(1i64), Some(vec![0, 0, 0, 0, 0, 0, 0, 1]));
        assert_eq!(bytes_of(-1i64), Some(vec![0xFF; 8]));
        assert_eq!(bytes_of(0x0102_0304_0506_0708i64), Some(vec![1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(bytes_of(i64::MIN), Some(vec![0x80, 0, 0, 0, 0, 0, 0, 0]));

        assert_eq!(read::<i16>(Some(&[0xFF, 0xFE])).unwrap(), -2);
        assert_eq!(read::<i32>(Some(&[0, 0, 1, 0])).unwrap(), 256);
        assert_eq!(read::<i64>(Some(&[0xFF; 8])).unwrap(), -1);
    }

    #[test]
    fn floats_are_ieee_754_big_endian_like_kafka() {
        assert_eq!(bytes_of(1.0f32), Some(vec![0x3F, 0x80, 0, 0]));
        assert_eq!(bytes_of(-2.5f32), Some(vec![0xC0, 0x20, 0, 0]));
        assert_eq!(bytes_of(1.0f64), Some(vec![0x3F, 0xF0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(bytes_of(-0.0f64), Some(vec![0x80, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(bytes_of(f64::INFINITY), Some(vec![0x7F, 0xF0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(read::<f32>(Some(&[0x3F, 0x80, 0, 0])).unwrap(), 1.0);
        assert_eq!(
            read::<f64>(Some(&[0x40, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18])).unwrap(),
            std::f64::consts::PI
        );
    }

    #[test]
    fn f64_nans_are_written_as_javas_canonical_nan_and_f32_nans_raw() {
        let negative_nan_with_payload = f64::from_bits(0xFFF8_0000_0000_0001);
        assert!(negative_nan_with_payload.is_nan());
        assert_eq!(
            bytes_of(negative_nan_with_payload),
            Some(vec![0x7F, 0xF8, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(bytes_of(f64::NAN), Some(vec![0x7F, 0xF8, 0, 0, 0, 0, 0, 0]));

        let f32_nan_with_payload = f32::from_bits(0xFFC0_0001);
        assert_eq!(bytes_of(f32_nan_with_payload), Some(vec![0xFF, 0xC0, 0, 1]));
    }

    #[test]
    fn bool_is_one_byte_like_kafka() {
        assert_eq!(bytes_of(true), Some(vec![1]));
        assert_eq!(bytes_of(false), Some(vec![0]));
        assert!(read::<bool>(Some(&[1])).unwrap());
        assert!(!read::<bool>(Some(&[0])).unwrap());
    }

    #[test]
    fn unit_is_null_like_kafkas_void() {
        assert_eq!(bytes_of(()), None);
        read::<()>(None).unwrap();
    }

    #[test]
    fn null_for_a_plain_type_is_an_error_naming_the_type() {
        for (message, expected) in [
            (read_error::<String>(None), "String"),
            (read_error::<Vec<u8>>(None), "Vec<u8>"),
            (read_error::<i16>(None), "i16"),
            (read_error::<i32>(None), "i32"),
            (read_error::<i64>(None), "i64"),
            (read_error::<f32>(None), "f32"),
            (read_error::<f64>(None), "f64"),
            (read_error::<bool>(None), "bool"),
        ] {
            assert_eq!(message, format!("null key or value where a {expected} was expected"));
        }
    }

    #[test]
    fn a_wrong_length_is_an_error() {
        assert_eq!(
            read_error::<i16>(Some(&[1])),
            "1 byte where a i16 was expected: a i16 is exactly 2 bytes"
        );
        assert_eq!(
            read_error::<i32>(Some(&[0, 0, 1])),
            "3 bytes where a i32 was expected: a i32 is exactly 4 bytes"
        );
        assert_eq!(
            read_error::<i64>(Some(&[0; 9])),
            "9 bytes where a i64 was expected: a i64 is exactly 8 bytes"
        );
        assert_eq!(
            read_error::<f32>(Some(&[])),
            "0 bytes where a f32 was expected: a f32 is exactly 4 bytes"
        );
        assert_eq!(
            read_error::<f64>(Some(&[0; 4])),
            "4 bytes where a f64 was expected: a f64 is exactly 8 bytes"
        );
        assert_eq!(
            read_error::<bool>(Some(&[1, 0])),
            "2 bytes where a bool was expected: a bool is exactly 1 byte"
        );
        assert_eq!(
            read_error::<bool>(Some(&[])),
            "0 bytes where a bool was expected: a bool is exactly 1 byte"
        );
    }

    #[test]
    fn a_bool_byte_other_than_0_or_1_is_an_error() {
        assert_eq!(
            read_error::<bool>(Some(&[2])),
            "byte 0x02 where a bool was expected (0x01 is true, 0x00 is false)"
        );
        assert!(read::<bool>(Some(&[0xFF])).is_err());
    }

    #[test]
    fn invalid_utf8_is_an_error_naming_the_problem() {
        let message = read_error::<String>(Some(&[b'a', 0xFF]));
        assert!(
            message.starts_with("invalid UTF-8 where a String was expected: "),
            "{message}"
        );
        assert!(message.contains("invalid utf-8 sequence"), "{message}");
        assert!(read::<String>(Some(&[0xC3])).is_err(), "a truncated sequence");
    }

    #[test]
    fn non_null_bytes_for_unit_are_an_error() {
        assert_eq!(
            read_error::<()>(Some(&[])),
            "0 bytes where a () was expected: a () key or value is always null"
        );
        assert!(read::<()>(Some(&[0])).is_err());
    }

    proptest! {
        #[test]
        fn string_round_trips(value in any::<String>()) {
            prop_assert_eq!(round_trip(&value), value);
        }

        #[test]
        fn bytes_round_trip(value in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(round_trip(&value), value);
        }

        #[test]
        fn i16_round_trips(value in any::<i16>()) {
            prop_assert_eq!(round_trip(&value), value);
        }

        #[test]
        fn i32_round_trips(value in any::<i32>()) {
            prop_assert_eq!(round_trip(&value), value);
        }

        #[test]
        fn i64_round_trips(value in any::<i64>()) {
            prop_assert_eq!(round_trip(&value), value);
        }

        #[test]
        fn integers_order_like_their_bytes_when_non_negative(a in 0..=i64::MAX, b in 0..=i64::MAX) {
            prop_assert_eq!(a.cmp(&b), bytes_of(a).cmp(&bytes_of(b)));
        }

        /// Every bit pattern, NaN payloads and signalling NaNs included, comes back as it went.
        #[test]
        fn f32_round_trips_bit_for_bit(bits in any::<u32>()) {
            prop_assert_eq!(round_trip(&f32::from_bits(bits)).to_bits(), bits);
        }

        /// Every bit pattern comes back as it went, except NaNs, which come back as the canonical NaN.
        #[test]
        fn f64_round_trips_bit_for_bit_but_nans_are_canonical(bits in any::<u64>()) {
            let value = f64::from_bits(bits);
            let expected = if value.is_nan() { F64Serde::CANONICAL_NAN } else { bits };
            prop_assert_eq!(round_trip(&value).to_bits(), expected);
        }

        #[test]
        fn bool_round_trips(value in any::<bool>()) {
            prop_assert_eq!(round_trip(&value), value);
        }

        /// Every byte string of the right width reads as a value that writes the same bytes.
        #[test]
        fn fixed_width_bytes_read_and_write_back(bytes in any::<[u8; 8]>()) {
            prop_assert_eq!(bytes_of(read::<i16>(Some(&bytes[..2])).unwrap()).unwrap(), &bytes[..2]);
            prop_assert_eq!(bytes_of(read::<i32>(Some(&bytes[..4])).unwrap()).unwrap(), &bytes[..4]);
            prop_assert_eq!(bytes_of(read::<i64>(Some(&bytes)).unwrap()).unwrap(), &bytes[..]);
            prop_assert_eq!(bytes_of(read::<f32>(Some(&bytes[..4])).unwrap()).unwrap(), &bytes[..4]);
            let double = read::<f64>(Some(&bytes)).unwrap();
            if !double.is_nan() {
                prop_assert_eq!(bytes_of(double).unwrap(), &bytes[..]);
            }
        }

        #[test]
        fn any_other_length_is_refused(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            prop_assert_eq!(read::<i16>(Some(&bytes)).is_ok(), bytes.len() == 2);
            prop_assert_eq!(read::<i32>(Some(&bytes)).is_ok(), bytes.len() == 4);
            prop_assert_eq!(read::<i64>(Some(&bytes)).is_ok(), bytes.len() == 8);
            prop_assert_eq!(read::<f32>(Some(&bytes)).is_ok(), bytes.len() == 4);
            prop_assert_eq!(read::<f64>(Some(&bytes)).is_ok(), bytes.len() == 8);
        }

        #[test]
        fn unit_round_trips_and_refuses_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..8)) {
            round_trip(&());
            prop_assert!(read::<()>(Some(&bytes)).is_err());
        }
    }
}
