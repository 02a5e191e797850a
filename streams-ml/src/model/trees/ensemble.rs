//! A tree ensemble (`TreeEnsembleClassifier` / `TreeEnsembleRegressor` of `ai.onnx.ml`) read from
//! an ONNX node into flat arrays, and evaluated root to leaf: O(depth) per tree and record.
//!
//! Layout: every tree's nodes lie in one `Vec<Node>` in depth-first order, the false child right
//! after its parent and the true child at `Node::jump`, so a walk mostly reads forward. A leaf's
//! votes are `votes[leaves[leaf.jump]]`. A batch is evaluated a block of rows at a time, tree by
//! tree within the block, so a tree's nodes stay in cache while the block's rows walk it; when every
//! split is `BRANCH_LEQ`, eight rows walk a tree in lockstep without branches (a leaf stays where it
//! is), which keeps the CPU busy instead of waiting on mispredicted branches.
//!
//! The scores follow onnxruntime's CPU kernels, which is what every exporter is tested against:
//! how base values, the aggregate function and the post-transform combine, the binary-classifier
//! conventions (one column of weights, one base value) and how the label is chosen.

use std::collections::HashMap;

use super::attributes::Attributes;

/// Rows evaluated together, tree by tree.
const BLOCK: usize = 64;

/// Node kinds: a comparison (with or without "NaN goes to the true child"), or a leaf.
mod kind {
    pub const LEQ: u8 = 0;
    pub const LT: u8 = 1;
    pub const GTE: u8 = 2;
    pub const GT: u8 = 3;
    pub const EQ: u8 = 4;
    pub const NEQ: u8 = 5;
    /// `x <= t || x is NaN`; likewise for the others.
    pub const LEQ_NAN: u8 = 6;
    pub const LT_NAN: u8 = 7;
    pub const GTE_NAN: u8 = 8;
    pub const GT_NAN: u8 = 9;
    pub const EQ_NAN: u8 = 10;
    pub const LEAF: u8 = 255;
}

/// One node: 16 bytes, four to a cache line.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    threshold: f32,
    /// The feature compared (0 for a leaf, so that a lockstep walk can read it).
    feature: u32,
    /// The true child; for a leaf, its index in `leaves`. The false child is the next node.
    jump: u32,
    kind: u8,
}

/// Rows that walk a tree together in lockstep.
const LANES: usize = 8;

/// One vote of a leaf: `weight` for target (or class) `target`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Vote {
    target: u32,
    weight: f32,
}

/// How the trees' votes for one target combine (`aggregate_function`; classifiers always sum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// What is applied to the combined scores (`post_transform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PostTransform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

/// A classifier's class labels (`classlabels_int64s` or `classlabels_strings`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClassLabels {
    Int64(Vec<i64>),
    String(Vec<String>),
}

impl ClassLabels {
    fn len(&self) -> usize {
        match self {
            ClassLabels::Int64(l) => l.len(),
            ClassLabels::String(l) => l.len(),
        }
    }
}

/// A classifier's label for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    /// `classlabels[i]`.
    Class(usize),
    /// onnxruntime's binary classifiers with votes for both classes answer the literal labels 1 or 0
    /// (for string labels: the first or second label).
    Literal(i64),
}

/// What the ensemble predicts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Role {
    Classifier {
        labels: ClassLabels,
        /// Two classes, and every vote for the same one of them.
        binary_one_column: bool,
        weights_all_positive: bool,
    },
    Regressor,
}

/// A parsed, validated tree ensemble.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TreeEnsemble {
    nodes: Vec<Node>,
    votes: Vec<Vote>,
    /// Each leaf's votes: `votes[start..end]`.
    leaves: Vec<[u32; 2]>,
    roots: Vec<u32>,
    /// Each tree's depth: the most splits on a path from its root to a leaf.
    depths: Vec<u32>,
    /// Targets (regressor) or classes (classifier).
    n_targets: usize,
    aggregate: Aggregate,
    post_transform: PostTransform,
    base_values: Vec<f32>,
    role: Role,
    /// Whether every branch is `BRANCH_LEQ` without NaN tracking: the walk then skips the `match`.
    all_leq: bool,
    /// Whether every branch is `BRANCH_LEQ`, with or without NaN tracking: rows then walk the trees
    /// in lockstep.
    lockstep: bool,
    /// The highest feature index a node reads; the input must be wider.
    pub(crate) max_feature: usize,
    /// The ONNX node, for messages: `TreeEnsembleClassifier node "name"`.
    pub(crate) what: String,
}

