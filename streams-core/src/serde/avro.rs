//! Avro with a schema registry, in the Confluent wire format: byte 0 (the magic byte), the
//! writer schema's id as a 4-byte big-endian integer, then the Avro binary body. Java producers
//! and consumers using Confluent's `KafkaAvroSerializer`/`KafkaAvroDeserializer` read and write the
//! same bytes.
//!
//! - [`SchemaRegistry`]: where schemas live (URL, credentials), shared by serdes; schemas are
//!   cached by id and by subject, so the registry is asked once per schema, never per record.
//! - [`AvroSerde<T>`]: a serde for a Rust type with `serde` derives and an Avro schema (the
//!   reader schema: records written with an older or newer compatible schema are resolved into it).
//! - [`GenericAvroSerde`]: Avro values ([`apache_avro::types::Value`]) for users without Rust
//!   types.
//!
//! Registry calls run on a small background runtime, so the serdes can be used from any thread
//! (a stream thread, or an async task serving interactive queries).

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Duration;

use apache_avro::Schema;
use apache_avro::types::Value;
use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{SchemaType, SubjectNameStrategy, SuppliedSchema};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Serde, SerdeError, SerdeErrorKind};

/// The Confluent wire format's first byte.
pub const MAGIC_BYTE: u8 = 0;
/// Magic byte plus schema id: the bytes before the Avro body.
pub const HEADER_LEN: usize = 5;

/// Where a registry's subject name comes from (Confluent's `subject.name.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubjectNaming {
    /// `<topic>-key` / `<topic>-value`: one schema history per topic. Confluent's default.
    #[default]
    TopicName,
    /// The record's full name (`<namespace>.<name>`): one history per record type, across topics.
    RecordName,
    /// `<topic>-<full name>`: several record types per topic, each with its own history.
    TopicRecordName,
}

/// A Confluent-compatible schema registry: its URL and credentials. Cheap to clone; clones share
/// the cache of writer schemas by id (each serde keeps its own subject's schema and id).
///
/// `Debug` shows the URL and whether credentials are set, never the credentials.
#[derive(Clone)]
pub struct SchemaRegistry {
    url: String,
    auth: Option<String>,
    settings: SrSettings,
    decoder: Arc<AvroDecoder>,
}

impl fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("url", &self.url)
            .field("auth", &self.auth.as_deref().map(|kind| format!("{kind} (redacted)")))
            .finish_non_exhaustive()
    }
}

/// How to reach a schema registry: [`SchemaRegistry::builder`].
#[derive(Clone)]
pub struct SchemaRegistryBuilder {
    url: String,
    basic: Option<(String, Option<String>)>,
    bearer: Option<String>,
    timeout: Duration,
    ca_certificates: Option<Vec<u8>>,
    client_certificate: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for SchemaRegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistryBuilder")
            .field("url", &self.url)
            .field("basic_auth", &self.basic.as_ref().map(|(user, _)| (user, "<redacted>")))
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("ca_certificates", &self.ca_certificates.as_ref().map(Vec::len))
            .field(
                "client_certificate",
                &self.client_certificate.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl SchemaRegistryBuilder {
    /// Basic authentication (Confluent Cloud: the API key and secret).
    pub fn with_basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic = Some((user.into(), Some(password.into())));
        self
    }

    /// A bearer token.
    pub fn with_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    /// How long one registry request may take; default 30 s.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts the CA certificates in `pem` (one or more PEM blocks) for `https` URLs, besides
    /// the system's trust store.
    pub fn with_ca_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificates = Some(pem.into());
        self
    }

    /// Authenticates with a client certificate (mutual TLS): the certificate chain and its PKCS#8
    /// private key, both PEM.
    pub fn with_client_certificate_pem(mut self, certificate: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.client_certificate = Some((certificate.into(), key.into()));
        self
    }

