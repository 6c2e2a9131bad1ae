//! The syntax tree: the declaration as written, entry by entry, keeping the user's tokens so
//! that checks and generated code can point back at them. [`crate::model`] lowers it to nodes.

use proc_macro2::Span;
use syn::{Attribute, Ident, LitInt, Visibility};

/// A parsed `network!` declaration. Entries that failed to parse are left out (their errors
/// are already recorded), so later stages see only well-formed nodes.
pub struct Network {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    /// Every `input:` entry, in order (more than one is an error).
    pub inputs: Vec<Input>,
    pub layers: Vec<Layer>,
    /// Every `loss:` entry, in order (more than one is an error).
    pub losses: Vec<Loss>,
    /// Entry positions, to check that `input` comes first and `loss` last. Entries that
    /// failed to parse keep their place here (marked) when their key could be read.
    pub order: Vec<Slot>,
    /// Names of the layer entries that failed to parse (already reported): a residual from one
    /// is not reported unknown, and checks that need the widths are skipped.
    pub failed_layers: Vec<Ident>,
}

/// One entry's place in the declaration.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub kind: EntryKind,
    /// False when the entry failed to parse (its error is recorded).
    pub parsed: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Input,
    Layer,
    Loss,
}

pub struct Input {
    pub key: Ident,
    /// The width of a vector input; for a feature map (`[C, L]`, `[C, H, W]`), the number of
    /// scalars, at its first dimension's token.
    pub width: Width,
    /// The `seq` keyword of `input: seq(F)`: a sequence of `F`-feature steps.
    pub sequence: Option<Ident>,
    /// The dimensions of a feature map input, channels first; empty for a vector.
    pub dims: Vec<Width>,
}

/// A width as written (`64`), with its value.
pub struct Width {
    pub value: usize,
    pub lit: LitInt,
}

pub struct Layer {
    /// Doc comments on the layer, passed to its field.
    pub attrs: Vec<Attribute>,
    pub name: Ident,
    pub kind: LayerKind,
    pub activation: Activation,
    pub residual: Option<Residual>,
}

pub enum LayerKind {
    /// `dense(width, activation?, bias = bool?)`.
    Dense {
        keyword: Ident,
        width: Width,
        bias: bool,
    },
    /// `layer_norm` or `layer_norm(activation?, eps = float?)`; the width is its input's.
    LayerNorm { keyword: Ident, eps: f64 },
    /// `dropout(p)`: inverted dropout in training, the identity at inference.
    Dropout { keyword: Ident, p: f64 },
    /// `batch_norm` or `batch_norm(activation?, eps = float?, momentum = float?)`.
    BatchNorm {
        keyword: Ident,
        eps: f64,
        momentum: f64,
    },
    /// `rnn(H, tanh|relu)`, `gru(H)`, `lstm(H)`: a recurrent cell over a sequence.
    Recurrent {
        keyword: Ident,
        cell: CellKind,
        width: Width,
    },
    /// `last` or `mean`: a sequence reduced to one vector.
    Reduce {
        keyword: Ident,
        reduction: Reduction,
    },
    /// `conv1d`, `conv2d`, `max_pool`, `avg_pool` or `global_avg_pool` (see `crate::conv`).
    Spatial(Box<crate::conv::SpatialLayer>),
}

/// The cell of a recurrent layer (PyTorch's `nn.RNN`, `nn.GRU`, `nn.LSTM`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CellKind {
    /// The Elman cell, `tanh` (PyTorch's default) or `relu`.
    Rnn {
        relu: bool,
    },
    Gru,
    Lstm,
}

/// How a sequence becomes a vector.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reduction {
    /// The last step.
    Last,
    /// The mean over the steps.
    Mean,
}

/// PyTorch's default `nn.LayerNorm` epsilon.
pub const DEFAULT_LAYER_NORM_EPS: f64 = 1e-5;
/// PyTorch's default `nn.BatchNorm1d` epsilon.
pub const DEFAULT_BATCH_NORM_EPS: f64 = 1e-5;
/// PyTorch's default `nn.BatchNorm1d` momentum (the weight of a batch in the running
/// statistics).
pub const DEFAULT_BATCH_NORM_MOMENTUM: f64 = 0.1;
/// PyTorch's default `nn.LeakyReLU` negative slope.
pub const DEFAULT_LEAKY_SLOPE: f64 = 0.01;

#[derive(Clone, Copy)]
pub struct Activation {
    pub kind: ActivationKind,
    /// Where the activation was written (the layer keyword when none was).
    pub span: Span,
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum ActivationKind {
    Identity,
    Step,
    Relu,
    LeakyRelu { slope: f64 },
    Sigmoid,
    Tanh,
    Softplus,
    Gelu,
    GeluTanh,
    Silu,
    Softmax,
}

/// How a name written by the user is shown and stored (tensor names, `ARCHITECTURE`, docs,
/// messages) and compared: without the `r#` of a raw identifier, so `r#type: dense(3)` is the
/// layer `type` whose weight is `type.weight`, as PyTorch names it.
pub fn shown(ident: &Ident) -> String {
    use syn::ext::IdentExt;
    ident.unraw().to_string()
}

/// `+ source` or `+ project(source)`: `h = σ(z) + h_source` or `+ P h_source`.
pub struct Residual {
    /// A layer name, or the `input` keyword.
    pub source: Ident,
    /// The `project` keyword, when a learned projection was asked for.
    pub project: Option<Ident>,
}

pub struct Loss {
    pub key: Ident,
    pub kind: LossKind,
    pub ident: Ident,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LossKind {
    Mse,
    BinaryCrossEntropy,
    SoftmaxCrossEntropy,
}

/// The DSL's keywords, each written once: parsing, error messages and the normalized
/// architecture string all read these tables.
pub mod keyword {
    use super::{ActivationKind, LossKind};