impl TreeEnsemble {
    /// Reads a `TreeEnsembleClassifier` (`classifier`) or `TreeEnsembleRegressor` node.
    ///
    /// # Errors
    /// A message naming the node and the attribute: a missing or unknown value, lists whose lengths
    /// disagree, a child or vote naming a node that is not in its tree, a cycle, a class or target
    /// index out of range.
    pub(crate) fn parse(attributes: &Attributes<'_>, classifier: bool) -> Result<Self, String> {
        let err = |attribute: &str, message: String| attributes.error(attribute, message);
        let tree_ids = attributes.required_ints("nodes_treeids")?;
        let n = tree_ids.len();
        if n == 0 {
            return Err(err("nodes_treeids", "no nodes".into()));
        }
        let same_length = |name: &str, len: usize, of: &str, count: usize| {
            if len == count {
                Ok(())
            } else {
                Err(err(name, format!("{len} values, but {of} has {count}")))
            }
        };
        let node_ids = attributes.required_ints("nodes_nodeids")?;
        same_length("nodes_nodeids", node_ids.len(), "nodes_treeids", n)?;
        let features = attributes.required_ints("nodes_featureids")?;
        same_length("nodes_featureids", features.len(), "nodes_treeids", n)?;
        let true_ids = attributes.required_ints("nodes_truenodeids")?;
        same_length("nodes_truenodeids", true_ids.len(), "nodes_treeids", n)?;
        let false_ids = attributes.required_ints("nodes_falsenodeids")?;
        same_length("nodes_falsenodeids", false_ids.len(), "nodes_treeids", n)?;
        let values = attributes
            .reals("nodes_values")?
            .ok_or_else(|| err("nodes_values", "missing".into()))?;
        same_length("nodes_values", values.len(), "nodes_treeids", n)?;
        let modes = attributes
            .strings("nodes_modes")?
            .ok_or_else(|| err("nodes_modes", "missing".into()))?;
        same_length("nodes_modes", modes.len(), "nodes_treeids", n)?;
        let missing_true = attributes.ints("nodes_missing_value_tracks_true").unwrap_or(&[]);
        if !missing_true.is_empty() {
            same_length(
                "nodes_missing_value_tracks_true",
                missing_true.len(),
                "nodes_treeids",
                n,
            )?;
        }

        // A classifier's labels (`None` for a regressor); its role is known once the votes are read.
        let (prefix, labels, n_targets) = if classifier {
            let ints = attributes.ints("classlabels_int64s");
            let strings = attributes.strings("classlabels_strings")?;
            let labels = match (ints, strings) {
                (Some(ints), None) => ClassLabels::Int64(ints.to_vec()),
                (None, Some(strings)) => ClassLabels::String(strings),
                (Some(_), Some(_)) => {
                    return Err(err(
                        "classlabels_strings",
                        "given with classlabels_int64s: one of the two".into(),
                    ));
                }
                (None, None) => return Err(err("classlabels_int64s", "missing (or classlabels_strings)".into())),
            };
            let classes = labels.len();
            if classes < 2 {
                return Err(err(
                    "classlabels_int64s",
                    format!("{classes} class label(s); at least 2 are needed"),
                ));
            }
            ("class", Some(labels), classes)
        } else {
            let targets = attributes.int("n_targets").unwrap_or(1);
            if targets < 1 {
                return Err(err("n_targets", format!("{targets}; at least 1")));
            }
            ("target", None, targets as usize)
        };
        let vote_attr = |what: &str| format!("{prefix}_{what}");
        let vote_targets = attributes.required_ints(&vote_attr("ids"))?;
        let v = vote_targets.len();
        let vote_nodes = attributes.required_ints(&vote_attr("nodeids"))?;
        same_length(&vote_attr("nodeids"), vote_nodes.len(), &vote_attr("ids"), v)?;
        let vote_trees = attributes.required_ints(&vote_attr("treeids"))?;
        same_length(&vote_attr("treeids"), vote_trees.len(), &vote_attr("ids"), v)?;
        let vote_weights = attributes
            .reals(&vote_attr("weights"))?
            .ok_or_else(|| err(&vote_attr("weights"), "missing".into()))?;
        same_length(&vote_attr("weights"), vote_weights.len(), &vote_attr("ids"), v)?;

        let post_transform = match attributes.string("post_transform")?.as_deref().unwrap_or("NONE") {
            "NONE" => PostTransform::None,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX" => PostTransform::Softmax,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            other => {
                return Err(err(
                    "post_transform",
                    format!("unknown value {other:?} (NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO or PROBIT)"),
                ));
            }
        };
        let aggregate = if classifier {
            Aggregate::Sum
        } else {
            match attributes.string("aggregate_function")?.as_deref().unwrap_or("SUM") {
                "SUM" => Aggregate::Sum,
                "AVERAGE" => Aggregate::Average,
                "MIN" => Aggregate::Min,
                "MAX" => Aggregate::Max,
                other => {
                    return Err(err(
                        "aggregate_function",
                        format!("unknown value {other:?} (SUM, AVERAGE, MIN or MAX)"),
                    ));
                }
            }
        };
        let base_values: Vec<f32> = attributes
            .reals("base_values")?
            .unwrap_or_default()
            .into_iter()
            .map(|b| b as f32)
            .collect();
        if !(base_values.is_empty() || base_values.len() == 1 || base_values.len() == n_targets) {
            return Err(err(
                "base_values",
                format!(
                    "{} values for {n_targets} {prefix}(e)s: 0, 1 or {n_targets} expected",
                    base_values.len()
                ),
            ));
        }

