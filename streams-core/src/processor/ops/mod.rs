//! The processors behind the DSL's operators, one per file. Each is a thin [`Processor`](super::Processor)
//! (or, for sources and sinks, a [`Node`](super::node::Node)) over a user function.

pub(crate) mod branch;
pub(crate) mod filter;
pub(crate) mod flat_map;
pub(crate) mod flat_map_values;
pub(crate) mod map;
pub(crate) mod map_values;
pub(crate) mod pass_through;
pub(crate) mod peek;
pub(crate) mod select_key;
pub(crate) mod sink;
pub(crate) mod source;
