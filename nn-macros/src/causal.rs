//! Causal 1-D convolution in a sequence network: `conv1d(C_out, kernel = K, dilation = D,
//! causal, act)` on `input: seq(F)`; its lowering, shape rule, tensors and checks. The other
//! stages call in here through one hook each; `expand::recurrent::causal` writes the code.
//!
//! ```text
//! conv_arg := … | 'causal'      (conv1d on a sequence only; stride 1, no padding)
//! ```
//! Shape: `seq(C_in)` → `seq(C_out)`. The output at step `t` sees the inputs
//! `t − (K−1)·D … t`, zeros before the start: PyTorch's `nn.Conv1d(C_in, C_out, K, dilation=D,
//! padding=(K−1)·D)` with the last `(K−1)·D` outputs dropped. Tensors as `nn.Conv1d`: `weight`
//! `[C_out, C_in, K]`, `bias` `[C_out]`.

use quote::ToTokens;
use syn::parse::ParseStream;
use syn::{Ident, Token};

use crate::conv::{ConvSyntax, Padding, SpatialLayer};
use crate::errors::Errors;
use crate::model::{Model, NodeKind, SequenceOp, Shape, Tensor};
use crate::syntax::{LayerKind, shown};

/// The option that makes a `conv1d` causal.
pub const CAUSAL: &str = "causal";

/// The most scalars a causal convolution's streaming history may hold (the widest value the
/// DSL takes): the state lives in fixed-size arrays.
const MAX_HISTORY: usize = 1 << 24;

/// A causal convolution over a sequence, every size resolved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CausalConv {
    pub out_channels: usize,
    pub kernel: usize,
    pub dilation: usize,
    pub bias: bool,
}

impl CausalConv {
    /// Past steps the layer reads besides the current one: `(K−1)·D`, the streaming history.
    pub fn history(self) -> usize {
        (self.kernel - 1).saturating_mul(self.dilation)
    }
}

/// The node a `conv1d` on a sequence becomes (whether or not it says `causal`: the checks
/// report what it lacks); `None` for any other layer or input.
pub fn lower(layer: &SpatialLayer, input: Option<Shape>) -> Option<NodeKind> {
    let (SpatialLayer::Conv(conv), Some(Shape::Sequence(_))) = (layer, input) else {
        return None;
    };
    (conv.dims == 1).then(|| {
        NodeKind::Sequence(SequenceOp::Causal(CausalConv {
            out_channels: conv.out_channels.value,
            kernel: conv.kernel.value[1],
            dilation: conv.dilation.as_ref().map_or(1, |d| d.value[1]),
            bias: conv.bias,
        }))
    })
}

/// The shape rule: a sequence of `C_out`-feature steps.
pub fn output_shape(layer: &SpatialLayer) -> Option<Shape> {
    match layer {
        SpatialLayer::Conv(conv) if conv.dims == 1 => {
            Some(Shape::Sequence(conv.out_channels.value))
        }
        _ => None,
    }
}

/// PyTorch's `nn.Conv1d` tensors: `weight` `[C_out, C_in, K]`, `bias` `[C_out]`.
pub fn tensors(conv: CausalConv, input: usize) -> Vec<Tensor> {
    let mut tensors = vec![Tensor {
        suffix: "weight",
        shape: vec![conv.out_channels, input, conv.kernel],
        role: "Weight".to_owned(),
    }];
    if conv.bias {
        tensors.push(Tensor {
            suffix: "bias",
            shape: vec![conv.out_channels],
            role: "Bias".to_owned(),
        });
    }
    tensors
}

/// The `conv1d` syntax of a node lowered to a causal convolution.
fn causal_syntax(kind: &LayerKind, node: NodeKind) -> Option<&ConvSyntax> {
    match (kind, node) {
        (LayerKind::Spatial(layer), NodeKind::Sequence(SequenceOp::Causal(_))) => match &**layer {
            SpatialLayer::Conv(conv) => Some(conv),
            _ => None,
        },
        _ => None,
    }
}

/// The rules of causal convolutions, all reported together.
pub fn check(model: &Model<'_>, errors: &mut Errors) {
    check_causal_declared(model, errors);
    check_causal_stride(model, errors);
    check_causal_padding(model, errors);
    check_causal_on_sequence(model, errors);
    check_causal_history(model, errors);
}

// c1: conv1d(8, kernel = 3, dilation = 10000000, causal)   (a streaming state of 2·10⁷ steps)
fn check_causal_history(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let (Some(syntax), NodeKind::Sequence(SequenceOp::Causal(conv)), Some(input)) = (
            causal_syntax(&node.layer.kind, node.kind),
            node.kind,
            node.input,
        ) else {
            continue;
        };
        let scalars = conv.history().saturating_mul(input.len());
        if scalars > MAX_HISTORY {
            let tokens = match &syntax.dilation {
                Some(dilation) => dilation.tokens.clone(),
                None => syntax.kernel.tokens.clone(),
            };
            errors.spanned(
                tokens,
                format!(
                    "`{}` keeps its last {} inputs ((kernel − 1) · dilation steps of {} features) \
                     in the streaming state, {scalars} scalars; at most {MAX_HISTORY} fit: use a \
                     smaller kernel or dilation",
                    shown(&node.layer.name),
                    conv.history(),
                    input.len()
                ),
            );
        }
    }
}