        // Every node by (tree, id); trees in the order they first appear.
        let mut index: HashMap<(i64, i64), usize> = HashMap::with_capacity(n);
        let mut trees: Vec<i64> = Vec::new();
        let mut tree_seen: HashMap<i64, ()> = HashMap::new();
        for i in 0..n {
            if index.insert((tree_ids[i], node_ids[i]), i).is_some() {
                return Err(err(
                    "nodes_nodeids",
                    format!("node {} of tree {} appears twice", node_ids[i], tree_ids[i]),
                ));
            }
            if tree_seen.insert(tree_ids[i], ()).is_none() {
                trees.push(tree_ids[i]);
            }
        }
        let mut kinds = Vec::with_capacity(n);
        for i in 0..n {
            let nan = missing_true.get(i).is_some_and(|&m| m != 0);
            let k = match modes[i].as_str() {
                "LEAF" => kind::LEAF,
                "BRANCH_LEQ" if nan => kind::LEQ_NAN,
                "BRANCH_LEQ" => kind::LEQ,
                "BRANCH_LT" if nan => kind::LT_NAN,
                "BRANCH_LT" => kind::LT,
                "BRANCH_GTE" if nan => kind::GTE_NAN,
                "BRANCH_GTE" => kind::GTE,
                "BRANCH_GT" if nan => kind::GT_NAN,
                "BRANCH_GT" => kind::GT,
                "BRANCH_EQ" if nan => kind::EQ_NAN,
                "BRANCH_EQ" => kind::EQ,
                // NaN != t holds already: tracking NaN changes nothing.
                "BRANCH_NEQ" => kind::NEQ,
                other => {
                    return Err(err(
                        "nodes_modes",
                        format!(
                            "unknown mode {other:?} for node {} of tree {} (BRANCH_LEQ, BRANCH_LT, BRANCH_GTE, \
                             BRANCH_GT, BRANCH_EQ, BRANCH_NEQ or LEAF)",
                            node_ids[i], tree_ids[i]
                        ),
                    ));
                }
            };
            if k != kind::LEAF && features[i] < 0 {
                return Err(err(
                    "nodes_featureids",
                    format!(
                        "feature {} for node {} of tree {}",
                        features[i], node_ids[i], tree_ids[i]
                    ),
                ));
            }
            kinds.push(k);
        }

        // Votes per node, in the order given.
        let mut node_votes: Vec<Vec<Vote>> = vec![Vec::new(); n];
        let mut weights_all_positive = true;
        let mut voted_targets: Vec<bool> = vec![false; n_targets];
        for j in 0..v {
            let Some(&i) = index.get(&(vote_trees[j], vote_nodes[j])) else {
                return Err(err(
                    &vote_attr("nodeids"),
                    format!(
                        "vote {j} is for node {} of tree {}, which is not there",
                        vote_nodes[j], vote_trees[j]
                    ),
                ));
            };
            let target = vote_targets[j];
            if target < 0 || target as usize >= n_targets {
                return Err(err(
                    &vote_attr("ids"),
                    format!("vote {j} is for {prefix} {target}, but there are {n_targets} (0..{n_targets})"),
                ));
            }
            weights_all_positive &= vote_weights[j] >= 0.0;
            voted_targets[target as usize] = true;
            node_votes[i].push(Vote {
                target: target as u32,
                weight: vote_weights[j] as f32,
            });
        }