    /// The registry. `https` URLs are verified against the system's trust store (native TLS) and
    /// the CA certificates given.
    ///
    /// # Errors
    /// [`SerdeErrorKind::RegistryUnavailable`] when the HTTP client cannot be built (an invalid
    /// certificate or key).
    pub fn build(self) -> Result<SchemaRegistry, SerdeError> {
        let tls_error = |what: &str, e: reqwest::Error| {
            SerdeError::of(
                SerdeErrorKind::RegistryUnavailable,
                format!("schema registry {}: invalid {what}: {e}", self.url),
            )
        };
        let mut client = reqwest::Client::builder();
        if let Some(pem) = &self.ca_certificates {
            let certificates =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| tls_error("CA certificates", e))?;
            if certificates.is_empty() {
                return Err(SerdeError::of(
                    SerdeErrorKind::RegistryUnavailable,
                    format!(
                        "schema registry {}: no PEM certificate in the CA certificates",
                        self.url
                    ),
                ));
            }
            client = client.tls_certs_merge(certificates);
        }
        if let Some((certificate, key)) = &self.client_certificate {
            let identity =
                reqwest::Identity::from_pkcs8_pem(certificate, key).map_err(|e| tls_error("client certificate", e))?;
            client = client.identity(identity);
        }
        let mut builder = SrSettings::new_builder(self.url.clone());
        builder.set_timeout(self.timeout).no_proxy();
        let auth = if let Some((user, password)) = &self.basic {
            builder.set_basic_authorization(user, password.as_deref());
            Some("basic".to_string())
        } else if let Some(token) = &self.bearer {
            builder.set_token_authorization(token);
            Some("bearer".to_string())
        } else {
            None
        };
        let settings = builder.build_with(client).map_err(|e| {
            SerdeError::of(
                SerdeErrorKind::RegistryUnavailable,
                format!("schema registry client for {}: {e}", self.url),
            )
        })?;
        Ok(SchemaRegistry {
            url: self.url,
            auth,
            decoder: Arc::new(AvroDecoder::new(settings.clone())),
            settings,
        })
    }
}

impl SchemaRegistry {
    /// A registry at `url`, the base of its Confluent REST API (e.g. `http://127.0.0.1:8081`, or
    /// Apicurio's `http://127.0.0.1:8081/apis/ccompat/v7`).
    pub fn builder(url: impl Into<String>) -> SchemaRegistryBuilder {
        SchemaRegistryBuilder {
            url: url.into().trim_end_matches('/').to_string(),
            basic: None,
            bearer: None,
            timeout: Duration::from_secs(30),
            ca_certificates: None,
            client_certificate: None,
        }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The writer's value of Confluent-framed `bytes`.
    fn decode(&self, bytes: &[u8]) -> Result<Value, SerdeError> {
        check_framing(bytes)?;
        let decoder = self.decoder.clone();
        let owned = bytes.to_vec();
        let result = block_on(async move { decoder.decode(Some(&owned)).await })?;
        match result {
            Ok(decoded) => Ok(decoded.value),
            Err(e) => {
                // An outage or an unknown id may be over at the next record: never keep the error.
                self.decoder.remove_errors_from_cache();
                Err(registry_error(&e, "reading"))
            }
        }
    }
}

/// Checks the Confluent framing: at least the 5 header bytes, the first one 0.
///
/// # Errors
/// [`SerdeErrorKind::Truncated`] or [`SerdeErrorKind::WrongMagicByte`].
pub fn check_framing(bytes: &[u8]) -> Result<u32, SerdeError> {
    if bytes.len() < HEADER_LEN {
        return Err(SerdeError::of(
            SerdeErrorKind::Truncated,
            format!(
                "{} bytes: too short for the schema-registry framing (magic byte and 4-byte schema id)",
                bytes.len()
            ),
        ));
    }
    if bytes[0] != MAGIC_BYTE {
        return Err(SerdeError::of(
            SerdeErrorKind::WrongMagicByte,
            format!(
                "first byte {:#04x}, not the schema-registry magic byte 0 (not written by a schema-registry serializer)",
                bytes[0]
            ),
        ));
    }
    Ok(u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]))
}

