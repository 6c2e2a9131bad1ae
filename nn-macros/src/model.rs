//! The model: the syntax tree lowered to a list of typed nodes, each with its input and output
//! [`Shape`] computed once, here. Checks read the model to find mistakes; expansion reads it to
//! write code. A new layer kind is a new [`NodeKind`] variant with its shape rule in
//! [`output_shape`].
//!
//! Building never fails: what cannot be known (a shape after an entry that failed to parse, a
//! residual source that names no earlier layer) is `None`, and the checks report or skip it.
//! Expansion runs only on a model that passed every check, where nothing is `None`.

use crate::syntax::{EntryKind, Layer, LayerKind, LossKind, Network, keyword, shown};

pub use crate::recurrent::SequenceOp;

/// The shape of the value one sample flows through a layer as.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    /// A vector of this many features.
    Vector(usize),
    /// A sequence of steps of this many features each; its length is known at run time.
    Sequence(usize),
    /// A 1-D feature map `[C, L]` (PyTorch's channels first), carried flattened.
    Signal { channels: usize, length: usize },
    /// A 2-D feature map `[C, H, W]`, carried flattened in C×H×W order.
    Image {
        channels: usize,
        height: usize,
        width: usize,
    },
}

impl Shape {
    /// Scalars per sample (per step, for a sequence).
    pub fn len(self) -> usize {
        match self {
            Shape::Vector(width) | Shape::Sequence(width) => width,
            Shape::Signal { channels, length } => channels.saturating_mul(length),
            Shape::Image {
                channels,
                height,
                width,
            } => channels.saturating_mul(height).saturating_mul(width),
        }
    }

    /// The channels a batch norm normalizes separately: the features of a vector, the
    /// channels of a feature map.
    pub fn channels(self) -> usize {
        match self {
            Shape::Vector(width) | Shape::Sequence(width) => width,
            Shape::Signal { channels, .. } | Shape::Image { channels, .. } => channels,
        }
    }
}

/// The declaration as nodes.
pub struct Model<'a> {
    pub net: &'a Network,
    /// The shape of `x`; `None` when no `input:` entry parsed.
    pub input: Option<Shape>,
    pub nodes: Vec<Node<'a>>,
    /// Whether the last layer entry of the declaration parsed (so the last node is the layer the
    /// loss reads).
    pub ends_with_node: bool,
}

/// One layer.
pub struct Node<'a> {
    pub layer: &'a Layer,
    pub kind: NodeKind,
    /// `None` when the entry before this one failed to parse, or there is no input width.
    pub input: Option<Shape>,
    pub output: Option<Shape>,
    pub residual: Option<Residual<'a>>,
}

/// What a node computes.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum NodeKind {
    /// `z = W x + b` (or `W x` without bias), `[width] ← [in]`.
    Dense { bias: bool },
    /// `z = γ ⊙ (x − μ)/√(σ² + eps) + β` over the features, shape unchanged.
    LayerNorm { eps: f64 },
    /// `z = x ⊙ mask` in training (inverted dropout), `z = x` at inference; shape unchanged.
    Dropout { p: f64 },
    /// `z = γ ⊙ (x − μ)/√(σ² + eps) + β` per feature (per channel of a feature map, over its
    /// positions too) over the batch in training, with the running statistics at inference;
    /// shape unchanged.
    BatchNorm { eps: f64, momentum: f64 },
    /// A recurrent cell or a reduction over time (see [`crate::recurrent`]).
    Sequence(SequenceOp),
    /// A convolution or a pooling over a feature map (see `crate::conv`).
    Spatial(crate::conv::SpatialNode),
}

impl NodeKind {
    /// Whether the layer computes differently in training and at inference.
    pub fn has_modes(self) -> bool {
        matches!(self, NodeKind::Dropout { .. } | NodeKind::BatchNorm { .. })
    }
}

/// Where a residual reads from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    Input,
    Layer(usize),
}

