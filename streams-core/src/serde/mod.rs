//! Serialization of keys and values to and from the bytes on Kafka topics.
//!
//! A [`Serde<T>`] turns a `T` into the bytes of a record's key or value and back. Bytes are
//! `Option`al because Kafka records may have a null key or value: a serde for a plain type refuses
//! null on input (a deserialization error naming the record), while the serde of `Option<T>` maps
//! null to `None` and back, which is how tombstones are read.
//!
//! Serdes are chosen from the types at compile time through [`DefaultSerde`]; the DSL's option
//! objects (`Consumed`, `Produced`, `Materialized`) take other serdes per call.
//!
//! The encodings of the built-in serdes are those of Kafka's Java serdes, so topics are shared with
//! Java applications without surprise: `String` is UTF-8, integers are big-endian two's complement,
//! floats are IEEE 754 big-endian, `Vec<u8>` is the bytes as they are, `()` is always null.
//!
//! | Rust type   | Default serde     | Kafka's Java serde   | Bytes                                          |
//! |-------------|-------------------|----------------------|------------------------------------------------|
//! | `String`    | [`StringSerde`]   | `Serdes.String()`    | UTF-8; invalid UTF-8 is an error               |
//! | `Vec<u8>`   | [`BytesSerde`]    | `Serdes.ByteArray()` | as they are                                    |
//! | `i16`       | [`I16Serde`]      | `Serdes.Short()`     | 2, big-endian two's complement                 |
//! | `i32`       | [`I32Serde`]      | `Serdes.Integer()`   | 4, big-endian two's complement                 |
//! | `i64`       | [`I64Serde`]      | `Serdes.Long()`      | 8, big-endian two's complement                 |
//! | `f32`       | [`F32Serde`]      | `Serdes.Float()`     | 4, IEEE 754 bits, big-endian                   |
//! | `f64`       | [`F64Serde`]      | `Serdes.Double()`    | 8, IEEE 754 bits, big-endian; one NaN          |
//! | `bool`      | [`BoolSerde`]     | `Serdes.Boolean()`   | 1: `0x01` true, `0x00` false                   |
//! | `()`        | [`UnitSerde`]     | `Serdes.Void()`      | always null                                    |
//! | `Option<T>` | [`OptionSerde`]   | (null handling)      | `None` is null, `Some(v)` is `T`'s bytes       |
//! | your type   | [`JsonSerde`]     | (none built in)      | JSON, once you write [`json_serde!`](crate::json_serde) |
//!
//! Fixed-width types must get exactly their width; null for any type but `()` and `Option<T>` is an
//! error. Kafka has no unsigned integer serdes, so neither do we: a `u32` key would not be readable
//! by a Java application with any built-in serde.
//!
//! ```
//! use streams_core::serde::DefaultSerde;
//!
//! let serde = i32::default_serde();
//! assert_eq!(serde.serialize("counts", &1).unwrap(), Some(vec![0, 0, 0, 1]));
//! assert_eq!(serde.deserialize("counts", Some(&[0, 0, 1, 0])).unwrap(), 256);
//! assert!(serde.deserialize("counts", None).is_err());
//! assert_eq!(Option::<i32>::default_serde().deserialize("counts", None).unwrap(), None);
//! ```

use std::sync::Arc;

pub mod avro;
mod json;
mod option;
mod primitive;

pub use json::JsonSerde;
pub use option::OptionSerde;
pub use primitive::{BoolSerde, BytesSerde, F32Serde, F64Serde, I16Serde, I32Serde, I64Serde, StringSerde, UnitSerde};

/// Why a key or value could not be (de)serialized: a [`SerdeErrorKind`] (for handlers and
/// metrics to tell failures apart) and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SerdeError {
    kind: SerdeErrorKind,
    message: String,
}

/// What kind of (de)serialization failure a [`SerdeError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SerdeErrorKind {
    /// The bytes are not in the expected format (invalid UTF-8, not JSON, a wrong length).
    Malformed,
    /// The bytes end before the value does.
    Truncated,
    /// Null bytes where the type has no null (use `Option<T>` for tombstones).
    Null,
    /// Well-formed bytes of another shape than the type (JSON of another structure, an Avro
    /// record that does not resolve into the reader's type).
    TypeMismatch,
    /// Schema-registry framing: the first byte is not the Confluent magic byte 0.
    WrongMagicByte,
    /// Schema-registry framing: the registry has no schema with the record's schema id (or, when
    /// writing without registering, no schema under the subject).
    UnknownSchemaId,
    /// The schema registry could not be reached or answered with an error.
    RegistryUnavailable,
    /// The registry refused a schema as incompatible with the subject's earlier versions.
    IncompatibleSchema,
    /// A value the serde cannot write (e.g. a map key JSON cannot hold, a value too large).
    Unserializable,
}

impl SerdeErrorKind {
    /// A short, stable name: `malformed`, `truncated`, `null`, `type-mismatch`,
    /// `wrong-magic-byte`, `unknown-schema-id`, `registry-unavailable`, `incompatible-schema`,
    /// `unserializable`.
    pub fn as_str(self) -> &'static str {
        match self {
            SerdeErrorKind::Malformed => "malformed",
            SerdeErrorKind::Truncated => "truncated",
            SerdeErrorKind::Null => "null",
            SerdeErrorKind::TypeMismatch => "type-mismatch",
            SerdeErrorKind::WrongMagicByte => "wrong-magic-byte",
            SerdeErrorKind::UnknownSchemaId => "unknown-schema-id",
            SerdeErrorKind::RegistryUnavailable => "registry-unavailable",
            SerdeErrorKind::IncompatibleSchema => "incompatible-schema",
            SerdeErrorKind::Unserializable => "unserializable",
        }
    }
}

impl std::fmt::Display for SerdeErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SerdeError {
    /// A [`SerdeErrorKind::Malformed`] error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        SerdeError::of(SerdeErrorKind::Malformed, message)
    }

    /// An error of `kind` with this message.
    pub fn of(kind: SerdeErrorKind, message: impl Into<String>) -> Self {
        SerdeError {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> SerdeErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Turns a `T` into record bytes and back.
///
/// `topic` is the topic the bytes are written to or were read from (schema-registry serdes derive
/// the subject from it). Implementations must be deterministic: equal values give equal bytes, since
/// bytes are what state stores and partitioners compare.
///
/// # Errors
/// Implementations must not panic on any input bytes: bad input is a [`SerdeError`] whose
/// [`SerdeErrorKind`] says what was wrong (the built-in serdes are property-tested for this with
/// arbitrary bytes). A deserialization error of a source record goes to the deserialization error
/// handler with the record's topic, partition and offset.
pub trait Serde<T>: Send + Sync + 'static {
    /// The bytes of `value`; `None` writes a null key or value.
    fn serialize(&self, topic: &str, value: &T) -> Result<Option<Vec<u8>>, SerdeError>;
    /// The value of `bytes`; `None` is a null key or value.
    fn deserialize(&self, topic: &str, bytes: Option<&[u8]>) -> Result<T, SerdeError>;
}

/// A shared, type-erased serde, as the topology keeps them.
pub type SharedSerde<T> = Arc<dyn Serde<T>>;

/// The serde used for a type when no other is given.
///
/// Implemented for `String`, `Vec<u8>`, `i16`, `i32`, `i64`, `f32`, `f64`, `bool`, `()`,
/// `Option<T>` of those, and, through [`json_serde!`](crate::json_serde), for any `serde` type you
/// name.
pub trait DefaultSerde: Sized + 'static {
    /// The default serde of `Self`.
    fn default_serde() -> SharedSerde<Self>;
}
