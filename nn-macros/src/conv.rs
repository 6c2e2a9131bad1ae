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

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::ParseStream;
use syn::{Ident, LitBool, Token, parenthesized};

use crate::errors::Errors;
use crate::model::{Model, Node, NodeKind, Shape, Tensor};
use crate::parse::{parse_activation, parse_width, set_activation};
use crate::syntax::{Activation, LayerKind, Width, keyword, shown};

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

// ---------------------------------------------------------------------------------------------
// Parsing

/// `[C, L]` or `[C, H, W]` after `input:`; each dimension at least 1.
pub fn parse_input_dims(input: ParseStream) -> syn::Result<Vec<Width>> {
    let content;
    let bracket = syn::bracketed!(content in input);
    let mut dims = Vec::new();
    while !content.is_empty() {
        let dim = parse_width(&content, "an input dimension")?;
        if dim.value == 0 {
            return Err(syn::Error::new_spanned(
                &dim.lit,
                "an input dimension is at least 1",
            ));
        }
        dims.push(dim);
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    if !(2..=3).contains(&dims.len()) {
        return Err(syn::Error::new(
            bracket.span.join(),
            "an input shape is `[channels, length]` (for conv1d) or `[channels, height, width]` \
             (for conv2d), channels first as in PyTorch",
        ));
    }
    let len = dims.iter().fold(1usize, |n, d| n.saturating_mul(d.value));
    if len > MAX_VALUE_LEN {
        return Err(syn::Error::new(
            bracket.span.join(),
            format!("the input holds {len} scalars per sample; at most {MAX_VALUE_LEN} fit"),
        ));
    }
    Ok(dims)
}

/// The input shape from its dimensions.
pub fn input_shape(dims: &[Width]) -> Option<Shape> {
    match dims {
        [c, l] => Some(Shape::Signal {
            channels: c.value,
            length: l.value,
        }),
        [c, h, w] => Some(Shape::Image {
            channels: c.value,
            height: h.value,
            width: w.value,
        }),
        _ => None,
    }
}

/// A convolutional or pooling layer after its keyword, or `None` if the keyword is not one.
pub fn parse_layer(
    keyword: &Ident,
    input: ParseStream,
    activation: &mut Option<Activation>,
) -> syn::Result<Option<LayerKind>> {
    let name = keyword.to_string();
    let layer = match name.as_str() {
        CONV1D | CONV2D => SpatialLayer::Conv(parse_conv(keyword, input, activation)?),
        MAX_POOL | AVG_POOL => SpatialLayer::Pool(parse_pool(keyword, input)?),
        GLOBAL_AVG_POOL => {
            if input.peek(syn::token::Paren) {
                return Err(syn::Error::new(
                    keyword.span(),
                    "`global_avg_pool` takes no arguments: it averages each channel over all \
                     its positions",
                ));
            }
            SpatialLayer::GlobalAvgPool {
                keyword: keyword.clone(),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(LayerKind::Spatial(Box::new(layer))))
}

fn parse_conv(
    keyword: &Ident,
    input: ParseStream,
    activation: &mut Option<Activation>,
) -> syn::Result<ConvSyntax> {
    let dims = if keyword == CONV1D { 1 } else { 2 };
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            keyword.span(),
            format!(
                "`{keyword}` needs its output channels and kernel: `{keyword}(16, kernel = 3)`"
            ),
        ));
    }
    let args;
    parenthesized!(args in input);
    let out_channels = parse_width(&args, "the number of output channels")?;
    if out_channels.value == 0 {
        return Err(syn::Error::new_spanned(
            &out_channels.lit,
            format!("`{keyword}` has 0 output channels; it needs at least 1"),
        ));
    }
    let (mut kernel, mut stride, mut padding, mut dilation, mut bias) =
        (None, None, None, None, None);
    while !args.is_empty() {
        args.parse::<Token![,]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected `,` between the arguments of `{keyword}`"),
            )
        })?;
        if args.is_empty() {
            break;
        }
        if args.peek(syn::LitInt) || args.peek(syn::token::Paren) {
            return Err(args.error(format!(
                "`{keyword}` takes its kernel by name: `{keyword}({}, kernel = 3)`",
                out_channels.value
            )));
        }
        if !(args.peek(Ident) && args.peek2(Token![=])) {
            set_activation(activation, parse_activation(&args)?)?;
            continue;
        }
        let option: Ident = args.parse()?;
        args.parse::<Token![=]>()?;
        let slot_set = match option.to_string().as_str() {
            KERNEL => kernel
                .replace(parse_size(&args, keyword, dims, KERNEL)?)
                .is_some(),
            STRIDE => stride
                .replace(parse_size(&args, keyword, dims, STRIDE)?)
                .is_some(),
            DILATION => dilation
                .replace(parse_size(&args, keyword, dims, DILATION)?)
                .is_some(),
            PADDING if args.peek(Ident) => {
                let same: Ident = args.parse()?;
                if same != SAME {
                    return Err(syn::Error::new(
                        same.span(),
                        "expected a padding size or `same`",
                    ));
                }
                padding.replace(Padding::Same(same)).is_some()
            }
            PADDING => padding
                .replace(Padding::Zeros(parse_size_from(
                    &args, keyword, dims, PADDING, 0,
                )?))
                .is_some(),
            _ if option == keyword::BIAS => {
                let value: LitBool = args.parse().map_err(|e| {
                    syn::Error::new(e.span(), "expected `true` or `false` for `bias`")
                })?;
                bias.replace(value.value).is_some()
            }
            _ => return Err(unknown_option(&option, keyword, CONV_OPTIONS)),
        };
        if slot_set {
            return Err(syn::Error::new(
                option.span(),
                format!("`{option}` is set twice; keep one"),
            ));
        }
    }
    let Some(kernel) = kernel else {
        return Err(syn::Error::new(
            keyword.span(),
            format!(
                "`{keyword}` needs its kernel size: `{keyword}({}, kernel = 3)`",
                out_channels.value
            ),
        ));
    };
    if let (Some(Padding::Same(same)), Some(stride)) = (&padding, &stride)
        && stride.value != [1, 1]
    {
        return Err(syn::Error::new(
            same.span(),
            "`padding = same` needs stride 1 (as in PyTorch): with a larger stride the output \
             cannot keep the input's size; give the padding as a number",
        ));
    }
    Ok(ConvSyntax {
        keyword: keyword.clone(),
        dims,
        out_channels,
        kernel,
        stride,
        padding,
        dilation,
        bias: bias.unwrap_or(true),
    })
}