/// The kind of a registry client error, from what the client reports (it keeps the HTTP status
/// only in its message).
fn registry_error(error: &SRCError, doing: &str) -> SerdeError {
    let text = format!("{} {}", error.error, error.cause.as_deref().unwrap_or(""));
    let kind = if text.contains("status 404") {
        SerdeErrorKind::UnknownSchemaId
    } else if text.contains("status 409") || text.contains("status 422") {
        SerdeErrorKind::IncompatibleSchema
    } else if text.contains("status ") || error.retriable || text.contains("sending request") {
        SerdeErrorKind::RegistryUnavailable
    } else if doing == "writing" {
        // The registry answered, but the value does not fit the subject's schema.
        SerdeErrorKind::Unserializable
    } else {
        // The registry answered, but the body does not decode with the writer's schema.
        SerdeErrorKind::Malformed
    };
    SerdeError::of(kind, format!("{doing} Avro through the schema registry: {text}"))
}

/// Runs a registry call on the serdes' background runtime and waits for it: usable from any
/// thread, inside an async runtime or not.
fn block_on<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> Result<T, SerdeError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    let runtime = RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("streams-schema-registry")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            SerdeError::of(
                SerdeErrorKind::RegistryUnavailable,
                format!("no runtime for registry calls: {e}"),
            )
        })?;
    let (sender, receiver) = mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = sender.send(future.await);
    });
    receiver.recv().map_err(|_| {
        SerdeError::of(
            SerdeErrorKind::RegistryUnavailable,
            "a schema registry call was dropped before it answered",
        )
    })
}

fn parse_schema(json: &str) -> Result<Schema, SerdeError> {
    Schema::parse_str(json)
        .map_err(|e| SerdeError::of(SerdeErrorKind::Unserializable, format!("invalid Avro schema: {e}")))
}

/// The subject-naming and registration settings shared by both serdes.
#[derive(Debug, Clone)]
struct Writer {
    registry: SchemaRegistry,
    /// This serde's own: it caches the schema and id by subject, and another serde of the same
    /// subject may write another version.
    encoder: Arc<AvroEncoder>,
    schema: Arc<Schema>,
    schema_json: String,
    naming: SubjectNaming,
    auto_register: bool,
    is_key: bool,
}

impl Writer {
    fn new(registry: SchemaRegistry, schema_json: &str) -> Result<Writer, SerdeError> {
        let schema = parse_schema(schema_json)?;
        Ok(Writer {
            encoder: Arc::new(AvroEncoder::new(registry.settings.clone())),
            registry,
            // As given, not in canonical form, which would drop the defaults evolution needs.
            schema_json: schema_json.to_string(),
            schema: Arc::new(schema),
            naming: SubjectNaming::TopicName,
            auto_register: true,
            is_key: false,
        })
    }

    fn full_name(&self) -> Result<String, SerdeError> {
        match &*self.schema {
            Schema::Record(record) => Ok(record.name.fullname(None)),
            Schema::Enum(e) => Ok(e.name.fullname(None)),
            Schema::Fixed(f) => Ok(f.name.fullname(None)),
            other => Err(SerdeError::of(
                SerdeErrorKind::Unserializable,
                format!("record-name subjects need a named schema (record, enum, fixed), not {other:?}"),
            )),
        }
    }