/// `+ source` or `+ project(source)`, resolved.
pub struct Residual<'a> {
    pub syntax: &'a crate::syntax::Residual,
    /// `None` when the name is not `input` nor an earlier layer that parsed.
    pub source: Option<Source>,
    /// The source's output shape, when known.
    pub shape: Option<Shape>,
    pub project: bool,
}

/// Lowers a declaration: shapes flow from the input through the entries in order.
pub fn build(net: &Network) -> Model<'_> {
    let input = net.inputs.first().and_then(|input| {
        match (input.sequence.is_some(), input.dims.as_slice()) {
            (true, _) => Some(Shape::Sequence(input.width.value)),
            (false, []) => Some(Shape::Vector(input.width.value)),
            (false, dims) => crate::conv::input_shape(dims),
        }
    });
    let mut nodes: Vec<Node<'_>> = Vec::new();
    let mut layers = net.layers.iter();
    let mut previous = input;
    let mut ends_with_node = false;
    for slot in net
        .order
        .iter()
        .filter(|slot| slot.kind == EntryKind::Layer)
    {
        ends_with_node = slot.parsed;
        if !slot.parsed {
            // What comes out of an entry that failed to parse is unknown.
            previous = None;
            continue;
        }
        let Some(layer) = layers.next() else { break };
        let kind = match &layer.kind {
            LayerKind::Dense { bias, .. } => NodeKind::Dense { bias: *bias },
            LayerKind::LayerNorm { eps, .. } => NodeKind::LayerNorm { eps: *eps },
            LayerKind::Dropout { p, .. } => NodeKind::Dropout { p: *p },
            LayerKind::BatchNorm { eps, momentum, .. } => NodeKind::BatchNorm {
                eps: *eps,
                momentum: *momentum,
            },
            LayerKind::Recurrent { .. } | LayerKind::Reduce { .. } => {
                NodeKind::Sequence(SequenceOp::of(&layer.kind))
            }
            LayerKind::Spatial(layer) => crate::causal::lower(layer, previous)
                .unwrap_or_else(|| NodeKind::Spatial(layer.node())),
        };
        let output = output_shape(layer, previous);
        let residual = layer.residual.as_ref().map(|syntax| {
            let source = find_source(&nodes, input, &syntax.source);
            Residual {
                syntax,
                source: source.map(|(source, _)| source),
                shape: source.and_then(|(_, shape)| shape),
                project: syntax.project.is_some(),
            }
        });
        nodes.push(Node {
            layer,
            kind,
            input: previous,
            output,
            residual,
        });
        previous = output;
    }
    Model {
        net,
        input,
        nodes,
        ends_with_node,
    }
}

/// The shape a layer makes of its input: each kind's shape rule.
fn output_shape(layer: &Layer, input: Option<Shape>) -> Option<Shape> {
    match &layer.kind {
        // Per step on a sequence.
        LayerKind::Dense { width, .. } => match input {
            Some(Shape::Sequence(_)) => Some(Shape::Sequence(width.value)),
            _ => Some(Shape::Vector(width.value)),
        },
        LayerKind::LayerNorm { .. } | LayerKind::Dropout { .. } | LayerKind::BatchNorm { .. } => {
            input
        }
        LayerKind::Recurrent { .. } | LayerKind::Reduce { .. } => {
            crate::recurrent::output_shape(&layer.kind, input)
        }
        LayerKind::Spatial(spatial) if matches!(input, Some(Shape::Sequence(_))) => {
            crate::causal::output_shape(spatial)
        }
        LayerKind::Spatial(spatial) => crate::conv::output_shape(spatial.node(), input),
    }
}