const CONV_OPTIONS: &[&str] = &[KERNEL, STRIDE, PADDING, DILATION, keyword::BIAS];
const POOL_OPTIONS: &[&str] = &[STRIDE];

/// An option that is not one of `keyword`'s: named as another layer's option when it is one.
fn unknown_option(option: &Ident, keyword: &Ident, options: &[&str]) -> syn::Error {
    let owner = if option == keyword::EPS {
        Some("layer_norm")
    } else if option == keyword::BIAS || option == PADDING || option == DILATION || option == KERNEL
    {
        Some("conv1d` and `conv2d")
    } else {
        None
    };
    let expected = keyword::list(options.iter().copied());
    match owner {
        Some(owner) => syn::Error::new(
            option.span(),
            format!(
                "`{option}` is an option of `{owner}`, not of `{keyword}`; `{keyword}` takes {expected}"
            ),
        ),
        None => syn::Error::new(
            option.span(),
            format!("unknown option `{option}` of `{keyword}`; expected {expected}"),
        ),
    }
}

fn parse_pool(keyword: &Ident, input: ParseStream) -> syn::Result<PoolSyntax> {
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            keyword.span(),
            format!("`{keyword}` needs its kernel size: `{keyword}(2)`"),
        ));
    }
    let args;
    parenthesized!(args in input);
    let kernel = parse_size(&args, keyword, 2, KERNEL)?;
    let mut stride = None;
    while !args.is_empty() {
        args.parse::<Token![,]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected `,` between the arguments of `{keyword}`"),
            )
        })?;
        if args.is_empty() {
            break;
        }
        if !(args.peek(Ident) && args.peek2(Token![=])) {
            let what: TokenStream = args.parse()?;
            return Err(syn::Error::new_spanned(
                what,
                format!(
                    "`{keyword}` takes a kernel size and `stride = ..`, no activation; put the \
                     activation on the layer before"
                ),
            ));
        }
        let option: Ident = args.parse()?;
        args.parse::<Token![=]>()?;
        if option != STRIDE {
            return Err(unknown_option(&option, keyword, POOL_OPTIONS));
        }
        if stride
            .replace(parse_size(&args, keyword, 2, STRIDE)?)
            .is_some()
        {
            return Err(syn::Error::new(
                option.span(),
                "`stride` is set twice; keep one",
            ));
        }
    }
    Ok(PoolSyntax {
        keyword: keyword.clone(),
        max: keyword == MAX_POOL,
        kernel,
        stride,
    })
}

