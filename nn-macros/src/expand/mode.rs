//! Training and inference modes (dropout, batch norm): the layer blocks of each mode, and the
//! training-mode API of a network that has such a layer.
//!
//! The inference forward (`forward`, `predict`, `loss` and the batch forms) is the ordinary
//! record, in which dropout is the identity and batch norm uses its running statistics. The
//! training forward is a third record, per batch, whose method takes the [`Training`]
//! context; `train_batch` runs the chain rule over it (the ordinary backward generator, with
//! these layers' blocks from here) and `forward_batch_train` returns its output. The gradient
//! methods without a `Training` (`backward`, `backward_batch`, `sgd_step`) are refused at
//! compile time with a message that names `train_batch`; the input gradient is the one of
//! the inference record (dropout the identity, batch norm a fixed affine map).
//!
//! [`Training`]: https://docs.rs/nn-runtime/latest/nn_runtime/mode/struct.Training.html

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};
use syn::Ident;

use super::backward::Term;
use super::forward::{Code, Record};
use super::{Mode, binding, constant, lit, rt};
use crate::model::{Model, Node, NodeKind};
use crate::syntax::shown;

/// Which forward a layer block belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `forward`, `predict`, `loss` and their batch forms.
    Inference,
    /// `train_batch` and `forward_batch_train` (batch only).
    Training,
}

/// The value of one layer block: the statement(s) and the bindings they make, as
/// `(name, type, scalars per sample)`.
pub struct Block {
    pub code: TokenStream,
    pub bindings: Vec<(Ident, TokenStream, usize)>,
}

/// `z = x` at inference; `mask = dropout_mask(..)`, `z = mask ⊙ x` in training:
/// ```text
/// let mask_drop: Batch<T, 32> = nn::dropout_mask(training, 0.5f64, x.ncols());
/// let z_drop: Batch<T, 32> = mask_drop.component_mul(&h_h1);
/// ```
pub fn dropout_forward(node: &Node<'_>, input: &TokenStream, mode: Mode, phase: Phase) -> Block {
    let name = &node.layer.name;
    let NodeKind::Dropout { p } = node.kind else {
        unreachable!("called for dropout layers")
    };
    let (z, ty) = (binding("z", node), mode.ty(node.width()));
    let z_binding = (z.clone(), mode.signature_ty(node.width()), node.width());
    if phase == Phase::Inference {
        return Block {
            code: quote_spanned!(name.span()=>
                let #z: #ty = (#input).clone_owned();
            ),
            bindings: vec![z_binding],
        };
    }
    let mask = binding("mask", node);
    let p = Literal::f64_suffixed(p);
    Block {
        code: quote_spanned! {name.span()=>
            let #mask: #ty = nn::dropout_mask(training, #p, x.ncols());
            let #z: #ty = #mask.component_mul(#input);
        },
        bindings: vec![
            (mask, mode.signature_ty(node.width()), node.width()),
            z_binding,
        ],
    }
}

/// The channels a batch norm normalizes separately: the features of a vector input, the
/// channels of a feature map (whose positions then share their channel's statistics).
pub fn batch_norm_channels(node: &Node<'_>) -> usize {
    node.output
        .map_or_else(|| node.width(), crate::model::Shape::channels)
}