    fn strategy(&self, topic: &str) -> Result<SubjectNameStrategy, SerdeError> {
        let supplied = || SuppliedSchema::new(None, SchemaType::Avro, self.schema_json.clone());
        Ok(match (self.naming, self.auto_register) {
            (SubjectNaming::TopicName, true) => {
                SubjectNameStrategy::TopicNameStrategyWithSchema(topic.to_string(), self.is_key, supplied())
            }
            (SubjectNaming::TopicName, false) => SubjectNameStrategy::TopicNameStrategy(topic.to_string(), self.is_key),
            (SubjectNaming::RecordName, true) => {
                let mut schema = supplied();
                schema.name = Some(self.full_name()?);
                SubjectNameStrategy::RecordNameStrategyWithSchema(schema)
            }
            (SubjectNaming::RecordName, false) => SubjectNameStrategy::RecordNameStrategy(self.full_name()?),
            (SubjectNaming::TopicRecordName, true) => {
                let mut schema = supplied();
                schema.name = Some(self.full_name()?);
                SubjectNameStrategy::TopicRecordNameStrategyWithSchema(topic.to_string(), schema)
            }
            (SubjectNaming::TopicRecordName, false) => {
                SubjectNameStrategy::TopicRecordNameStrategy(topic.to_string(), self.full_name()?)
            }
        })
    }

    fn write(&self, topic: &str, value: Value) -> Result<Vec<u8>, SerdeError> {
        let value = value.resolve(&self.schema).map_err(|e| {
            SerdeError::of(
                SerdeErrorKind::Unserializable,
                format!("the value does not fit its Avro schema: {e}"),
            )
        })?;
        let (encoder, strategy) = (self.encoder.clone(), self.strategy(topic)?);
        let result = block_on(async move { encoder.encode_value(value, &strategy).await })?;
        result.map_err(|e| {
            // A refusal or an outage may be over at the next record: never keep the error.
            self.encoder.remove_errors_from_cache();
            registry_error(&e, "writing")
        })
    }

    /// The value of `bytes`, resolved from its writer schema into this (reader) schema.
    fn read(&self, bytes: Option<&[u8]>) -> Result<Value, SerdeError> {
        let bytes = bytes.ok_or_else(|| {
            SerdeError::of(
                SerdeErrorKind::Null,
                "null where an Avro record was expected (use Option<T> for tombstones)",
            )
        })?;
        let written = self.registry.decode(bytes)?;
        written.resolve(&self.schema).map_err(|e| {
            SerdeError::of(
                SerdeErrorKind::TypeMismatch,
                format!("the record's writer schema does not resolve into the reader schema: {e}"),
            )
        })
    }
}

/// Avro through a schema registry for a Rust type `T` (`serde` derives) with its Avro schema.
///
/// - **Writing**: the value is checked against the schema and written in the Confluent format
///   under the subject [`SubjectNaming`] gives; with auto-registration (the default) the schema is
///   registered first, once (a compatibility rule on the subject may refuse it:
///   [`SerdeErrorKind::IncompatibleSchema`]); without, the subject's latest schema must fit.
/// - **Reading**: the record's writer schema is fetched by id (once) and the record resolved into
///   this schema: fields added with a default are filled in, fields removed are dropped, so older
///   and newer compatible writers are read; an incompatible one fails with
///   [`SerdeErrorKind::TypeMismatch`].
/// - **Errors** have distinct kinds: [`Truncated`](SerdeErrorKind::Truncated),
///   [`WrongMagicByte`](SerdeErrorKind::WrongMagicByte),
///   [`UnknownSchemaId`](SerdeErrorKind::UnknownSchemaId),
///   [`RegistryUnavailable`](SerdeErrorKind::RegistryUnavailable) (nothing is cached: the next
///   record asks again), [`TypeMismatch`](SerdeErrorKind::TypeMismatch),
///   [`Null`](SerdeErrorKind::Null). The deserialization error handler receives them.
pub struct AvroSerde<T> {
    writer: Writer,
    types: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for AvroSerde<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvroSerde")
            .field("schema", &self.writer.schema_json)
            .field("naming", &self.writer.naming)
            .field("auto_register", &self.writer.auto_register)
            .field("is_key", &self.writer.is_key)
            .finish_non_exhaustive()
    }
}

impl<T> AvroSerde<T> {
    /// A value serde for `T` with the Avro schema `schema_json`.
    ///
    /// # Errors
    /// [`SerdeErrorKind::Unserializable`] when the schema does not parse.
    pub fn new(registry: SchemaRegistry, schema_json: &str) -> Result<Self, SerdeError> {
        Ok(AvroSerde {
            writer: Writer::new(registry, schema_json)?,
            types: PhantomData,
        })
    }