/// A size of at least 1.
fn parse_size(input: ParseStream, keyword: &Ident, dims: usize, what: &str) -> syn::Result<Size> {
    parse_size_from(input, keyword, dims, what, 1)
}

/// `INT` or, in 2-D, `(INT, INT)`; each at least `min`. In 1-D the value is `[1, INT]` (padding
/// `[0, INT]`).
fn parse_size_from(
    input: ParseStream,
    keyword: &Ident,
    dims: usize,
    what: &str,
    min: usize,
) -> syn::Result<Size> {
    let description = format!("the {what} of `{keyword}`");
    let check = |width: &Width| {
        if width.value < min {
            Err(syn::Error::new_spanned(
                &width.lit,
                format!("{description} must be at least {min}"),
            ))
        } else {
            Ok(width.value)
        }
    };
    if input.peek(syn::token::Paren) {
        let content;
        let paren = parenthesized!(content in input);
        let tokens = content.fork().parse::<TokenStream>()?;
        if dims == 1 {
            return Err(syn::Error::new(
                paren.span.join(),
                format!("`{keyword}` is one-dimensional: give the {what} as one number"),
            ));
        }
        let height = parse_width(&content, &description)?;
        content.parse::<Token![,]>()?;
        let width = parse_width(&content, &description)?;
        if !content.is_empty() {
            return Err(content.error(format!("{description} is a pair `(height, width)`")));
        }
        let mut group = quote::quote!((#tokens));
        if let Some(proc_macro2::TokenTree::Group(g)) = group.clone().into_iter().next() {
            let mut g = g;
            g.set_span(paren.span.join());
            group = g.into_token_stream();
        }
        return Ok(Size {
            value: [check(&height)?, check(&width)?],
            pair: true,
            tokens: group,
        });
    }
    let single = parse_width(input, &description)?;
    let value = check(&single)?;
    let filler = if min == 0 { 0 } else { 1 };
    Ok(Size {
        value: if dims == 1 {
            [filler, value]
        } else {
            [value, value]
        },
        pair: false,
        tokens: single.lit.to_token_stream(),
    })
}

// ---------------------------------------------------------------------------------------------
// Shapes

/// `(channels, [height, width], dims)` of a feature map; `None` for a vector.
pub fn spatial(shape: Shape) -> Option<(usize, [usize; 2], usize)> {
    match shape {
        Shape::Signal { channels, length } => Some((channels, [1, length], 1)),
        Shape::Image {
            channels,
            height,
            width,
        } => Some((channels, [height, width], 2)),
        Shape::Vector(_) => None,
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
        role: "Weight",
    }];
    if bias {
        tensors.push(Tensor {
            suffix: "bias",
            shape: vec![out_channels],
            role: "Bias",
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

/// Whether the backward pass needs `∂L/∂h` of node `index`: it has parameters, or something
/// before it does. Only pools reading the input (directly or through other such pools) do not;
/// no gradient is computed for them.
pub fn needs_gradient(model: &Model<'_>, index: usize) -> bool {
    let node = &model.nodes[index];
    let before = |source: crate::model::Source| match source {
        crate::model::Source::Input => false,
        crate::model::Source::Layer(index) => needs_gradient(model, index),
    };
    !is_parameterless(node)
        || node
            .residual
            .as_ref()
            .is_some_and(|r| r.project || r.source.is_some_and(before))
        || (index > 0 && needs_gradient(model, index - 1))
}

// ---------------------------------------------------------------------------------------------
// Checks

/// The layer keyword and what the layer needs, for messages.
fn needs(layer: &SpatialLayer) -> &'static str {
    match layer {
        SpatialLayer::Conv(conv) if conv.dims == 1 => "a signal `[channels, length]`",
        SpatialLayer::Conv(_) => "an image `[channels, height, width]`",
        _ => "a feature map `[channels, length]` or `[channels, height, width]`",
    }
}

// input: 64,  c1: conv1d(8, kernel = 3)      input: [1, 28, 28],  c1: conv1d(8, kernel = 3)
pub fn check_spatial_input(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let (LayerKind::Spatial(layer), Some(input)) = (&node.layer.kind, node.input) else {
            continue;
        };
        let layer = &**layer;
        let fits = match (layer, spatial(input)) {
            (_, None) => false,
            (SpatialLayer::Conv(conv), Some((.., dims))) => conv.dims == dims,
            (_, Some(_)) => true,
        };
        if !fits {
            let keyword = layer.keyword();
            let hint = match (layer, input) {
                (_, Shape::Vector(_)) => format!(
                    "declare the input as `input: [C, L]` or `input: [C, H, W]`, and put `{keyword}` before the dense layers"
                ),
                (SpatialLayer::Conv(conv), _) if conv.dims == 1 => {
                    "use `conv2d` on an image".to_owned()
                }
                _ => "use `conv1d` on a signal".to_owned(),
            };
            errors.at(
                keyword.span(),
                format!(
                    "`{}`: `{keyword}` needs {}, but its input is {}; {hint}",
                    shown(&node.layer.name),
                    needs(layer),
                    described(input)
                ),
            );
        }
    }
}

// input: [1, 4, 4],  c1: conv2d(8, kernel = 5)      p1: max_pool(8)   (on [6, 4, 4])
pub fn check_spatial_window(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let (LayerKind::Spatial(layer), NodeKind::Spatial(kind), Some(input)) =
            (&node.layer.kind, node.kind, node.input)
        else {
            continue;
        };
        let layer = &**layer;
        let Some((_, size, dims)) = spatial(input) else {
            continue; // check_spatial_input
        };
        if matches!(kind, SpatialNode::GlobalAvgPool)
            || matches!((layer, dims), (SpatialLayer::Conv(conv), dims) if conv.dims != dims)
        {
            continue;
        }
        let name = shown(&node.layer.name);
        let Some(window) = window(kind, input) else {
            let (kernel, padding, dilation) = match (kind, layer) {
                (
                    SpatialNode::Conv {
                        kernel,
                        padding,
                        dilation,
                        ..
                    },
                    SpatialLayer::Conv(_),
                ) => (kernel, padding.unwrap_or([0, 0]), dilation),
                (SpatialNode::Pool { kernel, .. }, SpatialLayer::Pool(_)) => (
                    if dims == 1 { [1, kernel[1]] } else { kernel },
                    [0, 0],
                    [1, 1],
                ),
                _ => continue,
            };
            let reach = [0, 1].map(|a| dilation[a].saturating_mul(kernel[a] - 1).saturating_add(1));
            let padded = [0, 1].map(|a| size[a].saturating_add(2 * padding[a]));
            let shown_size = |s: [usize; 2]| match dims {
                1 => s[1].to_string(),
                _ => format!("{}×{}", s[0], s[1]),
            };
            let what = match layer {
                SpatialLayer::Conv(_) if dilation != [1, 1] => "dilated kernel",
                SpatialLayer::Conv(_) => "kernel",
                _ => "pooling window",
            };
            let padded_note = if padding == [0, 0] {
                String::new()
            } else {
                format!(" padded to {}", shown_size(padded))
            };
            let span = match layer {
                SpatialLayer::Conv(conv) => conv.kernel.tokens.clone(),
                SpatialLayer::Pool(pool) => pool.kernel.tokens.clone(),
                SpatialLayer::GlobalAvgPool { keyword } => keyword.to_token_stream(),
            };
            errors.spanned(
                span,
                format!(
                    "`{name}`: its {what} spans {} but its input {} {} {}{padded_note}, which \
                     leaves no output; use a smaller kernel{}",
                    shown_size(reach),
                    declared_shape(input),
                    if dims == 1 { "has length" } else { "is" },
                    shown_size(size),
                    if matches!(layer, SpatialLayer::Conv(_)) {
                        " or more padding"
                    } else {
                        ""
                    }
                ),
            );
            continue;
        };
        let output = match kind {
            SpatialNode::Conv { out_channels, .. } => out_channels,
            _ => window.channels,
        }
        .saturating_mul(window.output[0])
        .saturating_mul(window.output[1]);
        if output > MAX_VALUE_LEN {
            errors.at(
                node.layer.name.span(),
                format!(
                    "`{name}` outputs {output} scalars per sample; at most {MAX_VALUE_LEN} fit; \
                     use fewer channels or a larger stride"
                ),
            );
        }
    }
}

// c1: conv2d(8, kernel = 3),  c2: conv2d(8, kernel = 3) + input   ([8, 4, 4] vs [1, 6, 6])
pub fn check_spatial_residual(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let (Some(residual), Some(output)) = (&node.residual, node.output) else {
            continue;
        };
        let Some(source) = residual.shape else {
            continue;
        };
        if spatial(output).is_none() && spatial(source).is_none() {
            continue; // vectors: check_residual_widths
        }
        let (name, source_name) = (shown(&node.layer.name), shown(&residual.syntax.source));
        let fits = if residual.project {
            // A 1×1 convolution changes the channels, not the positions; into a vector, the
            // projection is a dense map of the flattened source.
            match (spatial(output), spatial(source)) {
                (Some((_, a, da)), Some((_, b, db))) => a == b && da == db,
                (None, _) => true,
                (Some(_), None) => false,
            }
        } else {
            output == source
        };
        if fits {
            continue;
        }
        let fix = if residual.project {
            "a projection (a 1×1 convolution) changes the channels only; match the lengths, \
             heights and widths"
        } else if matches!((spatial(output), spatial(source)), (Some((_, a, da)), Some((_, b, db))) if a == b && da == db)
        {
            &*format!("add `project({source_name})` or match the channels")
        } else {
            "match the shapes (the same padding and stride keep the size)"
        };
        errors.spanned(
            &residual.syntax.source,
            format!(
                "residual `{source_name}` has shape {} but `{name}` has shape {}; {fix}",
                declared_shape(source),
                declared_shape(output)
            ),
        );
    }
}

// input: [1, 8, 8],  norm: layer_norm   (over a feature map)
pub fn check_layer_norm_input(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        if let (LayerKind::LayerNorm { keyword, .. }, Some(input)) = (&node.layer.kind, node.input)
            && spatial(input).is_some()
        {
            errors.at(
                keyword.span(),
                format!(
                    "`{}`: `layer_norm` normalizes a vector, but its input is the feature map {}; \
                     put it after a dense layer or a `global_avg_pool`",
                    shown(&node.layer.name),
                    declared_shape(input)
                ),
            );
        }
    }
}

// input: [1, 8, 8],  p: max_pool(2),  loss: mse   (nothing to train)
pub fn check_has_parameters(model: &Model<'_>, errors: &mut Errors) {
    if !model.nodes.is_empty()
        && model.ends_with_node
        && model.net.failed_layers.is_empty()
        && model.nodes.iter().all(is_parameterless)
    {
        errors.at(
            model.net.name.span(),
            format!(
                "`{}` has only pooling layers, so nothing to train; add a dense or convolutional layer",
                shown(&model.net.name)
            ),
        );
    }
}

/// Whether the layer's activation was written (pools take none).
pub fn activation_span(layer: &SpatialLayer) -> Span {
    layer.keyword().span()
}