        // Lay every tree out depth first, false child next, true child at `jump`.
        let mut nodes: Vec<Node> = Vec::with_capacity(n);
        let mut votes: Vec<Vote> = Vec::with_capacity(v);
        let mut roots = Vec::with_capacity(trees.len());
        let mut depths = Vec::with_capacity(trees.len());
        let mut leaves: Vec<[u32; 2]> = Vec::new();
        let mut placed = vec![false; n];
        let mut max_feature = 0usize;
        let mut all_leq = true;
        let mut lockstep = true;
        for &tree in &trees {
            let root = index
                .get(&(tree, 0))
                .copied()
                .or_else(|| (0..n).find(|&i| tree_ids[i] == tree))
                .expect("every tree has a node");
            roots.push(nodes.len() as u32);
            let mut depth = 0;
            // (source node, where its parent's `jump` must point if it is a true child, its depth)
            let mut stack: Vec<(usize, Option<usize>, u32)> = vec![(root, None, 0)];
            while let Some((i, parent, level)) = stack.pop() {
                depth = depth.max(level);
                if placed[i] {
                    return Err(err(
                        "nodes_truenodeids",
                        format!(
                            "node {} of tree {tree} is reached twice: the tree has a cycle or a shared child",
                            node_ids[i]
                        ),
                    ));
                }
                placed[i] = true;
                let at = nodes.len();
                if let Some(parent) = parent {
                    nodes[parent].jump = at as u32;
                }
                if kinds[i] == kind::LEAF {
                    let start = votes.len();
                    votes.extend_from_slice(&node_votes[i]);
                    nodes.push(Node {
                        threshold: 0.0,
                        feature: 0,
                        jump: leaves.len() as u32,
                        kind: kind::LEAF,
                    });
                    leaves.push([start as u32, votes.len() as u32]);
                    continue;
                }
                let child = |ids: &[i64], attribute: &str| {
                    let id = ids[i];
                    match index.get(&(tree, id)) {
                        Some(&c) if c != i => Ok(c),
                        _ => Err(err(
                            attribute,
                            format!(
                                "node {} of tree {tree} points to node {id}, which is not another node of that tree",
                                node_ids[i]
                            ),
                        )),
                    }
                };
                let yes = child(true_ids, "nodes_truenodeids")?;
                let no = child(false_ids, "nodes_falsenodeids")?;
                let feature = features[i] as usize;
                max_feature = max_feature.max(feature);
                let (k, threshold) = representable(kinds[i], values[i]);
                all_leq &= k == kind::LEQ;
                lockstep &= k == kind::LEQ || k == kind::LEQ_NAN;
                nodes.push(Node {
                    threshold,
                    feature: feature as u32,
                    jump: u32::MAX,
                    kind: k,
                });
                // Popped last to first: the false child is laid out right after this node.
                stack.push((yes, Some(at), level + 1));
                stack.push((no, None, level + 1));
            }
            depths.push(depth);
        }

