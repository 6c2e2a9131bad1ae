//! Code for convolutional and pooling layers: their windows as constants of the network, the
//! forward expression, the backward steps, their parameter blocks. The math is in the runtime
//! (`nn_runtime::conv`, reached as `nn::conv`, `nn::max_pool`, …); this writes the wiring.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use super::backward::Sink;
use super::{Mode, lit, proj_field, rt};
use crate::conv::{Geometry, SpatialNode, spatial, window};
use crate::model::{Model, Node, NodeKind, Shape};
use crate::syntax::{ActivationKind, shown};

/// `WINDOW_C1`: the constant holding layer `c1`'s window (`WINDOW_C1_PROJ` for its projection).
fn window_ident(node: &Node<'_>, projection: bool) -> Ident {
    let name = shown(&node.layer.name).to_uppercase();
    match projection {
        false => format_ident!("WINDOW_{}", name),
        true => format_ident!("WINDOW_{}_PROJ", name),
    }
}

/// `nn::Window { channels: 1, input: [28, 28], kernel: [5, 5], .. }` at `path`.
fn window_literal(path: &TokenStream, window: &Geometry) -> TokenStream {
    let pair = |[a, b]: [usize; 2]| {
        let (a, b) = (lit(a), lit(b));
        quote!([#a, #b])
    };
    let channels = lit(window.channels);
    let (input, kernel, stride) = (pair(window.input), pair(window.kernel), pair(window.stride));
    let (padding, dilation, output) = (
        pair(window.padding),
        pair(window.dilation),
        pair(window.output),
    );
    quote! {
        #path::Window {
            channels: #channels,
            input: #input,
            kernel: #kernel,
            stride: #stride,
            padding: #padding,
            dilation: #dilation,
            output: #output,
        }
    }
}

/// The window of a convolution or pool node (checked: known).
fn node_window(node: &Node<'_>, kind: SpatialNode) -> Option<Geometry> {
    window(kind, node.input?)
}

/// The window of a node's 1×1 projection: the source's channels and size, stride 1.
fn projection_window(node: &Node<'_>) -> Option<Geometry> {
    let residual = node.residual.as_ref().filter(|r| r.project)?;
    spatial(node.output?)?;
    let (channels, size, _) = spatial(residual.shape?)?;
    Some(Geometry {
        channels,
        input: size,
        kernel: [1, 1],
        stride: [1, 1],
        padding: [0, 0],
        dilation: [1, 1],
        output: size,
    })
}

/// The windows as private constants of the network, one per convolution, pool and 1×1
/// projection, read by the forward and backward code and by `LAYERS`:
/// ```text
/// /// The window of `c1`: conv2d(6, kernel = 5, relu) on [1, 28, 28].
/// const WINDOW_C1: Window = Window { channels: 1, input: [28, 28], kernel: [5, 5], .. };
/// ```
pub fn expand_windows(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let mut out = TokenStream::new();
    for node in &model.nodes {
        if let NodeKind::Spatial(kind) = node.kind
            && let Some(window) = node_window(node, kind)
        {
            let ident = window_ident(node, false);
            let value = window_literal(&rt, &window);
            let doc = super::docs(&format!(
                "The window of `{}`: `{}` on {}.",
                shown(&node.layer.name),
                node.layer.declared(),
                crate::conv::declared_shape(node.input.expect("checked"))
            ));
            out.extend(quote!(#doc const #ident: #rt::Window = #value;));
        }
        if let Some(window) = projection_window(node) {
            let ident = window_ident(node, true);
            let value = window_literal(&rt, &window);
            let doc = super::docs(&format!(
                "The window of `{}`'s 1×1 projection.",
                shown(&node.layer.name)
            ));
            out.extend(quote!(#doc const #ident: #rt::Window = #value;));
        }
    }
    out
}

/// `Some(&self.c1.bias)` or `None`, and the same into `grad` or `self` mutably.
fn bias_arg(owner: TokenStream, name: &Ident, bias: bool, mutable: bool) -> TokenStream {
    match (bias, mutable) {
        (false, _) => quote!(::core::option::Option::None),
        (true, false) => quote!(::core::option::Option::Some(&#owner.#name.bias)),
        (true, true) => quote!(::core::option::Option::Some(&mut #owner.#name.bias)),
    }
}

/// Whether a convolution applies its activation as it stores its output: a `relu` without a
/// residual. Its forward then computes `h = relu(W ⋆ x + b)` in one call and keeps no `z`, and
/// its backward reads relu′ off `h` (`h > 0` exactly where `z > 0`, NaN included).
pub fn fuses_relu(node: &Node<'_>) -> bool {
    matches!(node.kind, NodeKind::Spatial(SpatialNode::Conv { .. }))
        && node.layer.activation.kind == ActivationKind::Relu
        && node.residual.is_none()
}

/// The forward value of a convolution or pool, from `input`:
/// ```text
/// nn::conv(&self.c1.weight, Some(&self.c1.bias), x, &Self::WINDOW_C1)     // z = W ⋆ x + b
/// nn::conv_relu(&self.c1.weight, Some(&self.c1.bias), x, &Self::WINDOW_C1)  // h = relu(z)
/// nn::max_pool(&h_c1, &Self::WINDOW_P1)
/// nn::global_avg_pool(&h_c3)
/// ```
pub fn forward(node: &Node<'_>, kind: SpatialNode, mode: Mode, input: &TokenStream) -> TokenStream {
    let name = &node.layer.name;
    let window = window_ident(node, false);
    match kind {
        SpatialNode::Conv { bias, .. } => {
            let bias = bias_arg(quote!(self), name, bias, false);
            let function = match (mode, fuses_relu(node)) {
                (Mode::Sample, false) => quote!(conv),
                (Mode::Sample, true) => quote!(conv_relu),
                (Mode::Batch, false) => quote!(conv_batch),
                (Mode::Batch, true) => quote!(conv_relu_batch),
            };
            quote!(nn::#function(&self.#name.weight, #bias, #input, &Self::#window))
        }
        SpatialNode::Pool { max: true, .. } => quote!(nn::max_pool(#input, &Self::#window)),
        SpatialNode::Pool { max: false, .. } => quote!(nn::avg_pool(#input, &Self::#window)),
        SpatialNode::GlobalAvgPool => quote!(nn::global_avg_pool(#input)),
    }
}

/// A backward step: what goes into the parameters before and after the gradient flows back,
/// and that gradient's expression (`∂L/∂input`).
pub struct Step {
    pub before: TokenStream,
    pub back: TokenStream,
    pub after: TokenStream,
}

/// A convolution's or pool's backward step, from its `dz`:
/// ```text
/// nn::conv_grad(&mut grad.c2.weight, Some(&mut grad.c2.bias), &dz_c2, &h_p1, &Self::WINDOW_C2);
/// let dh_p1 = nn::conv_backward_input(&self.c2.weight, &dz_c2, &Self::WINDOW_C2);   // Wᵀ ⋆ dz
/// let dh_c1 = nn::max_pool_backward(&h_c1, &dh_p1, &Self::WINDOW_P1);
/// ```
/// With [`Sink::Descend`], `nn::conv_descend(&mut self.c2.weight, .., lr, ..)` after the
/// gradient has flowed back through the old weight.
pub fn backward(
    node: &Node<'_>,
    kind: SpatialNode,
    mode: Mode,
    sink: Sink,
    dz: &Ident,
    input: &TokenStream,
) -> Step {
    let name = &node.layer.name;
    let window = window_ident(node, false);
    let mut step = Step {
        before: TokenStream::new(),
        back: TokenStream::new(),
        after: TokenStream::new(),
    };
    match kind {
        SpatialNode::Conv { bias, .. } => {
            let (before, back, after) =
                conv_backward(quote!(#name), bias, mode, sink, dz, input, &window);
            (step.before, step.back, step.after) = (before, back, after);
        }
        SpatialNode::Pool { max: true, .. } => {
            step.back = quote!(nn::max_pool_backward(#input, &#dz, &Self::#window));
        }
        SpatialNode::Pool { max: false, .. } => {
            step.back = quote!(nn::avg_pool_backward(&#dz, &Self::#window));
        }
        SpatialNode::GlobalAvgPool => step.back = quote!(nn::global_avg_pool_backward(&#dz)),
    }
    step
}

/// The three parts of a convolution's backward step for the parameter block `field`.
fn conv_backward(
    field: TokenStream,
    bias: bool,
    mode: Mode,
    sink: Sink,
    dz: &Ident,
    input: &TokenStream,
    window: &Ident,
) -> (TokenStream, TokenStream, TokenStream) {
    let (grad, back) = match mode {
        Mode::Sample => (quote!(conv_grad), quote!(conv_backward_input)),
        Mode::Batch => (quote!(conv_grad_batch), quote!(conv_backward_input_batch)),
    };
    let back = quote!(nn::#back(&self.#field.weight, &#dz, &Self::#window));
    let bias_of = |owner: TokenStream| match bias {
        false => quote!(::core::option::Option::None),
        true => quote!(::core::option::Option::Some(&mut #owner.#field.bias)),
    };
    match sink {
        Sink::Grad => {
            let grad_bias = bias_of(quote!(grad));
            (
                quote!(nn::#grad(&mut grad.#field.weight, #grad_bias, &#dz, #input, &Self::#window);),
                back,
                TokenStream::new(),
            )
        }
        Sink::Descend => {
            let self_bias = bias_of(quote!(self));
            (
                TokenStream::new(),
                back,
                quote!(nn::conv_descend(&mut self.#field.weight, #self_bias, &#dz, #input, lr, &Self::#window);),
            )
        }
        // `input_gradient`: only the chain rule on to the input.
        Sink::Input => (TokenStream::new(), back, TokenStream::new()),
    }
}

/// What a residual's 1×1 projection adds, into a feature map: `nn::conv(&self.c3_proj.weight,
/// None, &h_c1, &Self::WINDOW_C3_PROJ)`; `None` for a projection into a vector (a dense map).
pub fn projection_forward(
    node: &Node<'_>,
    mode: Mode,
    source: &TokenStream,
) -> Option<TokenStream> {
    projection_window(node)?;
    let (proj, window) = (proj_field(node), window_ident(node, true));
    let function = match mode {
        Mode::Sample => quote!(conv),
        Mode::Batch => quote!(conv_batch),
    };
    Some(
        quote!(nn::#function(&self.#proj.weight, ::core::option::Option::None, #source, &Self::#window)),
    )
}

/// The backward step of a residual's 1×1 projection, from the layer's `dh`; `None` for a
/// projection into a vector.
pub fn projection_backward(
    node: &Node<'_>,
    mode: Mode,
    sink: Sink,
    dh: &Ident,
    source: &TokenStream,
) -> Option<Step> {
    projection_window(node)?;
    let (proj, window) = (proj_field(node), window_ident(node, true));
    let (before, back, after) =
        conv_backward(quote!(#proj), false, mode, sink, dh, source, &window);
    Some(Step {
        before,
        back,
        after,
    })
}

/// The parameter block of a convolution: `Conv<T, FAN_IN, OUT>` (`ConvNoBias` without bias).
pub fn layer_type(node: &Node<'_>, kind: SpatialNode) -> TokenStream {
    let rt = rt();
    let (
        Some(window),
        SpatialNode::Conv {
            out_channels, bias, ..
        },
    ) = (node_window(node, kind), kind)
    else {
        return quote!(());
    };
    let (fan_in, out) = (lit(window.taps()), lit(out_channels));
    match bias {
        true => quote!(#rt::Conv<T, #fan_in, #out>),
        false => quote!(#rt::ConvNoBias<T, #fan_in, #out>),
    }
}

/// A 1×1 projection's block, `ConvNoBias<T, IN_CHANNELS, OUT_CHANNELS>`, when the layer's output
/// is a feature map.
pub fn projection_type(node: &Node<'_>) -> Option<TokenStream> {
    let window = projection_window(node)?;
    let (out, ..) = spatial(node.output?)?;
    let (rt, channels, out) = (rt(), lit(window.channels), lit(out));
    Some(quote!(#rt::ConvNoBias<T, #channels, #out>))
}

/// The field's documentation of the shapes: `weight [6, 1, 5, 5] = [out, in, kh, kw], bias [6]`.
pub fn field_doc(node: &Node<'_>) -> String {
    let tensors = node.tensors().unwrap_or_default();
    let layout = match node.input {
        Some(Shape::Signal { .. }) => "[out, in, k]",
        _ => "[out, in, kh, kw]",
    };
    let shape = |t: &crate::model::Tensor| {
        let dims: Vec<String> = t.shape.iter().map(usize::to_string).collect();
        format!("[{}]", dims.join(", "))
    };
    match tensors.as_slice() {
        [weight, bias] => format!(
            "weight `{}` = `{layout}` (row-major, PyTorch's), bias `{}`",
            shape(weight),
            shape(bias)
        ),
        [weight] => format!(
            "weight `{}` = `{layout}` (row-major, PyTorch's), no bias",
            shape(weight)
        ),
        _ => "no parameters".to_owned(),
    }
}

/// `LayerKind::Spatial(Spatial::Conv { dims: 2, out_channels: 6, window: WINDOW_C1, bias: true })`.
pub fn layer_kind(node: &Node<'_>, kind: SpatialNode) -> TokenStream {
    let rt = rt();
    let window = window_ident(node, false);
    let spatial = match kind {
        SpatialNode::Conv {
            dims,
            out_channels,
            bias,
            ..
        } => {
            let (dims, out_channels) = (lit(dims), lit(out_channels));
            quote!(Conv { dims: #dims, out_channels: #out_channels, window: Self::#window, bias: #bias })
        }
        SpatialNode::Pool { max: true, .. } => quote!(MaxPool(Self::#window)),
        SpatialNode::Pool { max: false, .. } => quote!(AvgPool(Self::#window)),
        SpatialNode::GlobalAvgPool => {
            let channels = lit(node.output.map_or(0, Shape::len));
            quote!(GlobalAvgPool { channels: #channels })
        }
    };
    quote!(Spatial(#rt::Spatial::#spatial))
}

/// The field of a convolution in `__embedded`: `c1: Conv::embedded(&source, "c1.weight", &[6, 1,
/// 5, 5], "c1.bias")`; nothing for a pool.
pub fn embedded_field(node: &Node<'_>) -> TokenStream {
    let field = &node.layer.name;
    let layer = shown(field);
    let tensors = node.tensors().unwrap_or_default();
    let Some(weight) = tensors.iter().find(|t| t.suffix == "weight") else {
        return TokenStream::new();
    };
    let shape = weight.shape.iter().map(|&d| lit(d));
    let weight_name = format!("{layer}.weight");
    match tensors.iter().any(|t| t.suffix == "bias") {
        true => {
            let bias = format!("{layer}.bias");
            quote_spanned! {field.span()=>
                #field: ::nn_runtime::__private::Conv::embedded(&source, #weight_name, &[#(#shape),*], #bias),
            }
        }
        false => quote_spanned! {field.span()=>
            #field: ::nn_runtime::__private::ConvNoBias::embedded(&source, #weight_name, &[#(#shape),*]),
        },
    }
}

/// A 1×1 projection's field in `__embedded`, when the layer's output is a feature map.
pub fn embedded_projection(node: &Node<'_>) -> Option<TokenStream> {
    projection_window(node)?;
    let tensors = node.tensors()?;
    let weight = tensors.iter().find(|t| t.suffix == "proj.weight")?;
    let shape = weight.shape.iter().map(|&d| lit(d));
    let (field, proj) = (&node.layer.name, proj_field(node));
    let name = format!("{}.proj.weight", shown(field));
    Some(quote_spanned! {field.span()=>
        #proj: ::nn_runtime::__private::ConvNoBias::embedded(&source, #name, &[#(#shape),*]),
    })
}

/// The body of `forward_batch`: `forward` as it is, or, in a network with feature maps,
/// `nn::in_column_chunks(x, |x| forward)` (a large batch in cache-sized pieces).
pub fn forward_batch_body(model: &Model<'_>, forward: TokenStream) -> TokenStream {
    if !model.has_spatial() {
        return forward;
    }
    let rt = rt();
    // The kernels read a whole `Batch`: a view of the caller's samples is copied once here.
    quote!(#rt::in_column_chunks(&x.clone_owned(), |x| #forward))
}