// input: seq(4),  c1: conv1d(8, kernel = 3)   (a stream has no future steps to pad with)
fn check_causal_declared(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let Some(conv) = causal_syntax(&node.layer.kind, node.kind) else {
            continue;
        };
        if conv.causal.is_none() {
            errors.at(
                conv.keyword.span(),
                format!(
                    "`{}`: `conv1d` over a sequence must be causal (each step sees only the \
                     steps before it, as a stream does): add `causal`, as in `conv1d({}, kernel \
                     = {}, causal)`",
                    shown(&node.layer.name),
                    conv.out_channels.value,
                    conv.kernel.value[1]
                ),
            );
        }
    }
}

// c1: conv1d(8, kernel = 3, stride = 2, causal)   (one output per step)
fn check_causal_stride(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let Some(conv) = causal_syntax(&node.layer.kind, node.kind) else {
            continue;
        };
        if let Some(stride) = conv.stride.as_ref().filter(|s| s.value[1] != 1) {
            errors.spanned(
                &stride.tokens,
                format!(
                    "`{}`: a convolution over a sequence gives one output per step, so its \
                     stride is 1, not {}; remove `stride`",
                    shown(&node.layer.name),
                    stride.value[1]
                ),
            );
        }
    }
}

// c1: conv1d(8, kernel = 3, padding = 1, causal)   (causal pads the past itself)
fn check_causal_padding(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let Some(conv) = causal_syntax(&node.layer.kind, node.kind) else {
            continue;
        };
        let Some(padding) = &conv.padding else {
            continue;
        };
        let tokens = match padding {
            Padding::Zeros(size) => size.tokens.clone(),
            Padding::Same(same) => same.to_token_stream(),
        };
        let reach = conv
            .dilation
            .as_ref()
            .map_or(1, |d| d.value[1])
            .saturating_mul(conv.kernel.value[1] - 1);
        errors.spanned(
            tokens,
            format!(
                "`{}`: a convolution over a sequence takes no `padding`: `causal` pads {reach} \
                 zero steps before the start ((kernel − 1) · dilation) and none after; remove \
                 `padding`",
                shown(&node.layer.name)
            ),
        );
    }
}

// input: [4, 16],  c1: conv1d(8, kernel = 3, causal)   (a fixed-length signal, not a stream)
fn check_causal_on_sequence(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let LayerKind::Spatial(layer) = &node.layer.kind else {
            continue;
        };
        let SpatialLayer::Conv(conv) = &**layer else {
            continue;
        };
        let (Some(causal), Some(input)) = (&conv.causal, node.input) else {
            continue;
        };
        if matches!(node.kind, NodeKind::Sequence(_)) {
            continue;
        }
        let what = match input {
            Shape::Vector(width) if matches!(model.input, Some(Shape::Sequence(_))) => format!(
                "its input is a vector of {width} (the sequence was reduced before it); move \
                 `{}` before the reduction",
                shown(&node.layer.name)
            ),
            Shape::Vector(width) => format!(
                "its input is a vector of {width}; declare `input: seq(F)` to read a sequence"
            ),
            other => format!(
                "its input is the feature map {}; remove `causal` and give `padding` to pad a \
                 fixed-length signal",
                crate::conv::declared_shape(other)
            ),
        };
        errors.at(
            causal.span(),
            format!(
                "`{}`: `causal` convolves a sequence (`input: seq(F)`), one output per step, but \
                 {what}",
                shown(&node.layer.name)
            ),
        );
    }
}

/// `causal` among a `conv1d`'s arguments: when it is the next token, parses it into `causal`
/// (once, `conv1d` only) and returns true; else leaves the arguments untouched.
pub fn parse_option(
    args: ParseStream,
    keyword: &Ident,
    causal: &mut Option<Ident>,
) -> syn::Result<bool> {
    let fork = args.fork();
    match fork.parse::<Ident>() {
        Ok(ident) if ident == CAUSAL && !fork.peek(Token![=]) && !fork.peek(syn::token::Paren) => {}
        _ => return Ok(false),
    }
    let option: Ident = args.parse()?;
    if keyword != crate::conv::CONV1D {
        return Err(syn::Error::new(
            option.span(),
            format!(
                "`{keyword}` cannot be causal: `causal` is for a `conv1d` over a sequence \
                 (`input: seq(F)`)"
            ),
        ));
    }
    if causal.is_some() {
        return Err(syn::Error::new(
            option.span(),
            "`causal` is set twice; keep one",
        ));
    }
    *causal = Some(option);
    Ok(true)
}

/// Whether a convolution is checked by the rules here: it says `causal`, or it was lowered to
/// a causal convolution (a `conv1d` on a sequence).
pub fn is_causal(layer: &SpatialLayer, node: NodeKind) -> bool {
    matches!(layer, SpatialLayer::Conv(conv) if conv.causal.is_some())
        || matches!(node, NodeKind::Sequence(SequenceOp::Causal(_)))
}
