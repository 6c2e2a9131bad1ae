//! Convolutional layers in the DSL: `input: [C, L]` and `input: [C, H, W]`, `conv1d`, `conv2d`,
//! `max_pool`, `avg_pool` and `global_avg_pool`: their syntax, grammar, shape rules, parameter
//! tensors and checks. Each stage of the pipeline calls in here from a one-line hook; the code
//! they generate is in `expand/conv.rs`.
//!
//! ```text
//! input    := 'input' ':' (INT | '[' INT ',' INT (',' INT)? ']')   ([C, L] or [C, H, W])
//! layer    := … | conv | pool | 'global_avg_pool'
//! conv     := ('conv1d' | 'conv2d') '(' INT (',' conv_arg)* ','? ')'   (INT: output channels)
//! conv_arg := 'kernel' '=' size | 'stride' '=' size | 'padding' '=' (size | 'same')
//!           | 'dilation' '=' size | 'bias' '=' BOOL | activation
//! pool     := ('max_pool' | 'avg_pool') '(' size (',' 'stride' '=' size)? ','? ')'
//! size     := INT | '(' INT ',' INT ')'        (a pair, `(height, width)`, in 2-D only)
//! ```
//!
//! A 1-D signal `[C, L]` is handled as the image `[C, 1, L]`: every window below has two axes,
//! the first of height 1 in 1-D.

mod check;
mod parse;

use proc_macro2::{Span, TokenStream};
use syn::Ident;

use crate::model::{Node, NodeKind, Shape, Tensor};
use crate::syntax::Width;

pub use check::{
    check_has_parameters, check_layer_norm_input, check_spatial_input, check_spatial_residual,
    check_spatial_window,
};
pub use parse::{input_shape, parse_input_dims, parse_layer};

pub const CONV1D: &str = "conv1d";
pub const CONV2D: &str = "conv2d";
pub const MAX_POOL: &str = "max_pool";
pub const AVG_POOL: &str = "avg_pool";
pub const GLOBAL_AVG_POOL: &str = "global_avg_pool";
const KERNEL: &str = "kernel";
const STRIDE: &str = "stride";
const PADDING: &str = "padding";
const DILATION: &str = "dilation";
const SAME: &str = "same";

/// The most scalars one sample's feature map may hold (the widest vector the DSL takes): the
/// values live in fixed-size arrays.
const MAX_VALUE_LEN: usize = 1 << 24;

/// A convolutional or pooling layer as written.
pub enum SpatialLayer {
    Conv(ConvSyntax),
    Pool(PoolSyntax),
    GlobalAvgPool { keyword: Ident },
}

/// `conv1d(..)` or `conv2d(..)`.
pub struct ConvSyntax {
    pub keyword: Ident,
    /// 1 or 2.
    pub dims: usize,
    pub out_channels: Width,
    pub kernel: Size,
    pub stride: Option<Size>,
    pub padding: Option<Padding>,
    pub dilation: Option<Size>,
    pub bias: bool,
    /// The `causal` option (a `conv1d` over a sequence, see `crate::causal`).
    pub causal: Option<Ident>,
}

/// `max_pool(..)` or `avg_pool(..)`.
pub struct PoolSyntax {
    pub keyword: Ident,
    pub max: bool,
    pub kernel: Size,
    pub stride: Option<Size>,
}

/// A size as written: `5` (both axes in 2-D) or `(3, 5)` (height, width).
#[derive(Clone)]
pub struct Size {
    pub value: [usize; 2],
    pub pair: bool,
    pub tokens: TokenStream,
}

pub enum Padding {
    Zeros(Size),
    Same(Ident),
}

/// A convolutional or pooling node: what it computes, with every size resolved except what
/// depends on the input (a pool's kernel in 1-D, the output).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SpatialNode {
    Conv {
        dims: usize,
        out_channels: usize,
        /// `[kh, kw]`; `[1, k]` in 1-D.
        kernel: [usize; 2],
        stride: [usize; 2],
        /// `None` for `same`.
        padding: Option<[usize; 2]>,
        dilation: [usize; 2],
        bias: bool,
    },
    Pool {
        max: bool,
        /// As written: `[k, k]` for `k`, so a 1-D input uses `[1, k[1]]`.
        kernel: [usize; 2],
        stride: Option<[usize; 2]>,
    },
    GlobalAvgPool,
}

/// A window over one sample, as the runtime's `Window`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Geometry {
    pub channels: usize,
    pub input: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub output: [usize; 2],
}

