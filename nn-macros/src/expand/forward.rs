//! Forward code: one block of typed bindings per layer, for a sample or a batch.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use super::mode::{self, Phase};
use super::{Mode, binding, constant, has_own_output, output_ref, proj_field, rt};
use crate::model::NodeKind;
use crate::model::{Model, Node, Source};
use crate::syntax::{ActivationKind, shown};

/// A generated body, and how many scalars its typed intermediates hold (per sample).
pub struct Code {
    pub body: TokenStream,
    pub scalars: usize,
}

/// The record of one forward pass (per sample or per batch): a struct with one field per
/// binding, the private method that fills it, and what that costs.
pub struct Record {
    /// `<Network>Forward` or `<Network>ForwardBatch`.
    pub name: Ident,
    /// `forward_intermediates` or `forward_batch_intermediates`.
    pub method: Ident,
    /// The struct, inside the expansion's `const _` block.
    pub definition: TokenStream,
    /// The method, inside the network's impl.
    pub constructor: TokenStream,
    /// The method's arguments: `x`, or `x, training` for the training record.
    pub inputs: TokenStream,
    /// Every field, in order.
    pub fields: Vec<Ident>,
    /// Scalars per sample in the fields.
    pub scalars: usize,
}

/// The forward pass with every intermediate kept, written once per mode: `backward`,
/// `sgd_step` and `input_gradient` call the sample method, `forward_batch` and
/// `backward_batch` the batch one (`forward` keeps less: [`expand_output`]).
/// ```text
/// /// The values of one forward pass of `Mixed` for one sample: one field per binding.
/// struct MixedForward<T: Real> { z_h1: SVector<T, 8>, h_h1: SVector<T, 8>, .. }
///
/// fn forward_intermediates(&self, x: &SVector<T, 4>) -> MixedForward<T> {
///     let (z_h1, h_h1): (SVector<T, 8>, SVector<T, 8>) = nn::dense_forward(&self.h1, x, nn::act::Tanh);
///     ..
///     MixedForward { z_h1, h_h1, .. }
/// }
/// ```
pub fn expand_record(model: &Model<'_>, mode: Mode, phase: Phase) -> Record {
    let rt = rt();
    let network = &model.net.name;
    let (name, method, what, users) = match (mode, phase) {
        (Mode::Batch, Phase::Training) => (
            format_ident!("{}ForwardTrain", network),
            format_ident!("forward_train_intermediates"),
            "a batch in training mode",
            "`train_batch` and `forward_batch_train`",
        ),
        (Mode::Sample, Phase::Training) => unreachable!("training mode is per batch"),
        (Mode::Sample, Phase::Inference) => (
            format_ident!("{}Forward", network),
            format_ident!("forward_intermediates"),
            "one sample",
            "`backward`, `sgd_step` and `input_gradient`",
        ),
        (Mode::Batch, Phase::Inference) => (
            format_ident!("{}ForwardBatch", network),
            format_ident!("forward_batch_intermediates"),
            "a batch (one sample per column)",
            "`forward_batch` and `backward_batch`",
        ),
    };
    // An inference-only network (no loss) has no backward pass to share the record with (and
    // emits no sample record: `forward` keeps none).
    let users = match (model.has_loss(), mode) {
        (true, _) => users,
        (false, _) => "`forward_batch`",
    };
    let mut statements = TokenStream::new();
    let mut bindings = Vec::new();
    for index in 0..model.nodes.len() {
        let (block, block_bindings) = layer_forward(model, index, mode, phase, Keep::Record);
        statements.extend(super::layer_comment(&model.nodes[index], block));
        bindings.extend(block_bindings);
    }
    let scalars = bindings.iter().map(|b| b.width).sum();
    let fields: Vec<Ident> = bindings.iter().map(|b| b.ident.clone()).collect();
    let field_defs = bindings
        .iter()
        .map(|Binding { ident, ty, .. }| quote!(#ident: #ty,));
    let struct_doc = super::docs(&format!(
        "The values of one forward pass of `{}` for {what}, one field per binding of the \
         forward code: `eps_`, `xhat_` (layer norm), `z_` and `h_` (when not `z`) per layer.",
        shown(network)
    ));
    let method_doc = super::docs(&format!(
        "The forward pass of {what} with every intermediate kept, written once for {users}."
    ));
    // Inference batches take any storage (an owned batch or a view); training takes a `Batch`.
    let (input_generics, input_ty) = match (mode, phase) {
        (Mode::Batch, Phase::Inference) if !model.has_spatial() => {
            super::batch_input(model.input_width())
        }
        _ => (TokenStream::new(), mode.signature_ty(model.input_width())),
    };
    // A training record draws from `training` when the network has a dropout.
    let (parameters, inputs) = match phase {
        Phase::Inference => (quote!(x: &#input_ty), quote!(x)),
        Phase::Training => {
            let used = model
                .nodes
                .iter()
                .any(|node| matches!(node.kind, NodeKind::Dropout { .. }));
            let training = if used {
                quote!(training)
            } else {
                quote!(_training)
            };
            (
                quote!(x: &#input_ty, #training: &mut #rt::Training),
                quote!(x, training),
            )
        }
    };
    Record {
        definition: quote! {
            #struct_doc
            struct #name<T: #rt::Real> {
                #(#field_defs)*
            }
        },
        constructor: quote! {
            #method_doc
            fn #method #input_generics (&self, #parameters) -> #name<T> {
                use #rt as nn;
                #statements
                #name { #(#fields),* }
            }
        },
        name,
        method,
        inputs,
        fields,
        scalars,
    }
}

/// The body of `forward` (one sample, inference): the forward pass keeping only what later
/// layers read, so that a dense layer is one call returning its output, with no `z` and no
/// record to fill and copy (the training methods read [`expand_record`]'s):
/// ```text
/// /// h1: dense(64, relu)
/// let h_h1: SVector<T, 64> = nn::dense_output(&self.h1, x, nn::act::Relu);
/// /// out: dense(10)
/// let z_out: SVector<T, 10> = nn::dense_output(&self.out, &h_h1, nn::act::Identity);
/// z_out
/// ```
pub fn expand_output(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let mut statements = TokenStream::new();
    for index in 0..model.nodes.len() {
        let (block, _) = layer_forward(model, index, Mode::Sample, Phase::Inference, Keep::Outputs);
        statements.extend(super::layer_comment(&model.nodes[index], block));
    }
    let output = model.nodes.last().map(super::output_ident);
    quote! {
        use #rt as nn;
        #statements
        #output
    }
}

/// What a forward pass keeps: every intermediate the backward pass reads (the record), or
/// only the layers' outputs (`forward`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    Record,
    Outputs,
}

/// One intermediate of the forward pass.
struct Binding {
    ident: Ident,
    /// Its type, inside the record's definition (absolute paths).
    ty: TokenStream,
    /// Scalars per sample.
    width: usize,
}

/// The input of layer `index`: the previous layer's output, or `x`.
pub fn layer_input(index: usize) -> Source {
    if index == 0 {
        Source::Input
    } else {
        Source::Layer(index - 1)
    }
}

/// One layer; a dense one with an activation or a residual is one call (see `dense`):
/// ```text
/// // z = W h + b, h = σ(z) + residual
/// let (z_h2, h_h2): (SVector<T, 64>, SVector<T, 64>) =
///     nn::dense_residual_forward(&self.h2, &h_h1, nn::act::Relu, &h_h1);
/// let z_out: SVector<T, 10> = nn::matvec(&self.out.weight, &h_h2) + &self.out.bias;
/// ```
/// A layer norm names its epsilon, then computes `x̂`: `let eps_n: T = T::constant(1e-5);`,
/// `xhat_n = standardize(h, eps_n)`, `z_n = γ ⊙ x̂ + β` (backward reads `eps_n` again).
fn layer_forward(
    model: &Model<'_>,
    index: usize,
    mode: Mode,
    phase: Phase,
    keep: Keep,
) -> (TokenStream, Vec<Binding>) {
    let node = &model.nodes[index];
    let layer = node.layer;
    let name = &layer.name;
    let ty = mode.ty(node.width());
    let input = output_ref(model, layer_input(index));
    let z = binding("z", node);
    let vector = |ident: Ident| Binding {
        ident,
        ty: mode.signature_ty(node.width()),
        width: node.width(),
    };
    let mut bindings = Vec::new();

    // Without a record, a dense layer is one call returning its output (see `dense`).
    if keep == Keep::Outputs && matches!(node.kind, NodeKind::Dense { .. }) {
        let residual = residual_term(model, node, mode);
        return (super::dense::output(node, &input, residual), bindings);
    }

    // A dense layer with an activation or a residual is one call (see `dense`).
    if let Some(code) = super::dense::forward(node, &input, residual_term(model, node, mode), mode)
    {
        bindings.push(vector(z));
        bindings.push(vector(binding("h", node)));
        return (code, bindings);
    }

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
            bindings.push(Binding {
                ident: eps_binding.clone(),
                ty: quote!(T),
                width: 0,
            });
            bindings.push(vector(xhat.clone()));
            quote_spanned! {name.span()=>
                let #eps_binding: T = #eps;
                #eps_check
                let #xhat: #ty = nn::standardize(#input, #eps_binding);
                let #z: #ty = self.#name.scale_shift(&#xhat);
            }
        }
        NodeKind::Dropout { .. } | NodeKind::BatchNorm { .. } => {
            let (block, eps_check) = match node.kind {
                NodeKind::BatchNorm { eps, .. } => (
                    mode::batch_norm_forward(node, &input, mode, phase),
                    f32_eps_check(node, eps),
                ),
                _ => (mode::dropout_forward(node, &input, mode, phase), None),
            };
            // The block ends with `z`, which the common tail below records.
            let mut block_bindings = block.bindings;
            block_bindings.pop();
            bindings.extend(
                block_bindings
                    .into_iter()
                    .map(|(ident, ty, width)| Binding { ident, ty, width }),
            );
            let code = block.code;
            quote!(#code #eps_check)
        }
        NodeKind::Sequence(_) => unreachable!("sequence networks expand in `expand::recurrent`"),
        NodeKind::Spatial(kind) => {
            let value = super::conv::forward(node, kind, mode, &input);
            // A convolution that stores `h = relu(z)` keeps no `z` (see `conv::fuses_relu`).
            if super::conv::fuses_relu(node) {
                let h = binding("h", node);
                bindings.push(vector(h.clone()));
                return (
                    quote_spanned!(name.span()=> let #h: #ty = #value;),
                    bindings,
                );
            }
            quote_spanned!(name.span()=> let #z: #ty = #value;)
        }
    };
    bindings.push(vector(z.clone()));

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
        bindings.push(vector(h.clone()));
        code.extend(quote_spanned!(name.span()=> let #h: #ty = #value;));
    }
    (code, bindings)
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
    if let Some(projected) = super::conv::projection_forward(node, mode, &source) {
        return Some(projected);
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
