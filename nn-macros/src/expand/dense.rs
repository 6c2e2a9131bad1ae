//! Dense layers as calls to the runtime's layer functions (`nn_runtime::blocks`), one per layer
//! and pass: a generated method grows by a call per layer, and layers of one shape share one
//! compiled copy of the math (see `blocks` for when that copy is inlined).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::Ident;

use super::backward::Sink;
use super::{Mode, binding, constant, has_own_output};
use crate::model::{Node, NodeKind};
use crate::syntax::ActivationKind;

/// The activation as the value the layer functions take: `nn::act::Relu`,
/// `nn::act::LeakyRelu(T::constant(0.2f64))`.
fn activation(node: &Node<'_>) -> TokenStream {
    let name = match node.layer.activation.kind {
        ActivationKind::LeakyRelu { slope } => {
            let slope = constant(slope);
            return quote!(nn::act::LeakyRelu(#slope));
        }
        ActivationKind::Identity => "Identity",
        ActivationKind::Step => "Step",
        ActivationKind::Relu => "Relu",
        ActivationKind::Sigmoid => "Sigmoid",
        ActivationKind::Tanh => "Tanh",
        ActivationKind::Softplus => "Softplus",
        ActivationKind::Gelu => "Gelu",
        ActivationKind::GeluTanh => "GeluTanh",
        ActivationKind::Silu => "Silu",
        ActivationKind::Softmax => "Softmax",
    };
    let name = quote::format_ident!("{}", name);
    quote!(nn::act::#name)
}

/// `nn::dense_forward` or `nn::dense_forward_batch`.
fn function(name: &str, mode: Mode) -> Ident {
    match mode {
        Mode::Sample => quote::format_ident!("{}", name),
        Mode::Batch => quote::format_ident!("{}_batch", name),
    }
}

/// A dense layer with an activation or a residual (`None` for the others, whose `z` is all the
/// forward code writes):
/// ```text
/// let (z_h2, h_h2): (SVector<T, 64>, SVector<T, 64>) =
///     nn::dense_residual_forward(&self.h2, &h_h1, nn::act::Relu, &h_h1); // h = σ(W h₁ + b) + h₁
/// ```
/// `residual` is what the residual adds (`&h_h1`, or the projection's product).
pub fn forward(
    node: &Node<'_>,
    input: &TokenStream,
    residual: Option<TokenStream>,
    mode: Mode,
) -> Option<TokenStream> {
    if !matches!(node.kind, NodeKind::Dense { .. }) || !has_own_output(node) {
        return None;
    }
    let name = &node.layer.name;
    let (z, h) = (binding("z", node), binding("h", node));
    let ty = mode.ty(node.width());
    let activation = activation(node);
    let call = match residual {
        None => {
            let f = function("dense_forward", mode);
            quote!(nn::#f(&self.#name, #input, #activation))
        }
        Some(residual) => {
            let residual = residual_argument(node, residual);
            let f = function("dense_residual_forward", mode);
            quote!(nn::#f(&self.#name, #input, #activation, #residual))
        }
    };
    Some(quote_spanned!(name.span()=> let (#z, #h): (#ty, #ty) = #call;))
}

/// A dense layer in `forward`, which keeps its output alone (no `z`), in one call:
/// ```text
/// let h_h2: SVector<T, 64> = nn::dense_output(&self.h2, &h_h1, nn::act::Relu);
/// let h_h3: SVector<T, 64> = nn::dense_residual_output(&self.h3, &h_h2, nn::act::Relu, &h_h1);
/// let z_out: SVector<T, 10> = nn::dense_output(&self.out, &h_h3, nn::act::Identity);
/// ```
/// For one sample only; `residual` is what the residual adds (as for [`forward`]).
pub fn output(node: &Node<'_>, input: &TokenStream, residual: Option<TokenStream>) -> TokenStream {
    let name = &node.layer.name;
    let out = super::output_ident(node);
    let ty = Mode::Sample.ty(node.width());
    let activation = activation(node);
    let call = match residual {
        None => quote!(nn::dense_output(&self.#name, #input, #activation)),
        Some(residual) => {
            let residual = residual_argument(node, residual);
            quote!(nn::dense_residual_output(&self.#name, #input, #activation, #residual))
        }
    };
    quote_spanned!(name.span()=> let #out: #ty = #call;)
}

/// The residual as a layer function takes it: a projection's product is a new value, so it
/// is borrowed; an identity residual is already a reference.
fn residual_argument(node: &Node<'_>, residual: TokenStream) -> TokenStream {
    match node.residual.as_ref().is_some_and(|r| r.project) {
        true => quote!(&#residual),
        false => residual,
    }
}

/// A dense layer's backward step, given its complete `dh`: a statement when the layer's input
/// needs no gradient, else the value of `∂L/∂x` for the caller to add where it belongs.
pub enum Backward {
    Statement(TokenStream),
    Input(TokenStream),
}

/// ```text
/// nn::dense_grad_backward(&self.h2, &mut grad.h2, nn::act::Relu, &z_h2, &dh_h2, &h_h1) // Wᵀ dz
/// nn::dense_sgd_backward(&mut self.h2, nn::act::Relu, &z_h2, &dh_h2, &h_h1, lr)      // sgd_step
/// nn::dense_grad(&mut grad.h1, nn::act::Tanh, &z_h1, &dh_h1, x);               // input layer
/// nn::dense_backward(&self.h2, nn::act::Relu, &z_h2, &dh_h2)             // input_gradient
/// ```
pub fn backward(
    node: &Node<'_>,
    mode: Mode,
    sink: Sink,
    input: &TokenStream,
    needs_input: bool,
) -> Backward {
    let name = &node.layer.name;
    let (z, dh) = (binding("z", node), binding("dh", node));
    let activation = activation(node);
    let chain = quote!(#activation, &#z, &#dh);
    let (f, arguments) = match (sink, needs_input) {
        (Sink::Grad, false) => ("dense_grad", quote!(&mut grad.#name, #chain, #input)),
        (Sink::Grad, true) => (
            "dense_grad_backward",
            quote!(&self.#name, &mut grad.#name, #chain, #input),
        ),
        (Sink::Descend, false) => ("dense_sgd", quote!(&mut self.#name, #chain, #input, lr)),
        (Sink::Descend, true) => (
            "dense_sgd_backward",
            quote!(&mut self.#name, #chain, #input, lr),
        ),
        (Sink::Input, _) => ("dense_backward", quote!(&self.#name, #chain)),
    };
    let f = function(f, mode);
    let call = quote_spanned!(name.span()=> nn::#f(#arguments));
    match needs_input {
        true => Backward::Input(call),
        false => Backward::Statement(quote!(#call;)),
    }
}