impl Geometry {
    /// Taps of one output channel: `channels · kh · kw` (a convolution's fan-in).
    pub fn taps(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }
}

impl SpatialLayer {
    pub fn keyword(&self) -> &Ident {
        match self {
            SpatialLayer::Conv(conv) => &conv.keyword,
            SpatialLayer::Pool(pool) => &pool.keyword,
            SpatialLayer::GlobalAvgPool { keyword } => keyword,
        }
    }

    pub fn node(&self) -> SpatialNode {
        let value = |size: &Option<Size>| size.as_ref().map(|s| s.value);
        match self {
            SpatialLayer::Conv(conv) => SpatialNode::Conv {
                dims: conv.dims,
                out_channels: conv.out_channels.value,
                kernel: conv.kernel.value,
                stride: value(&conv.stride).unwrap_or([1, 1]),
                padding: match &conv.padding {
                    None => Some([0, 0]),
                    Some(Padding::Zeros(size)) => Some(size.value),
                    Some(Padding::Same(_)) => None,
                },
                dilation: value(&conv.dilation).unwrap_or([1, 1]),
                bias: conv.bias,
            },
            SpatialLayer::Pool(pool) => SpatialNode::Pool {
                max: pool.max,
                kernel: pool.kernel.value,
                stride: value(&pool.stride),
            },
            SpatialLayer::GlobalAvgPool { .. } => SpatialNode::GlobalAvgPool,
        }
    }

    /// The layer as declared, normalized: `conv2d(6, kernel = 5, relu)`, `max_pool(2)`.
    pub fn declared(&self, activation: Option<String>) -> String {
        let size = |s: &Size| match s.pair {
            true => format!("({}, {})", s.value[0], s.value[1]),
            false => s.value[1].to_string(),
        };
        match self {
            SpatialLayer::Conv(conv) => {
                let mut args = vec![
                    conv.out_channels.value.to_string(),
                    format!("{KERNEL} = {}", size(&conv.kernel)),
                ];
                if let Some(stride) = &conv.stride {
                    args.push(format!("{STRIDE} = {}", size(stride)));
                }
                match &conv.padding {
                    None => {}
                    Some(Padding::Zeros(padding)) => {
                        args.push(format!("{PADDING} = {}", size(padding)))
                    }
                    Some(Padding::Same(_)) => args.push(format!("{PADDING} = {SAME}")),
                }
                if let Some(dilation) = &conv.dilation {
                    args.push(format!("{DILATION} = {}", size(dilation)));
                }
                if conv.causal.is_some() {
                    args.push(crate::causal::CAUSAL.to_owned());
                }
                args.extend(activation);
                if !conv.bias {
                    args.push("bias = false".to_owned());
                }
                format!("{}({})", conv.keyword, args.join(", "))
            }
            SpatialLayer::Pool(pool) => {
                let mut args = vec![size(&pool.kernel)];
                if let Some(stride) = &pool.stride {
                    args.push(format!("{STRIDE} = {}", size(stride)));
                }
                format!("{}({})", pool.keyword, args.join(", "))
            }
            SpatialLayer::GlobalAvgPool { .. } => GLOBAL_AVG_POOL.to_owned(),
        }
    }
}

/// `(channels, [height, width], dims)` of a feature map; `None` for a vector.
pub fn spatial(shape: Shape) -> Option<(usize, [usize; 2], usize)> {
    match shape {
        Shape::Signal { channels, length } => Some((channels, [1, length], 1)),
        Shape::Image {
            channels,
            height,
            width,
        } => Some((channels, [height, width], 2)),
        Shape::Vector(_) | Shape::Sequence(_) => None,
    }
}

/// The feature map of `channels` at `size` in `dims` dimensions.
fn map_shape(channels: usize, size: [usize; 2], dims: usize) -> Shape {
    match dims {
        1 => Shape::Signal {
            channels,
            length: size[1],
        },
        _ => Shape::Image {
            channels,
            height: size[0],
            width: size[1],
        },
    }
}