        let role = match labels {
            Some(labels) => Role::Classifier {
                binary_one_column: n_targets == 2 && voted_targets.iter().filter(|&&t| t).count() == 1,
                labels,
                weights_all_positive,
            },
            None => Role::Regressor,
        };
        if matches!(role, Role::Classifier { .. }) && n_targets == 2 && post_transform == PostTransform::Probit {
            return Err(err(
                "post_transform",
                "PROBIT on a binary classifier is not defined".into(),
            ));
        }
        Ok(TreeEnsemble {
            nodes,
            votes,
            leaves,
            roots,
            depths,
            n_targets,
            aggregate,
            post_transform,
            base_values,
            role,
            all_leq,
            lockstep,
            max_feature,
            what: attributes.what(),
        })
    }

    /// Targets (regressor) or classes (classifier): the width of the scores output.
    pub(crate) fn n_targets(&self) -> usize {
        self.n_targets
    }

    /// The class labels, for a classifier.
    pub(crate) fn class_labels(&self) -> Option<&ClassLabels> {
        match &self.role {
            Role::Classifier { labels, .. } => Some(labels),
            Role::Regressor => None,
        }
    }

    /// The leaf row `x` reaches in the tree whose root is at `root`.
    #[inline]
    fn leaf(&self, root: u32, x: &[f32]) -> &Node {
        let nodes = &self.nodes[..];
        let mut i = root as usize;
        if self.all_leq {
            loop {
                let node = &nodes[i];
                if node.kind == kind::LEAF {
                    return node;
                }
                i = if x[node.feature as usize] <= node.threshold {
                    node.jump as usize
                } else {
                    i + 1
                };
            }
        }
        loop {
            let node = &nodes[i];
            let (v, t) = match node.kind {
                kind::LEAF => return node,
                _ => (x[node.feature as usize], node.threshold),
            };
            let yes = match node.kind {
                kind::LEQ => v <= t,
                kind::LT => v < t,
                kind::GTE => v >= t,
                kind::GT => v > t,
                kind::EQ => v == t,
                kind::NEQ => v != t,
                kind::LEQ_NAN => v <= t || v.is_nan(),
                kind::LT_NAN => v < t || v.is_nan(),
                kind::GTE_NAN => v >= t || v.is_nan(),
                kind::GT_NAN => v > t || v.is_nan(),
                _ => v == t || v.is_nan(),
            };
            i = if yes { node.jump as usize } else { i + 1 };
        }
    }

    /// The leaves (node indices) that `LANES` rows (`x`, row after row) reach in the tree at
    /// `root`, of depth `depth`, every split being `BRANCH_LEQ` (NaN tracked or not): the rows take
    /// `depth` steps side by side, each step a select rather than a branch; a row at a leaf stays
    /// there.
    #[inline]
    fn lockstep(&self, root: u32, depth: u32, x: &[f32], width: usize) -> [u32; LANES] {
        let nodes = &self.nodes[..];
        let mut at = [root; LANES];
        for _ in 0..depth {
            for (lane, i) in at.iter_mut().enumerate() {
                let node = &nodes[*i as usize];
                let v = x[lane * width + node.feature as usize];
                let yes = (v <= node.threshold) | ((node.kind == kind::LEQ_NAN) & v.is_nan());
                // Selects by masks rather than branches: the outcome is unpredictable.
                let take_jump = u32::from(yes).wrapping_neg();
                let next = (node.jump & take_jump) | ((*i + 1) & !take_jump);
                let stay = u32::from(node.kind == kind::LEAF).wrapping_neg();
                *i = (*i & stay) | (next & !stay);
            }
        }
        at
    }

    /// Adds the votes of `leaf` to one row's scores.
    #[inline]
    fn vote(&self, leaf: &Node, acc: &mut [f32], seen: &mut [bool]) {
        let [start, end] = self.leaves[leaf.jump as usize];
        for vote in &self.votes[start as usize..end as usize] {
            let t = vote.target as usize;
            match self.aggregate {
                Aggregate::Sum | Aggregate::Average => acc[t] += vote.weight,
                Aggregate::Min => {
                    if !seen[t] || vote.weight < acc[t] {
                        acc[t] = vote.weight;
                    }
                }
                Aggregate::Max => {
                    if !seen[t] || vote.weight > acc[t] {
                        acc[t] = vote.weight;
                    }
                }
            }
            seen[t] = true;
        }
    }

    /// Scores `rows` rows of `width` features (`x`, row after row) into `scores`
    /// (`rows × n_targets`), and, for a classifier, their labels into `labels`.
    /// `width` must exceed [`max_feature`](Self::max_feature).
    pub(crate) fn eval(&self, x: &[f32], width: usize, scores: &mut [f32], labels: &mut [Label]) {
        let rows = x.len().checked_div(width).unwrap_or(0);
        let n = self.n_targets;
        debug_assert_eq!(scores.len(), rows * n);
        let mut sums = [0f32; BLOCK * 4];
        let mut heap_sums = Vec::new();
        let mut has = [false; BLOCK * 4];
        let mut heap_has = Vec::new();
        let (sums, has): (&mut [f32], &mut [bool]) = if n <= 4 {
            (&mut sums[..], &mut has[..])
        } else {
            heap_sums.resize(BLOCK * n, 0.0);
            heap_has.resize(BLOCK * n, false);
            (&mut heap_sums[..], &mut heap_has[..])
        };
        for block_start in (0..rows).step_by(BLOCK) {
            let block = (rows - block_start).min(BLOCK);
            let sums = &mut sums[..block * n];
            let has = &mut has[..block * n];
            sums.fill(0.0);
            has.fill(false);
            let rows_of_block = &x[block_start * width..(block_start + block) * width];
            for (&root, &depth) in self.roots.iter().zip(&self.depths) {
                let mut r = 0;
                if self.lockstep {
                    while r + LANES <= block {
                        let at = self.lockstep(root, depth, &rows_of_block[r * width..(r + LANES) * width], width);
                        for (lane, &leaf) in at.iter().enumerate() {
                            let leaf = &self.nodes[leaf as usize];
                            self.vote(
                                leaf,
                                &mut sums[(r + lane) * n..(r + lane + 1) * n],
                                &mut has[(r + lane) * n..(r + lane + 1) * n],
                            );
                        }
                        r += LANES;
                    }
                }
                for r in r..block {
                    let row = &rows_of_block[r * width..(r + 1) * width];
                    let leaf = self.leaf(root, row);
                    self.vote(leaf, &mut sums[r * n..(r + 1) * n], &mut has[r * n..(r + 1) * n]);
                }
            }
            for r in 0..block {
                let row = block_start + r;
                let out = &mut scores[row * n..(row + 1) * n];
                let acc = &mut sums[r * n..(r + 1) * n];
                let seen = &mut has[r * n..(r + 1) * n];
                match &self.role {
                    Role::Regressor => self.finish_regression(acc, seen, out),
                    Role::Classifier { .. } => labels[row] = self.finish_classification(acc, seen, out),
                }
            }
        }
    }

    fn finish_regression(&self, acc: &mut [f32], seen: &[bool], out: &mut [f32]) {
        let trees = self.roots.len() as f32;
        if self.n_targets == 1 {
            let origin = if self.base_values.len() == 1 {
                self.base_values[0]
            } else {
                0.0
            };
            let score = match self.aggregate {
                Aggregate::Sum => acc[0] + origin,
                Aggregate::Average => acc[0] / trees + origin,
                Aggregate::Min | Aggregate::Max => {
                    if seen[0] {
                        acc[0] + origin
                    } else {
                        origin
                    }
                }
            };
            // With a single target, onnxruntime applies PROBIT only.
            out[0] = if self.post_transform == PostTransform::Probit {
                probit(score)
            } else {
                score
            };
            return;
        }
        let base = (self.base_values.len() == self.n_targets).then_some(&self.base_values[..]);
        for t in 0..self.n_targets {
            let b = base.map_or(0.0, |b| b[t]);
            out[t] = match self.aggregate {
                // As onnxruntime: a target no tree voted for scores 0, without its base value.
                _ if !seen[t] => 0.0,
                Aggregate::Sum | Aggregate::Min | Aggregate::Max => acc[t] + b,
                Aggregate::Average => acc[t] / trees + b,
            };
        }
        transform(self.post_transform, out);
    }

    fn finish_classification(&self, acc: &mut [f32], seen: &mut [bool], out: &mut [f32]) -> Label {
        let Role::Classifier {
            binary_one_column,
            weights_all_positive,
            ..
        } = self.role
        else {
            unreachable!("a classifier");
        };
        let base = &self.base_values;
        if self.n_targets > 2 {
            for (k, &b) in base.iter().enumerate() {
                acc[k] = if seen[k] { acc[k] + b } else { b };
                seen[k] = true;
            }
            let mut best: Option<usize> = None;
            for k in 0..self.n_targets {
                if seen[k] && best.is_none_or(|b| acc[k] > acc[b]) {
                    best = Some(k);
                }
            }
            out.copy_from_slice(acc);
            transform(self.post_transform, out);
            return Label::Class(best.unwrap_or(0));
        }
        // Two classes.
        let mut second_class = SecondClass::Zero;
        let mut one_column = false;
        match base.len() {
            2 => {
                // As onnxruntime: a class without votes keeps 0, without its base value.
                for k in 0..2 {
                    if seen[k] {
                        acc[k] += base[k];
                    }
                }
            }
            1 => {
                acc[0] += base[0];
                one_column = !seen[1];
            }
            _ => {
                second_class = SecondClass::Mirrored;
                one_column = !seen[1];
            }
        }
        let positive = if !one_column && seen[1] {
            acc[1]
        } else if seen[0] {
            acc[0]
        } else {
            0.0
        };
        let label = if binary_one_column {
            // All votes for one class: positive weights are a probability (threshold 0.5), mixed
            // signs a margin (threshold 0).
            let (is_positive, second) = if weights_all_positive {
                (positive > 0.5, SecondClass::Complement)
            } else {
                (positive > 0.0, SecondClass::Mirrored)
            };
            second_class = second;
            Label::Class(usize::from(is_positive))
        } else {
            Label::Literal(i64::from(positive > 0.0))
        };
        if one_column {
            let s = acc[0];
            let logistic = self.post_transform == PostTransform::Logistic;
            match second_class {
                SecondClass::Complement => {
                    let s = if logistic { logistic_of(s) } else { s };
                    out[0] = 1.0 - s;
                    out[1] = s;
                }
                SecondClass::Mirrored if logistic => {
                    out[0] = logistic_of(-s);
                    out[1] = logistic_of(s);
                }
                SecondClass::Mirrored => {
                    out[0] = -s;
                    out[1] = s;
                }
                SecondClass::Zero => {
                    out[0] = s;
                    out[1] = 0.0;
                }
            }
        } else {
            out.copy_from_slice(acc);
            transform(self.post_transform, out);
        }
        label
    }
}

