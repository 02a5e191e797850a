//! [`BranchedKStream`]: the branches of a [`KStream::split`](super::KStream::split).

use std::collections::HashMap;
use std::sync::Arc;

use super::kstream::KStream;
use crate::processor::Data;
use crate::processor::ops::branch::{Branch, Predicate};
use crate::processor::ops::pass_through::PassThrough;

/// The name of one branch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branched {
    name: Option<String>,
}

impl Branched {
    /// A branch named `name`: its stream's key in the result is `<split name><name>`.
    pub fn as_(name: impl Into<String>) -> Self {
        Branched {
            name: Some(name.into()),
        }
    }
}

/// A stream being split into branches, Kafka Streams' `BranchedKStream`.
///
/// Each record goes to the **first** branch whose predicate holds, or to the default branch, or
/// nowhere. The result maps branch names to streams: `<split name><branch name>`, where an unnamed
/// branch is named by its position (from 1) and an unnamed default branch `0`, as in Kafka Streams.
///
/// ```
/// use streams_core::dsl::{Branched, Named, StreamsBuilder};
///
/// let builder = StreamsBuilder::new();
/// let mut branches = builder
///     .stream::<String, i64>("amounts")
///     .split_with(Named::as_("size-"))
///     .branch(|_, amount| *amount >= 1_000, Branched::as_("large"))
///     .branch(|_, amount| *amount >= 100, Branched::as_("medium"))
///     .default_branch();
/// branches.remove("size-large").unwrap().to("large-amounts");
/// branches.remove("size-0").unwrap().to("other-amounts");
/// # Ok::<(), streams_core::Error>(())
/// ```
pub struct BranchedKStream<K, V> {
    stream: KStream<K, V>,
    name: String,
    branches: Vec<(Predicate<K, V>, String)>,
}

impl<K, V> std::fmt::Debug for BranchedKStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&String> = self.branches.iter().map(|(_, name)| name).collect();
        f.debug_struct("BranchedKStream")
            .field("name", &self.name)
            .field("branches", &names)
            .finish()
    }
}

impl<K: Data, V: Data> BranchedKStream<K, V> {
    pub(crate) fn new(stream: KStream<K, V>, name: String) -> Self {
        BranchedKStream {
            stream,
            name,
            branches: Vec::new(),
        }
    }

    /// Adds a branch for the records `predicate(key, value)` holds for (and no earlier branch took).
    pub fn branch(mut self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static, branched: Branched) -> Self {
        let position = self.branches.len() + 1;
        let name = format!("{}{}", self.name, branched.name.unwrap_or_else(|| position.to_string()));
        self.branches.push((Arc::new(predicate), name));
        self
    }

    /// Ends the split with a default branch for the records no predicate took.
    pub fn default_branch(self) -> HashMap<String, KStream<K, V>> {
        self.default_branch_with(Branched::default())
    }

    /// [`default_branch`](Self::default_branch) with a name.
    pub fn default_branch_with(self, branched: Branched) -> HashMap<String, KStream<K, V>> {
        let name = format!("{}{}", self.name, branched.name.unwrap_or_else(|| "0".to_string()));
        self.finish(Some(name))
    }

    /// Ends the split without a default branch: records no predicate took are dropped.
    pub fn no_default_branch(self) -> HashMap<String, KStream<K, V>> {
        self.finish(None)
    }

    fn finish(self, default: Option<String>) -> HashMap<String, KStream<K, V>> {
        let BranchedKStream { stream, name, branches } = self;
        let children: Vec<String> = branches
            .iter()
            .map(|(_, child)| child.clone())
            .chain(default.clone())
            .collect();
        let branches = Arc::new(branches);
        let building = stream.building.clone();
        let splitter = {
            let mut state = building.borrow_mut();
            let added = stream.node.map(|parent| {
                let default = default.clone();
                state
                    .topology
                    .add_processor_node::<K, V, K, V, _>(&name, &[parent], Vec::new(), move || Branch {
                        branches: branches.clone(),
                        default: default.clone(),
                    })
            });
            match added {
                Some(Ok(node)) => Some(node),
                Some(Err(error)) => {
                    state.fail(error);
                    None
                }
                None => None,
            }
        };
        children
            .into_iter()
            .map(|child| {
                let mut state = building.borrow_mut();
                let node = splitter.and_then(|parent| {
                    match state
                        .topology
                        .add_processor_node::<K, V, K, V, _>(&child, &[parent], Vec::new(), || PassThrough)
                    {
                        Ok(node) => Some(node),
                        Err(error) => {
                            state.fail(error);
                            None
                        }
                    }
                });
                drop(state);
                (child, KStream::new(building.clone(), node, stream.key_changed))
            })
            .collect()
    }
}
