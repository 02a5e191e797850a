//! The processors behind the DSL's operators, one per file. Each is a thin [`Processor`](super::Processor)
//! (or, for sources and sinks, a [`Node`](super::node::Node)) over a user function.

pub(crate) mod branch;
pub(crate) mod dedupe;
pub(crate) mod filter;
pub(crate) mod flat_map;
pub(crate) mod flat_map_values;
pub(crate) mod global_table_source;
pub(crate) mod map;
pub(crate) mod map_values;
pub(crate) mod pass_through;
pub(crate) mod peek;
pub(crate) mod select_key;
pub(crate) mod session_window_aggregate;
pub(crate) mod sink;
pub(crate) mod sliding_window_aggregate;
pub(crate) mod source;
pub(crate) mod stream_aggregate;
pub(crate) mod stream_stream_join;
pub(crate) mod stream_table_join;
pub(crate) mod suppress;
pub(crate) mod table_aggregate;
pub(crate) mod table_filter;
pub(crate) mod table_group_by;
pub(crate) mod table_map_values;
pub(crate) mod table_materialize;
pub(crate) mod table_source;
pub(crate) mod table_table_join;
pub(crate) mod table_to_stream;
pub(crate) mod window_aggregate;
