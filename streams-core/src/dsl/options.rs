//! Small option objects for the DSL's operators, Kafka Streams style: `op(..)` uses defaults,
//! `op_with(.., Options)` takes these.

/// A name for the node an operator adds (instead of a generated one). Names are what
/// `describe()` shows, and they keep internal topic and store names stable when the topology changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named(pub(crate) String);

impl Named {
    /// The name `name`.
    pub fn as_(name: impl Into<String>) -> Self {
        Named(name.into())
    }
}

/// Defines an option object that carries a key serde, a value serde and a node name, with the
/// same constructors: `with(key_serde, value_serde)`, `Default` (the types' default serdes) and
/// `with_name`.
macro_rules! serde_options {
    ($(#[$doc:meta])* $name:ident, $with:literal, $named:literal) => {
        $(#[$doc])*
        pub struct $name<K, V> {
            pub(crate) key_serde: $crate::serde::SharedSerde<K>,
            pub(crate) value_serde: $crate::serde::SharedSerde<V>,
            pub(crate) name: Option<String>,
        }

        impl<K, V> Clone for $name<K, V> {
            fn clone(&self) -> Self {
                $name { key_serde: self.key_serde.clone(), value_serde: self.value_serde.clone(), name: self.name.clone() }
            }
        }

        impl<K, V> std::fmt::Debug for $name<K, V> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).field("name", &self.name).finish_non_exhaustive()
            }
        }

        /// The default serdes of the key and value types.
        impl<K: $crate::serde::DefaultSerde, V: $crate::serde::DefaultSerde> Default for $name<K, V> {
            fn default() -> Self {
                $name::with(K::default_serde(), V::default_serde())
            }
        }

        impl<K, V> $name<K, V> {
            #[doc = $with]
            pub fn with(key_serde: $crate::serde::SharedSerde<K>, value_serde: $crate::serde::SharedSerde<V>) -> Self {
                $name { key_serde, value_serde, name: None }
            }

            #[doc = $named]
            pub fn with_name(mut self, name: impl Into<String>) -> Self {
                self.name = Some(name.into());
                self
            }
        }
    };
}

pub(crate) use serde_options;

serde_options!(
    /// How a source topic is read: its serdes, and the source node's name.
    Consumed,
    "Reads with these serdes.",
    "Names the source node."
);

serde_options!(
    /// How records are written to a topic: their serdes, and the sink node's name.
    Produced,
    "Writes with these serdes.",
    "Names the sink node."
);

serde_options!(
    /// How a stream is repartitioned: the serdes of the repartition topic, and its name (the topic
    /// is `<application.id>-<name>-repartition`).
    Repartitioned,
    "Repartitions with these serdes.",
    "Names the repartition topic and its nodes."
);

/// Options of [`KStream::process_values_with`](super::KStream::process_values_with).
#[derive(Debug, Clone, Default)]
pub struct ProcessorOptions {
    pub(crate) named: Option<String>,
    pub(crate) stores: Vec<String>,
    pub(crate) dead_letters: bool,
}

impl ProcessorOptions {
    /// Default options: a generated node name, no stores, no dead letters of its own.
    pub fn new() -> Self {
        ProcessorOptions::default()
    }

    /// The node's name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.named = Some(name.into());
        self
    }

    /// Connects the state stores `stores` (added with
    /// [`StreamsBuilder::add_state_store`](super::StreamsBuilder::add_state_store)).
    pub fn with_stores(mut self, stores: &[&str]) -> Self {
        self.stores = stores.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Declares that the processor dead-letters records by itself, so the dead-letter topic is
    /// created at start-up (see [`Topology::require_dead_letter_topic`](crate::topology::Topology::require_dead_letter_topic)).
    pub fn dead_lettering(mut self) -> Self {
        self.dead_letters = true;
        self
    }
}