    /// For keys: the topic-name subject is `<topic>-key`.
    pub fn for_keys(mut self) -> Self {
        self.writer.is_key = true;
        self
    }

    /// The subject naming; default [`SubjectNaming::TopicName`].
    pub fn with_subject_naming(mut self, naming: SubjectNaming) -> Self {
        self.writer.naming = naming;
        self
    }

    /// Whether writing registers the schema (default: yes). Production deployments often register
    /// schemas through CI and turn this off; the subject's latest schema is then used.
    pub fn with_auto_register(mut self, auto_register: bool) -> Self {
        self.writer.auto_register = auto_register;
        self
    }

    /// The (reader and writer) schema.
    pub fn schema(&self) -> &Schema {
        &self.writer.schema
    }
}

impl<T> Serde<T> for AvroSerde<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    fn serialize(&self, topic: &str, value: &T) -> Result<Option<Vec<u8>>, SerdeError> {
        let value = apache_avro::to_value(value).map_err(|e| {
            SerdeError::of(
                SerdeErrorKind::Unserializable,
                format!("could not write it as Avro: {e}"),
            )
        })?;
        self.writer.write(topic, value).map(Some)
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<T, SerdeError> {
        let value = self.writer.read(bytes)?;
        apache_avro::from_value::<T>(&value).map_err(|e| {
            SerdeError::of(
                SerdeErrorKind::TypeMismatch,
                format!("the Avro record does not fit {}: {e}", std::any::type_name::<T>()),
            )
        })
    }
}

/// Avro through a schema registry for Avro values ([`Value`]): for applications without Rust
/// types for their records. Writing and reading are as [`AvroSerde`]'s, with `schema_json` as the
/// writer and reader schema.
#[derive(Debug)]
pub struct GenericAvroSerde {
    writer: Writer,
}

impl GenericAvroSerde {
    /// A value serde with the Avro schema `schema_json`.
    ///
    /// # Errors
    /// [`SerdeErrorKind::Unserializable`] when the schema does not parse.
    pub fn new(registry: SchemaRegistry, schema_json: &str) -> Result<Self, SerdeError> {
        Ok(GenericAvroSerde {
            writer: Writer::new(registry, schema_json)?,
        })
    }

    /// For keys.
    pub fn for_keys(mut self) -> Self {
        self.writer.is_key = true;
        self
    }

    /// The subject naming; default [`SubjectNaming::TopicName`].
    pub fn with_subject_naming(mut self, naming: SubjectNaming) -> Self {
        self.writer.naming = naming;
        self
    }

    /// Whether writing registers the schema (default: yes).
    pub fn with_auto_register(mut self, auto_register: bool) -> Self {
        self.writer.auto_register = auto_register;
        self
    }
}