/// How onnxruntime turns a binary classifier's one score column `s` into two.
#[derive(Clone, Copy)]
enum SecondClass {
    /// `[s, 0]`.
    Zero,
    /// `[1 - s, s]` (`s` through the logistic function first, if that is the post-transform).
    Complement,
    /// `[-s, s]` (or the logistic function of both).
    Mirrored,
}

/// The node kind and f32 threshold that compare an f32 input exactly as `kind` does against the
/// (possibly double) `threshold`.
fn representable(kind: u8, threshold: f64) -> (u8, f32) {
    let t = threshold as f32;
    if f64::from(t) == threshold || threshold.is_nan() {
        return (kind, t);
    }
    // The f32 neighbours below and above the double threshold.
    let (below, above) = if f64::from(t) < threshold {
        (t, t.next_up())
    } else {
        (t.next_down(), t)
    };
    match kind {
        // x <= t  and  x < t  ⇔  x <= below
        kind::LEQ | kind::LT => (kind::LEQ, below),
        kind::LEQ_NAN | kind::LT_NAN => (kind::LEQ_NAN, below),
        // x >= t  and  x > t  ⇔  x >= above
        kind::GTE | kind::GT => (kind::GTE, above),
        kind::GTE_NAN | kind::GT_NAN => (kind::GTE_NAN, above),
        // No f32 equals t: never equal (x < -inf is always false), always different.
        kind::EQ => (kind::LT, f32::NEG_INFINITY),
        kind::EQ_NAN => (kind::LT_NAN, f32::NEG_INFINITY),
        _ => (kind::NEQ, f32::NAN),
    }
}

