//! The code of a causal convolution in a sequence network (`conv1d(.., causal)`, see
//! [`crate::causal`]): its parameter block, its streaming history, and its forward and backward
//! passes per sample, per batch and per step, each one call into `nn_runtime`'s `Causal`.

use super::forward::Flow;
use super::*;
use crate::causal::CausalConv;

/// `Conv<T, C_in·K, C_out>` (`ConvNoBias` without bias): the same block as a spatial `conv1d`,
/// PyTorch's weight `[C_out, C_in, K]`.
pub(super) fn layer_type(node: &Node<'_>, conv: CausalConv) -> TokenStream {
    let rt = rt();
    let fan_in = lit(node.in_width() * conv.kernel);
    let out = lit(conv.out_channels);
    match conv.bias {
        true => quote!(#rt::Conv<T, #fan_in, #out>),
        false => quote!(#rt::ConvNoBias<T, #fan_in, #out>),
    }
}

/// `CausalConv { out_channels: 4, kernel: 3, dilation: 2, bias: true }`, for `LAYERS`.
pub(super) fn layer_kind(conv: CausalConv) -> TokenStream {
    let CausalConv {
        out_channels,
        kernel,
        dilation,
        bias,
    } = conv;
    let (out_channels, kernel, dilation) = (lit(out_channels), lit(kernel), lit(dilation));
    quote!(CausalConv { out_channels: #out_channels, kernel: #kernel, dilation: #dilation, bias: #bias })
}

/// `nn::Causal::<3, 2>`: the taps, kernel and dilation.
fn taps(conv: CausalConv) -> TokenStream {
    let (kernel, dilation) = (lit(conv.kernel), lit(conv.dilation));
    quote!(nn::Causal::<#kernel, #dilation>)
}

/// The streaming state's field: the last `(K−1)·D` inputs,
/// `c1: CausalHistory<T, 8, 4>`.
pub(super) fn state_field(
    node: &Node<'_>,
    conv: CausalConv,
) -> (Ident, TokenStream, TokenStream, String) {
    let rt = rt();
    let (channels, history) = (lit(node.in_width()), lit(conv.history()));
    (
        node.layer.name.clone(),
        quote!(#rt::CausalHistory<T, #channels, #history>),
        quote!(#rt::CausalHistory::default()),
        format!(
            "The last {} inputs of `{}` (its kernel reaches (kernel − 1) · dilation steps back).",
            conv.history(),
            shown(&node.layer.name)
        ),
    )
}

/// The forward statement of one flow:
/// ```text
/// let z_c1: Vec<SVector<T, 4>> = nn::Causal::<3, 2>::forward(&self.c1, &h_pre, &initial.c1);
/// let z_c1: SVector<T, 4> = nn::Causal::<3, 2>::step(&self.c1, &h_pre, &mut state.c1);
/// ```
pub(super) fn forward(
    node: &Node<'_>,
    conv: CausalConv,
    flow: Flow,
    input: TokenStream,
    ty: &TokenStream,
) -> TokenStream {
    let (name, z) = (&node.layer.name, binding("z", node));
    let taps = taps(conv);
    let value = match flow {
        Flow::Sample => quote!(#taps::forward(&self.#name, #input, &initial.#name)),
        Flow::Batch => quote!(#taps::forward_batch(&self.#name, #input)),
        Flow::Step => quote!(#taps::step(&self.#name, #input, &mut state.#name)),
    };
    quote_spanned!(name.span()=> let #z: #ty = #value;)
}

/// The backward statement: the parameter gradient into `grad`, and `dx` when the input is a
/// layer's (`passes_back`).
/// ```text
/// let dx_c1: Vec<SVector<T, 8>> =
///     nn::Causal::<3, 2>::backward(&self.c1, &h_pre, &initial.c1, &dz_c1, &mut grad.c1);
/// ```
pub(super) fn backward(
    node: &Node<'_>,
    conv: CausalConv,
    flow: Flow,
    input: TokenStream,
    dz: &Ident,
    dx: Option<(&Ident, &TokenStream)>,
) -> TokenStream {
    let name = &node.layer.name;
    let taps = taps(conv);
    let call = match flow {
        Flow::Batch => quote!(#taps::backward_batch(&self.#name, #input, &#dz, &mut grad.#name)),
        _ => quote!(#taps::backward(&self.#name, #input, &initial.#name, &#dz, &mut grad.#name)),
    };
    match dx {
        Some((dx, ty)) => quote_spanned!(name.span()=> let #dx: #ty = #call;),
        None => quote_spanned!(name.span()=> #call;),
    }
}

/// After a chunk of a stream: the chunk's inputs join the history, as `step` would leave it.
pub(super) fn chunk_tail(node: &Node<'_>, input: &Ident) -> TokenStream {
    let name = &node.layer.name;
    quote!(state.#name.push_all(&#input);)
}

/// The field in `__embedded`: `c1: Conv::embedded(&source, "c1.weight", &[4, 8, 3], "c1.bias")`.
pub(super) fn embedded_field(node: &Node<'_>, conv: CausalConv) -> TokenStream {
    let field = &node.layer.name;
    let layer = shown(field);
    let shape = [conv.out_channels, node.in_width(), conv.kernel].map(lit);
    let weight = format!("{layer}.weight");
    match conv.bias {
        true => {
            let bias = format!("{layer}.bias");
            quote_spanned! {field.span()=>
                #field: ::nn_runtime::__private::Conv::embedded(&source, #weight, &[#(#shape),*], #bias),
            }
        }
        false => quote_spanned! {field.span()=>
            #field: ::nn_runtime::__private::ConvNoBias::embedded(&source, #weight, &[#(#shape),*]),
        },
    }
}