/// At inference, `z = γ ⊙ (x − running_mean)/√(running_var + ε) + β`; in training, the
/// batch's statistics (per channel, over the batch and a feature map's positions):
/// ```text
/// let eps_bn: T = T::constant(1e-5);
/// let mean_bn: SVector<T, 32> = nn::batch_mean(&h_h1);
/// let var_bn: SVector<T, 32> = nn::batch_variance(&h_h1, &mean_bn);   // biased
/// let xhat_bn: Batch<T, 32> = nn::batch_normalize(&h_h1, &mean_bn, &var_bn, eps_bn);
/// let z_bn: Batch<T, 32> = self.bn.scale_shift(&xhat_bn);
/// ```
pub fn batch_norm_forward(node: &Node<'_>, input: &TokenStream, mode: Mode, phase: Phase) -> Block {
    let name = &node.layer.name;
    let NodeKind::BatchNorm { eps, .. } = node.kind else {
        unreachable!("called for batch norm layers")
    };
    let (z, eps_binding) = (binding("z", node), binding("eps", node));
    let (ty, width) = (mode.ty(node.width()), node.width());
    let eps = constant(eps);
    let mut bindings = vec![(eps_binding.clone(), quote!(T), 0)];
    let code = match phase {
        Phase::Inference => quote_spanned! {name.span()=>
            let #eps_binding: T = #eps;
            let #z: #ty = self.#name.infer(#input, #eps_binding);
        },
        Phase::Training => {
            let (mean, var, xhat) = (
                binding("mean", node),
                binding("var", node),
                binding("xhat", node),
            );
            let (rt, w) = (rt(), lit(batch_norm_channels(node)));
            let stat_ty = quote!(nn::SVector<T, #w>);
            // The statistics are per batch: no scalars per sample.
            bindings.push((mean.clone(), quote!(#rt::SVector<T, #w>), 0));
            bindings.push((var.clone(), quote!(#rt::SVector<T, #w>), 0));
            bindings.push((xhat.clone(), mode.signature_ty(width), width));
            quote_spanned! {name.span()=>
                let #eps_binding: T = #eps;
                let #mean: #stat_ty = nn::batch_mean(#input);
                let #var: #stat_ty = nn::batch_variance(#input, &#mean);
                let #xhat: #ty = nn::batch_normalize(#input, &#mean, &#var, #eps_binding);
                let #z: #ty = self.#name.scale_shift(&#xhat);
            }
        }
    };
    bindings.push((z, mode.signature_ty(width), width));
    Block { code, bindings }
}

/// Backward at inference (`input_gradient`, over the inference record): through dropout,
/// the identity, `dx = dz`; through batch norm, its affine map's gain,
/// `dx = dz ⊙ γ/√(running_var + ε)`:
/// ```text
/// let dh_h1: SVector<T, 8> = self.bn.infer_backward(&dz_bn, eps_bn);
/// ```
pub fn inference_backward(node: &Node<'_>, dz: &Ident) -> Term {
    let name = &node.layer.name;
    match node.kind {
        NodeKind::Dropout { .. } => Term::Borrowed(dz.clone()),
        NodeKind::BatchNorm { .. } => {
            let eps = binding("eps", node);
            Term::Owned(quote_spanned!(name.span()=> self.#name.infer_backward(&#dz, #eps)))
        }
        _ => unreachable!("called for dropout and batch norm layers"),
    }
}

/// Backward through dropout (training): `dx = dz ⊙ mask`.
pub fn dropout_backward(node: &Node<'_>, dz: &Ident) -> TokenStream {
    let mask = binding("mask", node);
    quote!(#dz.component_mul(&#mask))
}

/// Backward through batch norm (training), before `dx`: the gradients of `γ` and `β`, then
/// `dx̂ = γ ⊙ dz` when the input needs a gradient.
/// ```text
/// nn::BatchNorm::accumulate_grad(&mut grad.bn, &xhat_bn, &dz_bn);
/// let dxhat_bn: Batch<T, 32> = self.bn.scale_backward(&dz_bn);
/// ```
pub fn batch_norm_grad(node: &Node<'_>, dz: &Ident, needs_dx: bool) -> TokenStream {
    let name = &node.layer.name;
    let xhat = binding("xhat", node);
    let ty = Mode::Batch.ty(node.width());
    let dxhat = binding("dxhat", node);
    let dxhat = needs_dx.then(|| quote!(let #dxhat: #ty = self.#name.scale_backward(&#dz);));
    quote_spanned! {name.span()=>
        nn::BatchNorm::accumulate_grad(&mut grad.#name, &#xhat, &#dz);
        #dxhat
    }
}

/// `dx = (dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂))/√(σ² + ε)` over the batch.
pub fn batch_norm_backward(node: &Node<'_>) -> TokenStream {
    let (xhat, dxhat, var, eps) = (
        binding("xhat", node),
        binding("dxhat", node),
        binding("var", node),
        binding("eps", node),
    );
    quote!(nn::batch_normalize_backward(&#xhat, &#dxhat, &#var, #eps))
}

/// The running statistics move towards the batch's (unbiased variance), once the layer's
/// gradient is done: `self.bn.update_running(&mean_bn, &var_bn, x.ncols(), T::constant(0.1));`
/// (`x.ncols() * 64` values per channel after a feature map of 64 positions).
pub fn batch_norm_update(node: &Node<'_>) -> TokenStream {
    let name = &node.layer.name;
    let NodeKind::BatchNorm { momentum, .. } = node.kind else {
        unreachable!("called for batch norm layers")
    };
    let (mean, var) = (binding("mean", node), binding("var", node));
    let momentum = constant(momentum);
    let positions = node.width() / batch_norm_channels(node);
    let count = match positions {
        1 => quote!(x.ncols()),
        _ => {
            let positions = lit(positions);
            quote!(x.ncols() * #positions)
        }
    };
    quote_spanned! {name.span()=>
        self.#name.update_running(&#mean, &#var, #count, #momentum);
    }
}

/// What a network with modes adds to its impl: the training record, `train_batch`,
/// `forward_batch_train`, and the refusals of the gradient methods without a `Training`.
pub struct TrainingApi {
    /// The training record's struct (inside the expansion's `const _`).
    pub record: TokenStream,
    /// Inherent methods: the record's constructor, `train_batch`, `forward_batch_train`.
    pub methods: TokenStream,
    /// Scalars per sample that `train_batch` holds (its record and gradients).
    pub scalars: usize,
    /// The network's name as shown, for the refusals.
    network: String,
    /// Its layers with modes, as a message lists them: "`drop: dropout(0.5)`".
    layers: String,
}

/// The training-mode items of a `model` that has modes, from its training record and the
/// chain rule over it.
pub fn expand_training(model: &Model<'_>, record: &Record, train_batch: Code) -> TrainingApi {
    let rt = rt();
    let vis = &model.net.vis;
    let (input, output) = (model.input_width(), model.output_width());
    let (xb_ty, yb_ty) = (
        Mode::Batch.signature_ty(input),
        Mode::Batch.signature_ty(output),
    );
    let output_field = model.nodes.last().map(super::output_ident);
    let (method, body) = (&record.method, &train_batch.body);
    let network = shown(&model.net.name);
    let declared: Vec<String> = model
        .nodes
        .iter()
        .filter(|node| node.kind.has_modes())
        .map(|node| format!("{}: {}", shown(&node.layer.name), node.layer.declared()))
        .collect();
    let layers = crate::syntax::keyword::list(declared.iter().map(String::as_str));
    // A batch norm over a feature map has its positions to take statistics over, even in a
    // batch of one sample; one over a vector needs 2 samples.
    let norms: Vec<&Node<'_>> = model
        .nodes
        .iter()
        .filter(|node| matches!(node.kind, NodeKind::BatchNorm { .. }))
        .collect();
    let over_maps_only =
        !norms.is_empty() && norms.iter().all(|n| batch_norm_channels(n) < n.width());
    let (one_column, too_few) = match over_maps_only {
        true => (".", "With a batch norm, if the batch has no columns."),
        false => (
            "; with a batch norm, if the batch has one column.",
            "With a batch norm, if the batch has fewer than 2 columns.",
        ),
    };
    let train_doc = super::docs(&format!(
        "Training mode on a batch (one sample per column): the forward pass with dropout masks \
         drawn from `training` and batch norms over the batch's statistics, then backward. \
         Adds the gradient of the batch's mean loss into `grad` (a value of the network's \
         type, cleared by the caller), moves the batch norms' running statistics, and returns \
         that mean loss. `{network}` has no other gradient: its layers compute differently \
         in training.\n\n\
         # Panics\n\
         If `x` and `targets` have different numbers of columns, or none{one_column}"
    ));
    let forward_train_doc = super::docs(&format!(
        "The training-mode output of a batch (dropout masks from `training`, batch norms over \
         the batch's statistics), without moving the running statistics: what `train_batch` \
         differentiates.\n\n\
         # Panics\n\
         {too_few}"
    ));
    let constructor = &record.constructor;
    let record_definition = &record.definition;
    TrainingApi {
        record: quote!(#record_definition),
        methods: quote! {
            #constructor

            #train_doc
            #vis fn train_batch(
                &mut self,
                x: &#xb_ty,
                targets: &#yb_ty,
                grad: &mut Self,
                training: &mut #rt::Training,
            ) -> T {
                #body
            }

            #forward_train_doc
            #vis fn forward_batch_train(&self, x: &#xb_ty, training: &mut #rt::Training) -> #yb_ty {
                self.#method(x, training).#output_field
            }
        },
        scalars: train_batch.scalars,
        network,
        layers,
    }
}

/// `fn train_batch` of the `Network` impl, for a network with modes (the others keep the
/// trait's, which is their `backward_batch`).
pub fn expand_train_batch_impl(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let (xb_ty, yb_ty) = (
        Mode::Batch.signature_ty(model.input_width()),
        Mode::Batch.signature_ty(model.output_width()),
    );
    quote! {
        fn train_batch(
            &mut self,
            x: &#xb_ty,
            targets: &#yb_ty,
            grad: &mut Self,
            training: &mut #rt::Training,
        ) -> T {
            Self::train_batch(self, x, targets, grad, training)
        }
    }
}

impl TrainingApi {
    /// The doc paragraph added to a refused method: why, and what to call.
    pub fn refusal_doc(&self) -> TokenStream {
        super::docs(&format!(
            "\n**Refused for `{}`**: {} computes differently in training, so a gradient needs \
             training mode; calling this method fails to build. Use `train_batch`.",
            self.network, self.layers
        ))
    }

    /// The doc paragraph of the input gradients, which a network with modes keeps: they are
    /// taken at inference.
    pub fn inference_doc(&self) -> TokenStream {
        super::docs(&format!(
            "\n**At inference** for `{}`: the derivative of the loss as `forward` computes it, \
             each dropout the identity and each batch norm an affine map of its running \
             statistics (not training mode's masks and batch statistics).",
            self.network
        ))
    }

    /// The body of a gradient method without a `Training` (`backward`, `backward_batch`,
    /// `sgd_step`): a constant that fails when the method is instantiated, with the way out.
    /// ```text
    /// let _ = (x, target, grad);
    /// const { assert!(size_of::<T>() == 0, "`Net` has dropout or batch norm ...") };
    /// unreachable!()
    /// ```
    pub fn refusal(&self, method: &str, arguments: TokenStream) -> Code {
        let message = format!(
            "`{}::{method}` does not exist: {} computes differently in training, so a gradient \
             needs training mode; use `train_batch(&x, &targets, &mut grad, &mut \
             Training::seeded(seed))` (what `train::fit` calls)",
            self.network, self.layers
        );
        Code {
            // `size_of::<T>() == 0` is false for every scalar but depends on `T`, so the
            // assertion fails when the method is instantiated, not when it is declared.
            body: quote! {
                let _ = (#arguments);
                const { ::core::assert!(::core::mem::size_of::<T>() == 0, #message) };
                ::core::unreachable!()
            },
            scalars: self.scalars,
        }
    }
}