/// The logistic function, computed as onnxruntime does (on |x|, mirrored for negative x).
fn logistic_of(x: f32) -> f32 {
    let v = 1.0 / (1.0 + (-x.abs()).exp());
    if x < 0.0 { 1.0 - v } else { v }
}

/// The probit function `√2 · erfinv(2p − 1)`, with Winitzki's approximation of erfinv (a = 0.147),
/// the one onnxruntime uses.
fn probit(p: f32) -> f32 {
    const A: f32 = 0.147;
    let x = 2.0 * p - 1.0;
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let ln = ((1.0 - x) * (1.0 + x)).ln();
    // onnxruntime's five-digit π, not f32's: the same approximation gives the same scores.
    #[allow(clippy::approx_constant)]
    const PI: f32 = 3.14159;
    let first = 2.0 / (PI * A) + 0.5 * ln;
    let second = ln / A;
    std::f32::consts::SQRT_2 * sign * (-first + (first * first - second).sqrt()).sqrt()
}

/// Applies a post-transform to one row of two or more scores.
fn transform(post: PostTransform, scores: &mut [f32]) {
    match post {
        PostTransform::None => {}
        PostTransform::Logistic => scores.iter_mut().for_each(|s| *s = logistic_of(*s)),
        PostTransform::Probit => scores.iter_mut().for_each(|s| *s = probit(*s)),
        PostTransform::Softmax => {
            let max = scores.iter().copied().fold(-f32::MAX, f32::max);
            let mut sum = 0.0;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            scores.iter_mut().for_each(|s| *s /= sum);
        }
        PostTransform::SoftmaxZero => {
            // Like softmax, but a score of (about) zero stays about zero.
            let max = scores.iter().copied().fold(-f32::MAX, f32::max);
            let scale_of_zero = (-max).exp();
            let mut sum = 0.0;
            for s in scores.iter_mut() {
                if s.abs() > 1e-7 {
                    *s = (*s - max).exp();
                    sum += *s;
                } else {
                    *s *= scale_of_zero;
                }
            }
            scores.iter_mut().for_each(|s| *s /= sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use tract_onnx::pb::{AttributeProto, NodeProto};

    use super::*;

    fn ints(name: &str, values: &[i64]) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            ints: values.to_vec(),
            ..Default::default()
        }
    }

    fn floats(name: &str, values: &[f32]) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            floats: values.to_vec(),
            ..Default::default()
        }
    }

    fn strings(name: &str, values: &[&str]) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            strings: values.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ..Default::default()
        }
    }

    fn string(name: &str, value: &str) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            s: value.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    /// A one-tree regressor: node 0 compares feature 0 with 1.0 (`mode`), true → leaf 1 (10),
    /// false → leaf 2 (20); node ids listed out of order.
    fn stump(mode: &str, nan_true: i64) -> NodeProto {
        NodeProto {
            name: "stump".into(),
            op_type: "TreeEnsembleRegressor".into(),
            attribute: vec![
                ints("nodes_treeids", &[0, 0, 0]),
                ints("nodes_nodeids", &[2, 0, 1]),
                ints("nodes_featureids", &[0, 0, 0]),
                ints("nodes_truenodeids", &[0, 1, 0]),
                ints("nodes_falsenodeids", &[0, 2, 0]),
                floats("nodes_values", &[0.0, 1.0, 0.0]),
                strings("nodes_modes", &["LEAF", mode, "LEAF"]),
                ints("nodes_missing_value_tracks_true", &[0, nan_true, 0]),
                ints("target_ids", &[0, 0]),
                ints("target_nodeids", &[1, 2]),
                ints("target_treeids", &[0, 0]),
                floats("target_weights", &[10.0, 20.0]),
            ],
            ..Default::default()
        }
    }

    fn predict(node: &NodeProto, x: f32) -> f32 {
        let ensemble = TreeEnsemble::parse(&Attributes::new(node), false).unwrap();
        let mut out = [0.0];
        ensemble.eval(&[x], 1, &mut out, &mut []);
        out[0]
    }

    #[test]
    fn every_mode_compares_as_named_and_nan_follows_the_tracking_flag() {
        let cases: [(&str, [f32; 3]); 6] = [
            // x = 0.5, 1.0, 2.0 → true (10) or false (20)
            ("BRANCH_LEQ", [10.0, 10.0, 20.0]),
            ("BRANCH_LT", [10.0, 20.0, 20.0]),
            ("BRANCH_GTE", [20.0, 10.0, 10.0]),
            ("BRANCH_GT", [20.0, 20.0, 10.0]),
            ("BRANCH_EQ", [20.0, 10.0, 20.0]),
            ("BRANCH_NEQ", [10.0, 20.0, 10.0]),
        ];
        for (mode, want) in cases {
            for (x, want) in [0.5, 1.0, 2.0].into_iter().zip(want) {
                assert_eq!(predict(&stump(mode, 0), x), want, "{mode} at {x}");
            }
            let nan_false = if mode == "BRANCH_NEQ" { 10.0 } else { 20.0 };
            assert_eq!(
                predict(&stump(mode, 0), f32::NAN),
                nan_false,
                "{mode} at NaN, not tracked"
            );
            assert_eq!(predict(&stump(mode, 1), f32::NAN), 10.0, "{mode} at NaN, tracked true");
        }
    }

    #[test]
    fn a_double_threshold_compares_like_a_double() {
        // 1.0 + 2^-40 is no f32: x <= t holds for x = 1.0 and not for the next f32 up.
        let t = 1.0 + 2f64.powi(-40);
        let next = 1f32.next_up();
        assert_eq!(representable(kind::LEQ, t), (kind::LEQ, 1.0));
        assert_eq!(representable(kind::LT, t), (kind::LEQ, 1.0));
        assert_eq!(representable(kind::GT, t), (kind::GTE, next));
        assert_eq!(representable(kind::GTE, t), (kind::GTE, next));
        let (k, threshold) = representable(kind::EQ, t);
        assert!(k == kind::LT && threshold == f32::NEG_INFINITY, "never equal");
        assert_eq!(representable(kind::LEQ, 0.5), (kind::LEQ, 0.5));
    }

    #[test]
    fn malformed_trees_are_refused_naming_node_and_attribute() {
        let mut unknown = stump("BRANCH_FOO", 0);
        unknown.attribute[6] = strings("nodes_modes", &["LEAF", "BRANCH_FOO", "LEAF"]);
        let e = TreeEnsemble::parse(&Attributes::new(&unknown), false).unwrap_err();
        assert!(
            e.contains(r#"node "stump""#) && e.contains("attribute nodes_modes") && e.contains("BRANCH_FOO"),
            "{e}"
        );

        let mut cycle = stump("BRANCH_LEQ", 0);
        cycle.attribute[4] = ints("nodes_falsenodeids", &[0, 0, 0]);
        let e = TreeEnsemble::parse(&Attributes::new(&cycle), false).unwrap_err();
        assert!(e.contains("attribute nodes_falsenodeids") || e.contains("cycle"), "{e}");

        let mut short = stump("BRANCH_LEQ", 0);
        short.attribute[5] = floats("nodes_values", &[0.0, 1.0]);
        let e = TreeEnsemble::parse(&Attributes::new(&short), false).unwrap_err();
        assert!(
            e.contains("attribute nodes_values: 2 values, but nodes_treeids has 3"),
            "{e}"
        );

        let mut target = stump("BRANCH_LEQ", 0);
        target.attribute[8] = ints("target_ids", &[0, 3]);
        let e = TreeEnsemble::parse(&Attributes::new(&target), false).unwrap_err();
        assert!(e.contains("attribute target_ids") && e.contains("target 3"), "{e}");

        let mut aggregate = stump("BRANCH_LEQ", 0);
        aggregate.attribute.push(string("aggregate_function", "MEDIAN"));
        let e = TreeEnsemble::parse(&Attributes::new(&aggregate), false).unwrap_err();
        assert!(
            e.contains("attribute aggregate_function") && e.contains("MEDIAN"),
            "{e}"
        );
    }

    #[test]
    fn a_batch_scores_as_its_rows_do_one_by_one() {
        let node = stump("BRANCH_LEQ", 0);
        let ensemble = TreeEnsemble::parse(&Attributes::new(&node), false).unwrap();
        let x: Vec<f32> = (0..200).map(|i| i as f32 / 100.0).collect();
        let mut batch = vec![0.0; 200];
        ensemble.eval(&x, 1, &mut batch, &mut []);
        for (i, &xi) in x.iter().enumerate() {
            assert_eq!(batch[i], predict(&node, xi), "row {i}");
        }
    }
}
