//! Type-erased nodes: how a task holds processors of different types in one graph.
//!
//! A record travels between nodes as `&mut dyn Any` pointing at an `Option<Record<K, V>>` of the
//! receiving node's input types; the receiver takes it out. Nothing is boxed per record. The
//! topology checks at build time that every edge joins matching types, so the downcast cannot fail
//! in a built topology.

use std::any::Any;
use std::marker::PhantomData;

use super::context::{ProcessorContext, PunctuatorId};
use super::record::Record;
use super::task::Task;
use super::{AsyncPoll, Data, Processor};
use crate::error::Result;

/// A node instance of a task, its types erased.
pub(crate) trait Node {
    /// Initialises the node (schedules punctuations).
    fn init(&mut self, task: &mut Task, me: usize) -> Result<()>;
    /// Processes the record in `record`: an `Option<Record<K, V>>` of the node's input types,
    /// or, for a source, `Option<RawRecord>` (or `Option<Rc<RawRecord>>` when the task keeps the
    /// input record).
    fn process(&mut self, record: &mut dyn Any, task: &mut Task, me: usize) -> Result<()>;
    /// A punctuation of this node is due.
    fn punctuate(&mut self, id: PunctuatorId, timestamp: i64, task: &mut Task, me: usize) -> Result<()>;
    /// Closes the node.
    fn close(&mut self) -> Result<()>;
    /// See [`Processor::is_asynchronous`].
    fn is_asynchronous(&self) -> bool {
        false
    }
    /// See [`Processor::poll_async`].
    fn poll_async(&mut self, mode: AsyncPoll, task: &mut Task, me: usize) -> Result<()> {
        let _ = (mode, task, me);
        Ok(())
    }
    /// See [`Processor::in_flight`].
    fn in_flight(&self) -> usize {
        0
    }
    /// See [`Processor::accepts_records`].
    fn accepts_records(&self) -> bool {
        true
    }
}

/// Takes the record out of an erased slot.
///
/// # Panics
/// When the slot holds another type: a topology whose edges join mismatched types, which
/// [`Topology`](crate::topology::Topology) refuses to build.
pub(crate) fn take_record<T: 'static>(slot: &mut dyn Any, node: &str) -> T {
    slot.downcast_mut::<Option<T>>()
        .and_then(Option::take)
        .unwrap_or_else(|| panic!("node {node} received a record of another type (a topology type check failed)"))
}

/// A [`Processor`] as a [`Node`].
pub(crate) struct ProcessorNode<P, KIn, VIn, KOut, VOut> {
    processor: P,
    types: PhantomData<fn(KIn, VIn, KOut, VOut)>,
}

impl<P, KIn, VIn, KOut, VOut> ProcessorNode<P, KIn, VIn, KOut, VOut> {
    pub(crate) fn new(processor: P) -> Self {
        ProcessorNode {
            processor,
            types: PhantomData,
        }
    }
}

impl<P, KIn, VIn, KOut, VOut> Node for ProcessorNode<P, KIn, VIn, KOut, VOut>
where
    P: Processor<KIn, VIn, KOut, VOut>,
    KIn: Data,
    VIn: Data,
    KOut: Data,
    VOut: Data,
{
    fn init(&mut self, task: &mut Task, me: usize) -> Result<()> {
        self.processor.init(&mut ProcessorContext::new(task, me))
    }

    fn process(&mut self, record: &mut dyn Any, task: &mut Task, me: usize) -> Result<()> {
        let record: Record<KIn, VIn> = take_record(record, task.node_name(me));
        self.processor.process(record, &mut ProcessorContext::new(task, me))
    }

    fn punctuate(&mut self, id: PunctuatorId, timestamp: i64, task: &mut Task, me: usize) -> Result<()> {
        self.processor
            .punctuate(id, timestamp, &mut ProcessorContext::new(task, me))
    }

    fn close(&mut self) -> Result<()> {
        self.processor.close()
    }

    fn is_asynchronous(&self) -> bool {
        self.processor.is_asynchronous()
    }

    fn poll_async(&mut self, mode: AsyncPoll, task: &mut Task, me: usize) -> Result<()> {
        self.processor.poll_async(mode, &mut ProcessorContext::new(task, me))
    }

    fn in_flight(&self) -> usize {
        self.processor.in_flight()
    }

    fn accepts_records(&self) -> bool {
        self.processor.accepts_records()
    }
}