/// `input`, or an earlier node by name, with its output shape.
fn find_source(
    nodes: &[Node<'_>],
    input: Option<Shape>,
    name: &syn::Ident,
) -> Option<(Source, Option<Shape>)> {
    if name == keyword::INPUT {
        return Some((Source::Input, input));
    }
    nodes
        .iter()
        .position(|node| shown(&node.layer.name) == shown(name))
        .map(|index| (Source::Layer(index), nodes[index].output))
}

/// One parameter tensor of a node, as PyTorch names and lays it out.
pub struct Tensor {
    /// After the layer's name: `weight` gives `h1.weight`.
    pub suffix: &'static str,
    /// PyTorch's shape: `[out, in]` for a weight.
    pub shape: Vec<usize>,
    /// The runtime's `TensorRole` variant.
    pub role: String,
}

impl Tensor {
    /// Scalars in the tensor (saturating: a width is at most 2²⁴, a product of three is not).
    pub fn len(&self) -> usize {
        self.shape.iter().fold(1, |n, &d| n.saturating_mul(d))
    }
}

impl Node<'_> {
    /// The node's parameter tensors, once its shapes are known.
    pub fn tensors(&self) -> Option<Vec<Tensor>> {
        let (input, output) = (self.input?.len(), self.output?.len());
        let tensor = |suffix, shape, role: &str| Tensor {
            suffix,
            shape,
            role: role.to_owned(),
        };
        let mut tensors = match self.kind {
            NodeKind::Dense { bias } => {
                let mut tensors = vec![tensor("weight", vec![output, input], "Weight")];
                if bias {
                    tensors.push(tensor("bias", vec![output], "Bias"));
                }
                tensors
            }
            NodeKind::LayerNorm { .. } => vec![
                tensor("weight", vec![output], "NormGain"),
                tensor("bias", vec![output], "NormShift"),
            ],
            NodeKind::Dropout { .. } => Vec::new(),
            NodeKind::BatchNorm { .. } => {
                let channels = self.output?.channels();
                vec![
                    tensor("weight", vec![channels], "NormGain"),
                    tensor("bias", vec![channels], "NormShift"),
                    tensor("running_mean", vec![channels], "RunningMean"),
                    tensor("running_var", vec![channels], "RunningVar"),
                ]
            }
            NodeKind::Sequence(op) => op.tensors(input, output),
            NodeKind::Spatial(spatial) => crate::conv::tensors(spatial, self.input?),
        };
        if let Some(residual) = self.residual.as_ref().filter(|r| r.project) {
            let source = residual.shape?.len();
            let shape = crate::conv::projection_shape(self.output?, residual.shape?)
                .unwrap_or(vec![output, source]);
            tensors.push(tensor("proj.weight", shape, "Projection"));
        }
        Some(tensors)
    }
}

impl Model<'_> {
    /// Whether a layer computes differently in training and at inference (dropout, batch
    /// norm): the network then trains through `train_batch` only.
    pub fn has_modes(&self) -> bool {
        self.nodes.iter().any(|node| node.kind.has_modes())
    }

    /// Whether a layer works on feature maps (convolution, pooling): its batch kernels read
    /// the batch's storage whole, so the batch methods take the input as an owned `Batch`.
    pub fn has_spatial(&self) -> bool {
        self.nodes
            .iter()
            .any(|node| matches!(node.kind, NodeKind::Spatial(_)))
    }
}

const CHECKED: &str = "expansion runs only on a model that passed every check";

/// Accessors for expansion, which runs only on a checked model (every shape known).
impl Model<'_> {
    pub fn input_width(&self) -> usize {
        self.input.expect(CHECKED).len()
    }

    pub fn output_width(&self) -> usize {
        self.nodes
            .last()
            .map_or_else(|| self.input_width(), Node::width)
    }

    /// Whether the declaration has a loss (without one, the network is inference-only).
    pub fn has_loss(&self) -> bool {
        !self.net.losses.is_empty()
    }

    pub fn loss(&self) -> LossKind {
        self.net.losses.first().expect(CHECKED).kind
    }
}

impl Node<'_> {
    /// Width of the node's input.
    pub fn in_width(&self) -> usize {
        self.input.expect(CHECKED).len()
    }

    /// Width of the node's output.
    pub fn width(&self) -> usize {
        self.output.expect(CHECKED).len()
    }
}

impl Residual<'_> {
    pub fn source(&self) -> Source {
        self.source.expect(CHECKED)
    }

    pub fn width(&self) -> usize {
        self.shape.expect(CHECKED).len()
    }
}
