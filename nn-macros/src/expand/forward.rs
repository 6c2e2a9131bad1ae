//! Forward code: one block of typed bindings per layer, for a sample or a batch.

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};

use super::{Mode, binding, constant, has_own_output, output_ident, output_ref, proj_field, rt};
use crate::model::NodeKind;
use crate::model::{Model, Node, Source};
use crate::syntax::ActivationKind;

/// A generated body, and how many scalars its typed intermediates hold (per sample).
pub struct Code {
    pub body: TokenStream,
    pub scalars: usize,
}

/// `fn forward` / `fn forward_batch`: the layers' bindings, then the last output.
pub fn expand_forward(model: &Model<'_>, mode: Mode) -> Code {
    let rt = rt();
    let (statements, scalars) = forward_statements(model, mode);
    let output = model.nodes.last().map(output_ident);
    Code {
        body: quote! { use #rt as nn; #statements #output },
        scalars,
    }
}

/// Every layer's forward bindings, in order (the backward pass starts with these too).
pub fn forward_statements(model: &Model<'_>, mode: Mode) -> (TokenStream, usize) {
    let mut code = TokenStream::new();
    let mut scalars = 0;
    for index in 0..model.nodes.len() {
        let (block, block_scalars) = layer_forward(model, index, mode);
        code.extend(super::layer_comment(&model.nodes[index], block));
        scalars += block_scalars;
    }
    (code, scalars)
}

/// The input of layer `index`: the previous layer's output, or `x`.
pub fn layer_input(index: usize) -> Source {
    if index == 0 {
        Source::Input
    } else {
        Source::Layer(index - 1)
    }
}

/// One layer:
/// ```text
/// let z_h2: SVector<T, 64> = &self.h2.weight * &h_h1 + &self.h2.bias;   // z = W h + b
/// let h_h2: SVector<T, 64> = nn::relu(&z_h2) + &h_h1;                   // h = σ(z) + residual
/// ```
/// A layer norm names its epsilon, then computes `x̂`: `let eps_n: T = T::constant(1e-5);`,
/// `xhat_n = standardize(h, eps_n)`, `z_n = γ ⊙ x̂ + β` (backward reads `eps_n` again).
fn layer_forward(model: &Model<'_>, index: usize, mode: Mode) -> (TokenStream, usize) {
    let node = &model.nodes[index];
    let layer = node.layer;
    let name = &layer.name;
    let ty = mode.ty(node.width());
    let input = output_ref(model, layer_input(index));
    let z = binding("z", node);
    let mut scalars = node.width();

    let mut code = match node.kind {
        NodeKind::Dense { bias, .. } => {
            let affine = match (mode, bias) {
                (Mode::Sample, true) => {
                    quote!(nn::matvec(&self.#name.weight, #input) + &self.#name.bias)
                }
                (Mode::Sample, false) => quote!(nn::matvec(&self.#name.weight, #input)),
                (Mode::Batch, true) => quote!(nn::dense_batch(&self.#name, #input)),
                (Mode::Batch, false) => quote!(nn::matmul(&self.#name.weight, #input)),
            };
            quote_spanned!(name.span()=> let #z: #ty = #affine;)
        }
        NodeKind::LayerNorm { eps, .. } => {
            let (xhat, eps_binding) = (binding("xhat", node), binding("eps", node));
            let eps_check = f32_eps_check(node, eps);
            let eps = constant(eps);
            scalars += node.width();
            quote_spanned! {name.span()=>
                let #eps_binding: T = #eps;
                #eps_check
                let #xhat: #ty = nn::standardize(#input, #eps_binding);
                let #z: #ty = self.#name.scale_shift(&#xhat);
            }
        }
    };

    if has_own_output(node) {
        let h = binding("h", node);
        let activated = activation(node, quote!(&#z));
        let value = match residual_term(model, node, mode) {
            None => activated,
            Some(residual) => match activated_is_z(node) {
                true => quote!(&#z + #residual),
                false => quote!(#activated + #residual),
            },
        };
        scalars += node.width();
        code.extend(quote_spanned!(name.span()=> let #h: #ty = #value;));
    }
    (code, scalars)
}

fn activated_is_z(node: &Node<'_>) -> bool {
    node.layer.activation.kind == ActivationKind::Identity
}

/// `nn::relu(&z_h1)`, `nn::leaky_relu(&z_h1, T::constant(0.2))`; `z` itself for identity.
fn activation(node: &Node<'_>, z: TokenStream) -> TokenStream {
    let (function, parameter) = activation_fn(node.layer.activation.kind);
    match function {
        None => z,
        Some(function) => {
            let function = quote::format_ident!("{}", function);
            let parameter = parameter.map(|p| quote!(, #p));
            quote!(nn::#function(#z #parameter))
        }
    }
}

/// The runtime function implementing an activation (`None` for identity), and its parameter.
pub fn activation_fn(kind: ActivationKind) -> (Option<&'static str>, Option<TokenStream>) {
    let name = match kind {
        ActivationKind::Identity => return (None, None),
        ActivationKind::LeakyRelu { slope } => return (Some("leaky_relu"), Some(constant(slope))),
        ActivationKind::Step => "step",
        ActivationKind::Relu => "relu",
        ActivationKind::Sigmoid => "sigmoid",
        ActivationKind::Tanh => "tanh",
        ActivationKind::Softplus => "softplus",
        ActivationKind::Gelu => "gelu",
        ActivationKind::GeluTanh => "gelu_tanh",
        ActivationKind::Silu => "silu",
        ActivationKind::Softmax => "softmax",
    };
    (Some(name), None)
}

/// What the residual adds: `&h_h1`, or `&self.h3_proj.weight * &h_h1` with a projection.
fn residual_term(model: &Model<'_>, node: &Node<'_>, mode: Mode) -> Option<TokenStream> {
    let residual = node.residual.as_ref()?;
    let source = output_ref(model, residual.source());
    if !residual.project {
        return Some(source);
    }
    let proj = proj_field(node);
    Some(match mode {
        Mode::Sample => quote!(nn::matvec(&self.#proj.weight, #source)),
        Mode::Batch => quote!(nn::matmul(&self.#proj.weight, #source)),
    })
}

/// An `eps` that is a normal `f64` (parse checked) but rounds to 0 or a subnormal in `f32` is
/// refused when the network is built with `f32`, by a constant the compiler evaluates for each
/// scalar type it instantiates the code with:
/// ```text
/// const { assert!(1e-50f64 >= <T as nn::Real>::MIN_NORMAL, "layer `norm`: ...") };
/// ```
/// (Nothing is emitted for an `eps` that is normal in `f32`.)
fn f32_eps_check(node: &Node<'_>, eps: f64) -> Option<TokenStream> {
    if (eps as f32).is_normal() {
        return None;
    }
    let name = crate::syntax::shown(&node.layer.name);
    let message = format!(
        "layer `{name}`: `eps = {eps:e}` is below {:e}, the smallest normal f32, so in f32 it is 0 \
         or subnormal and a constant input would give NaN; use a larger eps (the default is 1e-5) \
         or the network with f64",
        f32::MIN_POSITIVE
    );
    let eps = Literal::f64_suffixed(eps);
    Some(quote_spanned! {node.layer.name.span()=>
        const { ::core::assert!(#eps >= <T as nn::Real>::MIN_NORMAL, #message) };
    })
}