    pub const INPUT: &str = "input";
    pub const LOSS: &str = "loss";
    pub const DENSE: &str = "dense";
    pub const LAYER_NORM: &str = "layer_norm";
    pub const PROJECT: &str = "project";
    pub const BIAS: &str = "bias";
    pub const EPS: &str = "eps";
    pub const DROPOUT: &str = "dropout";
    pub const BATCH_NORM: &str = "batch_norm";
    pub const MOMENTUM: &str = "momentum";
    pub const LAYER_KINDS: &[&str] = &[
        DENSE,
        LAYER_NORM,
        DROPOUT,
        BATCH_NORM,
        crate::conv::CONV1D,
        crate::conv::CONV2D,
        crate::conv::MAX_POOL,
        crate::conv::AVG_POOL,
        crate::conv::GLOBAL_AVG_POOL,
    ];

    /// Activations without arguments. `leaky_relu` and `gelu` also take one (see parse).
    pub const ACTIVATIONS: &[(&str, ActivationKind)] = &[
        ("identity", ActivationKind::Identity),
        ("step", ActivationKind::Step),
        ("relu", ActivationKind::Relu),
        (
            "leaky_relu",
            ActivationKind::LeakyRelu {
                slope: super::DEFAULT_LEAKY_SLOPE,
            },
        ),
        ("sigmoid", ActivationKind::Sigmoid),
        ("tanh", ActivationKind::Tanh),
        ("softplus", ActivationKind::Softplus),
        ("gelu", ActivationKind::Gelu),
        ("silu", ActivationKind::Silu),
        ("softmax", ActivationKind::Softmax),
    ];
    pub const GELU_TANH: &str = "tanh";

    pub const LOSSES: &[(&str, LossKind)] = &[
        ("mse", LossKind::Mse),
        ("binary_cross_entropy", LossKind::BinaryCrossEntropy),
        ("softmax_cross_entropy", LossKind::SoftmaxCrossEntropy),
    ];

    /// `a`, `b`, `c` as a message lists choices: "`a`, `b` or `c`".
    pub fn list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
        let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            Some((last, _)) => last.clone(),
            None => String::new(),
        }
    }
}

impl ActivationKind {
    /// The activation as declared: `relu`, `leaky_relu(0.2)`, `gelu(tanh)`.
    pub fn declared(&self) -> String {
        match self {
            ActivationKind::LeakyRelu { slope } => format!("leaky_relu({slope:?})"),
            ActivationKind::GeluTanh => "gelu(tanh)".to_owned(),
            other => keyword::ACTIVATIONS
                .iter()
                .find(|(_, kind)| kind == other)
                .map_or_else(String::new, |(name, _)| (*name).to_owned()),
        }
    }
}

impl LossKind {
    pub fn name(&self) -> &'static str {
        keyword::LOSSES
            .iter()
            .find(|(_, k)| k == self)
            .map_or("", |(name, _)| name)
    }
}

impl Layer {
    /// The layer as declared, normalized: `dense(64, relu) + h1`.
    pub fn declared(&self) -> String {
        let activation = match self.activation.kind {
            ActivationKind::Identity => None,
            kind => Some(kind.declared()),
        };
        let mut text = match &self.kind {
            LayerKind::Dense { width, bias, .. } => {
                let mut args = vec![width.value.to_string()];
                args.extend(activation);
                if !bias {
                    args.push("bias = false".to_owned());
                }
                format!("{}({})", keyword::DENSE, args.join(", "))
            }
            LayerKind::Recurrent { .. } | LayerKind::Reduce { .. } => {
                crate::recurrent::declared(&self.kind)
            }
            LayerKind::LayerNorm { eps, .. } => {
                let mut args: Vec<String> = activation.into_iter().collect();
                if *eps != DEFAULT_LAYER_NORM_EPS {
                    args.push(format!("eps = {eps:?}"));
                }
                if args.is_empty() {
                    keyword::LAYER_NORM.to_owned()
                } else {
                    format!("{}({})", keyword::LAYER_NORM, args.join(", "))
                }
            }
            LayerKind::Dropout { p, .. } => format!("{}({p:?})", keyword::DROPOUT),
            LayerKind::BatchNorm { eps, momentum, .. } => {
                let mut args: Vec<String> = activation.into_iter().collect();
                if *eps != DEFAULT_BATCH_NORM_EPS {
                    args.push(format!("eps = {eps:?}"));
                }
                if *momentum != DEFAULT_BATCH_NORM_MOMENTUM {
                    args.push(format!("momentum = {momentum:?}"));
                }
                if args.is_empty() {
                    keyword::BATCH_NORM.to_owned()
                } else {
                    format!("{}({})", keyword::BATCH_NORM, args.join(", "))
                }
            }
            LayerKind::Spatial(layer) => layer.declared(activation),
        };
        if let Some(residual) = &self.residual {
            match residual.project {
                Some(_) => text += &format!(" + {}({})", keyword::PROJECT, shown(&residual.source)),
                None => text += &format!(" + {}", shown(&residual.source)),
            }
        }
        text
    }
}