impl Serde<Value> for GenericAvroSerde {
    fn serialize(&self, topic: &str, value: &Value) -> Result<Option<Vec<u8>>, SerdeError> {
        self.writer.write(topic, value.clone()).map(Some)
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<Value, SerdeError> {
        self.writer.read(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_is_checked_before_any_registry_call() {
        assert_eq!(check_framing(&[0, 0, 0, 1, 44, 2]).unwrap(), 300);
        assert_eq!(
            check_framing(&[0, 0, 0, 0]).unwrap_err().kind(),
            SerdeErrorKind::Truncated
        );
        assert_eq!(check_framing(&[]).unwrap_err().kind(), SerdeErrorKind::Truncated);
        let wrong = check_framing(b"{\"json\": true}").unwrap_err();
        assert_eq!(wrong.kind(), SerdeErrorKind::WrongMagicByte);
        assert!(wrong.message().contains("0x7b"), "{wrong}");
    }

    #[test]
    fn bad_framing_fails_without_a_registry() {
        // An unreachable registry: framing errors come first, so no call is made.
        let registry = SchemaRegistry::builder("http://127.0.0.1:9").build().unwrap();
        let serde = AvroSerde::<String>::new(registry, r#""string""#).unwrap();
        assert_eq!(
            serde.deserialize("t", Some(&[1, 0, 0, 0, 1, 2])).unwrap_err().kind(),
            SerdeErrorKind::WrongMagicByte
        );
        assert_eq!(
            serde.deserialize("t", Some(&[0, 0])).unwrap_err().kind(),
            SerdeErrorKind::Truncated
        );
        assert_eq!(serde.deserialize("t", None).unwrap_err().kind(), SerdeErrorKind::Null);
        let down = serde.deserialize("t", Some(&[0, 0, 0, 0, 1, 2])).unwrap_err();
        assert_eq!(down.kind(), SerdeErrorKind::RegistryUnavailable, "{down}");
    }

    #[test]
    fn credentials_never_show_in_debug_output() {
        let builder = SchemaRegistry::builder("https://registry.example:8081").with_basic_auth("key", "s3cret");
        assert!(!format!("{builder:?}").contains("s3cret"));
        let registry = builder.build().unwrap();
        let text = format!("{registry:?}");
        assert!(!text.contains("s3cret") && text.contains("basic"), "{text}");
    }

    /// A self-signed certificate (`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256
    /// -nodes -subj /CN=registry.test -days 36500`), for the settings only: no server uses it.
    const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----
MIIBiDCCAS2gAwIBAgIUNX1EdyrZ3C7pk6+nnbBY8udRQ/QwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNcmVnaXN0cnkudGVzdDAgFw0yNjExMjcwNjI5MjdaGA8yMTI2
MTEwMzA2MjkyN1owGDEWMBQGA1UEAwwNcmVnaXN0cnkudGVzdDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABF5+eaJXQweEtmABfveka2/yiYEDiOnDNeWppnB9aYZd
+JNE2rN4Bi0RvXVyYILvnA4aA/paWawrvJfmTEASj+ijUzBRMB0GA1UdDgQWBBSU
JQs9yPvtzidPkRQWRwthBHMr6jAfBgNVHSMEGDAWgBSUJQs9yPvtzidPkRQWRwth
BHMr6jAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQD4ySSjHI6g
YznLKBUDuOQB7C8QG3hXyFs+/W4lpRO5rgIhALGBcKxbQDfWdit3nKgcp33gQph5
1hF6ufnd8/T8Alw6
-----END CERTIFICATE-----
";

    #[test]
    fn tls_settings_are_checked_when_the_registry_is_built() {
        let bad = SchemaRegistry::builder("https://registry.test")
            .with_ca_certificates_pem("not a certificate")
            .build()
            .unwrap_err();
        assert_eq!(bad.kind(), SerdeErrorKind::RegistryUnavailable);
        assert!(bad.message().contains("CA certificates"), "{bad}");
        let bad_identity = SchemaRegistry::builder("https://registry.test")
            .with_client_certificate_pem(CERTIFICATE, "not a key")
            .build()
            .unwrap_err();
        assert!(bad_identity.message().contains("client certificate"), "{bad_identity}");
        let builder =
            SchemaRegistry::builder("https://registry.test").with_client_certificate_pem(CERTIFICATE, "secret key");
        assert!(!format!("{builder:?}").contains("secret key"));
        // A real CA certificate is accepted.
        SchemaRegistry::builder("https://registry.test")
            .with_ca_certificates_pem(CERTIFICATE)
            .build()
            .unwrap();
    }

    #[test]
    fn record_name_subjects_need_a_named_schema() {
        let registry = SchemaRegistry::builder("http://127.0.0.1:9").build().unwrap();
        let serde = AvroSerde::<String>::new(registry, r#""string""#)
            .unwrap()
            .with_subject_naming(SubjectNaming::RecordName);
        let error = serde.serialize("t", &"x".to_string()).unwrap_err();
        assert_eq!(error.kind(), SerdeErrorKind::Unserializable, "{error}");
    }
}