/// The window of `node` over `input`; `None` when the input is not a feature map of the kind
/// the layer takes, or the window leaves no output (both reported by the checks).
pub fn window(node: SpatialNode, input: Shape) -> Option<Geometry> {
    let (channels, size, dims) = spatial(input)?;
    let (kernel, stride, padding, dilation) = match node {
        SpatialNode::Conv {
            dims: conv_dims,
            kernel,
            stride,
            padding,
            dilation,
            ..
        } => {
            if conv_dims != dims {
                return None;
            }
            let padding = padding.unwrap_or_else(|| {
                // `same`: PyTorch pads `d (k − 1) / 2` before, the rest after.
                [0, 1].map(|axis| dilation[axis] * (kernel[axis] - 1) / 2)
            });
            (kernel, stride, padding, dilation)
        }
        SpatialNode::Pool { kernel, stride, .. } => {
            let resolve = |pair: [usize; 2]| if dims == 1 { [1, pair[1]] } else { pair };
            let kernel = resolve(kernel);
            (kernel, stride.map_or(kernel, resolve), [0, 0], [1, 1])
        }
        SpatialNode::GlobalAvgPool => return None,
    };
    let same = matches!(node, SpatialNode::Conv { padding: None, .. });
    let mut output = [0; 2];
    for axis in 0..2 {
        let reach = dilation[axis]
            .saturating_mul(kernel[axis] - 1)
            .saturating_add(1);
        let padded = size[axis].saturating_add(padding[axis].saturating_mul(2));
        output[axis] = if same {
            size[axis]
        } else if padded < reach {
            return None;
        } else {
            (padded - reach) / stride[axis] + 1
        };
    }
    Some(Geometry {
        channels,
        input: size,
        kernel,
        stride,
        padding,
        dilation,
        output,
    })
}

/// The shape rule: what a convolutional or pooling layer makes of its input.
pub fn output_shape(node: SpatialNode, input: Option<Shape>) -> Option<Shape> {
    let input = input?;
    let (channels, _, dims) = spatial(input)?;
    match node {
        SpatialNode::GlobalAvgPool => Some(Shape::Vector(channels)),
        SpatialNode::Conv { out_channels, .. } => {
            let window = window(node, input)?;
            Some(map_shape(out_channels, window.output, dims))
        }
        SpatialNode::Pool { .. } => {
            let window = window(node, input)?;
            Some(map_shape(channels, window.output, dims))
        }
    }
    .filter(|shape| shape.len() <= MAX_VALUE_LEN)
}

/// `[C, L]`, `[C, H, W]`, or the vector's width.
pub fn declared_shape(shape: Shape) -> String {
    match shape {
        Shape::Vector(width) => width.to_string(),
        Shape::Signal { channels, length } => format!("[{channels}, {length}]"),
        Shape::Image {
            channels,
            height,
            width,
        } => format!("[{channels}, {height}, {width}]"),
        Shape::Sequence(features) => format!("seq({features})"),
    }
}

/// The shape as a message shows it: `a vector of 64 features`, `[6, 24, 24]`.
fn described(shape: Shape) -> String {
    match shape {
        Shape::Vector(width) => format!("a vector of {width} features"),
        other => declared_shape(other),
    }
}

/// The parameter tensors of a convolutional or pooling node, PyTorch's names and shapes.
pub fn tensors(node: SpatialNode, input: Shape) -> Vec<Tensor> {
    let SpatialNode::Conv {
        dims,
        out_channels,
        kernel,
        bias,
        ..
    } = node
    else {
        return Vec::new();
    };
    let channels = spatial(input).map_or(0, |(channels, ..)| channels);
    let mut shape = vec![out_channels, channels];
    shape.extend(if dims == 1 { &kernel[1..] } else { &kernel[..] });
    let mut tensors = vec![Tensor {
        suffix: "weight",
        shape,
        role: "Weight".to_owned(),
    }];
    if bias {
        tensors.push(Tensor {
            suffix: "bias",
            shape: vec![out_channels],
            role: "Bias".to_owned(),
        });
    }
    tensors
}

/// The shape of a residual's projection into `output` from `source` when both are feature
/// maps: a 1×1 convolution `[out, in, 1, 1]` (`[out, in, 1]` in 1-D).
pub fn projection_shape(output: Shape, source: Shape) -> Option<Vec<usize>> {
    let ((out, _, dims), (channels, ..)) = (spatial(output)?, spatial(source)?);
    let mut shape = vec![out, channels];
    shape.extend(std::iter::repeat_n(1, dims));
    Some(shape)
}

/// Whether a node holds no parameters (a pool): it has no field in the network's struct.
pub fn is_parameterless(node: &Node<'_>) -> bool {
    matches!(
        node.kind,
        NodeKind::Spatial(SpatialNode::Pool { .. } | SpatialNode::GlobalAvgPool)
    )
}

/// Whether the layer's activation was written (pools take none).
pub fn activation_span(layer: &SpatialLayer) -> Span {
    layer.keyword().span()
}
