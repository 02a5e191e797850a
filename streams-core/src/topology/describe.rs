//! [`TopologyDescription`]: a topology as text (Kafka Streams' format) and as a Mermaid diagram.

use std::fmt;

use super::{NodeKind, Topology};

/// A snapshot of a topology's structure: its sub-topologies and their nodes.
///
/// `Display` prints Kafka Streams' `TopologyDescription` format, so a description can be compared
/// with the Java one line by line:
///
/// ```text
/// Topologies:
///    Sub-topology: 0
///     Source: KSTREAM-SOURCE-0000000000 (topics: [words])
///       --> KSTREAM-FILTER-0000000001
///     Processor: KSTREAM-FILTER-0000000001 (stores: [])
///       --> KSTREAM-SINK-0000000002
///       <-- KSTREAM-SOURCE-0000000000
///     Sink: KSTREAM-SINK-0000000002 (topic: long-words)
///       <-- KSTREAM-FILTER-0000000001
/// ```
///
/// Within a sub-topology, nodes are listed by the size of the graph below them, largest first, then
/// by name (Kafka Streams' order), so sources come first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyDescription {
    subtopologies: Vec<SubtopologyDescription>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SubtopologyDescription {
    id: usize,
    /// A global table's: it feeds a store on every instance and has no tasks.
    global: bool,
    nodes: Vec<NodeDescription>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeDescription {
    name: String,
    kind: Kind,
    successors: Vec<String>,
    predecessors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Source { topics: Vec<String> },
    Processor { stores: Vec<String> },
    Sink { topic: Option<String> },
}

impl TopologyDescription {
    pub(super) fn of(topology: &Topology) -> Self {
        let nodes = topology.nodes();
        // The number of nodes reachable from each node, itself included.
        let mut below = vec![0usize; nodes.len()];
        for index in (0..nodes.len()).rev() {
            let mut seen = vec![false; nodes.len()];
            let mut stack = vec![index];
            while let Some(n) = stack.pop() {
                if !std::mem::replace(&mut seen[n], true) {
                    below[index] += 1;
                    stack.extend(&nodes[n].children);
                }
            }
        }
        let name = |i: &usize| nodes[*i].name.clone();
        let subtopologies = topology
            .sub_topologies()
            .into_iter()
            .map(|sub| {
                let mut members = sub.nodes.clone();
                members.sort_by(|a, b| {
                    below[*b]
                        .cmp(&below[*a])
                        .then_with(|| nodes[*a].name.cmp(&nodes[*b].name))
                });
                let nodes = members
                    .iter()
                    .map(|&i| {
                        let node = &nodes[i];
                        let kind = match &node.kind {
                            NodeKind::Source { topics } => Kind::Source {
                                topics: topics.iter().map(|t| t.name.clone()).collect(),
                            },
                            NodeKind::Processor => Kind::Processor {
                                stores: node.stores.clone(),
                            },
                            NodeKind::Sink { topic } => Kind::Sink {
                                topic: topic.as_ref().map(|t| t.name.clone()),
                            },
                        };
                        NodeDescription {
                            name: node.name.clone(),
                            kind,
                            successors: node.children.iter().map(name).collect(),
                            predecessors: node.parents.iter().map(name).collect(),
                        }
                    })
                    .collect();
                SubtopologyDescription {
                    id: sub.id,
                    global: false,
                    nodes,
                }
            })
            .collect::<Vec<_>>();
        let mut subtopologies = subtopologies;
        for table in topology.global_tables() {
            let id = subtopologies.len();
            let nodes = vec![
                NodeDescription {
                    name: table.source.clone(),
                    kind: Kind::Source {
                        topics: vec![table.topic.clone()],
                    },
                    successors: vec![table.processor.clone()],
                    predecessors: Vec::new(),
                },
                NodeDescription {
                    name: table.processor.clone(),
                    kind: Kind::Processor {
                        stores: vec![table.store.name().to_string()],
                    },
                    successors: Vec::new(),
                    predecessors: vec![table.source.clone()],
                },
            ];
            subtopologies.push(SubtopologyDescription {
                id,
                global: true,
                nodes,
            });
        }
        TopologyDescription { subtopologies }
    }

    /// The number of sub-topologies that run as tasks (global tables' are not counted).
    pub fn subtopology_count(&self) -> usize {
        self.subtopologies.iter().filter(|s| !s.global).count()
    }

    /// The topology as a Mermaid flowchart: one box per sub-topology, sources as hexagons, sinks as
    /// flags, processors as boxes listing their stores, topics as stadium shapes, so docs can show it
    /// as a picture.
    pub fn to_mermaid(&self) -> String {
        let id = |name: &str| name.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let mut out = String::from("flowchart TD\n");
        let mut topics = Vec::new();
        for sub in &self.subtopologies {
            let title = if sub.global { "Global store" } else { "Sub-topology" };
            out.push_str(&format!("  subgraph sub{}[\"{title} {}\"]\n", sub.id, sub.id));
            for node in &sub.nodes {
                // Sources are hexagons, sinks flags, processors boxes (with their stores).
                let name = &node.name;
                let label = match &node.kind {
                    Kind::Source { .. } => format!("{{{{\"{name}\"}}}}"),
                    Kind::Processor { stores } if !stores.is_empty() => {
                        format!("[\"{name}<br/>stores: {}\"]", stores.join(", "))
                    }
                    Kind::Processor { .. } => format!("[\"{name}\"]"),
                    Kind::Sink { .. } => format!(">\"{name}\"]"),
                };
                let label = format!("    {}{label}\n", id(name));
                out.push_str(&label);
            }
            out.push_str("  end\n");
            for node in &sub.nodes {
                for successor in &node.successors {
                    out.push_str(&format!("  {} --> {}\n", id(&node.name), id(successor)));
                }
                match &node.kind {
                    Kind::Source { topics: names } => {
                        for topic in names {
                            topics.push(topic.clone());
                            out.push_str(&format!("  topic_{} --> {}\n", id(topic), id(&node.name)));
                        }
                    }
                    Kind::Sink { topic: Some(topic) } => {
                        topics.push(topic.clone());
                        out.push_str(&format!("  {} --> topic_{}\n", id(&node.name), id(topic)));
                    }
                    _ => {}
                }
            }
        }
        topics.sort();
        topics.dedup();
        for topic in topics {
            out.push_str(&format!("  topic_{}([\"{}\"])\n", id(&topic), topic));
        }
        out
    }
}

impl fmt::Display for TopologyDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |names: &[String]| {
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        writeln!(f, "Topologies:")?;
        for sub in &self.subtopologies {
            let global = if sub.global {
                " for global store (will not generate tasks)"
            } else {
                ""
            };
            writeln!(f, "   Sub-topology: {}{global}", sub.id)?;
            for node in &sub.nodes {
                match &node.kind {
                    Kind::Source { topics } => {
                        writeln!(f, "    Source: {} (topics: [{}])", node.name, topics.join(", "))?;
                        writeln!(f, "      --> {}", names(&node.successors))?;
                    }
                    Kind::Processor { stores } => {
                        writeln!(f, "    Processor: {} (stores: [{}])", node.name, stores.join(", "))?;
                        writeln!(f, "      --> {}", names(&node.successors))?;
                        writeln!(f, "      <-- {}", names(&node.predecessors))?;
                    }
                    Kind::Sink { topic } => {
                        let topic = topic.as_deref().unwrap_or("<chosen per record>");
                        writeln!(f, "    Sink: {} (topic: {topic})", node.name)?;
                        writeln!(f, "      <-- {}", names(&node.predecessors))?;
                    }
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
