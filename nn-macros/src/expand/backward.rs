//! Backward code: the forward bindings, the loss, then the chain rule layer by layer from the
//! last, as straight-line typed bindings. Where a residual branch rejoins, gradients add.

use std::collections::HashSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use super::forward::{Code, Record, activation_fn, layer_input};
use super::mode;
use super::{Mode, binding, loss_fn, output_ident, output_ref, proj_field, rt};
use crate::model::NodeKind;
use crate::model::{Model, Node, Source};

/// Where the gradient of each parameter goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Added into `grad`, a value of the network's type (`backward`, `backward_batch`).
    Grad,
    /// Straight into a plain SGD step on `self`, `θ −= lr ∂L/∂θ`, each weight updated in the
    /// same pass that reads it for `Wᵀ dz` (`sgd_step`; one sample only).
    Descend,
    /// Nowhere: the chain rule runs on to the input and returns `dx = ∂L/∂x`
    /// (`input_gradient`, `input_gradient_batch`; see `input.rs`, and `recurrent/backward.rs`
    /// for sequence networks).
    Input,
}

/// `fn backward` / `fn backward_batch` (into `grad`), or `fn sgd_step` (into the weights): the
/// forward pass's record of `mode`, destructured into the bindings the chain rule reads
/// (`let MixedForward { z_h1, h_h1, .. } = self.forward_intermediates(x);`), the loss, then
/// each layer from the last.
pub fn expand_backward(model: &Model<'_>, mode: Mode, sink: Sink, record: &Record) -> Code {
    assert!(
        sink != Sink::Descend || mode == Mode::Sample,
        "the fused SGD step is generated per sample only"
    );
    let rt = rt();
    let Some(last) = model.nodes.last() else {
        unreachable!("check proved the network has a layer")
    };
    let (loss, loss_backward) = loss_fn(model.loss());
    let output = output_ident(last);
    let dh_last = binding("dh", last);
    let ty = mode.ty(last.width());
    let (target, batch_check) = match mode {
        Mode::Sample => (quote!(target), None),
        Mode::Batch => (
            quote!(targets),
            Some(quote!(nn::check_batch_columns(x.ncols(), targets.ncols());)),
        ),
    };

    let mut gradients = Gradients::new(model, mode, sink == Sink::Input);
    gradients.scalars += last.width();
    let mut layers = TokenStream::new();
    for index in (0..model.nodes.len()).rev() {
        layers.extend(layer_backward(model, index, mode, sink, &mut gradients));
    }
    // The loss and its gradient come from one call (one softmax for the cross-entropy).
    let (seed, result) = match sink {
        Sink::Input => (
            quote!(let #dh_last: #ty = nn::#loss_backward(&#output, #target);),
            quote!(dx),
        ),
        _ => {
            let loss_and_backward = format_ident!("{}_and_backward", loss);
            (
                quote!(let (loss, #dh_last): (T, #ty) = nn::#loss_and_backward(&#output, #target);),
                quote!(loss),
            )
        }
    };
    let chain = quote! {
        #seed
        #layers
    };
    let read = named_in(&chain, &record.fields);
    let rest = (read.len() < record.fields.len()).then(|| quote!(..));
    let (name, method, inputs) = (&record.name, &record.method, &record.inputs);
    Code {
        body: quote! {
            use #rt as nn;
            #batch_check
            let #name { #(#read,)* #rest } = self.#method(#inputs);
            #chain
            #result
        },
        scalars: record.scalars + gradients.scalars,
    }
}

/// The `fields` that `code` names, in the fields' order.
pub(super) fn named_in(code: &TokenStream, fields: &[Ident]) -> Vec<Ident> {
    fn collect(code: &TokenStream, found: &mut HashSet<String>) {
        for tree in code.clone() {
            match tree {
                TokenTree::Ident(ident) => {
                    found.insert(ident.to_string());
                }
                TokenTree::Group(group) => collect(&group.stream(), found),
                _ => {}
            }
        }
    }
    let mut found = HashSet::new();
    collect(code, &mut found);
    fields
        .iter()
        .filter(|field| found.contains(&field.to_string()))
        .cloned()
        .collect()
}

/// Tracks the `dh_<layer>` accumulators: the first contribution declares one (`let`, or
/// `let mut` when more will be added), later ones add into it.
struct Gradients<'m, 'a> {
    model: &'m Model<'a>,
    mode: Mode,
    declared: Vec<bool>,
    /// Whether `∂L/∂h` of the node leads to a parameter (false for a dropout on the input).
    needed: Vec<bool>,
    remaining: Vec<usize>,
    scalars: usize,
    /// `Some((declared, remaining))` of `dx` when the chain rule runs on to the input.
    input: Option<(bool, usize)>,
}

/// A term of `∂L/∂h` for some node: a new value, or another node's `dh` (a residual).
pub(super) enum Term {
    Owned(TokenStream),
    Borrowed(Ident),
}

impl<'m, 'a> Gradients<'m, 'a> {
    fn new(model: &'m Model<'a>, mode: Mode, to_input: bool) -> Self {
        let n = model.nodes.len();
        let mut remaining = vec![0; n];
        let mut input_remaining = 1;
        for (index, node) in model.nodes.iter().enumerate() {
            if index > 0 {
                remaining[index - 1] += 1;
            }
            if let Some(residual) = &node.residual {
                match residual.source() {
                    Source::Layer(source) => remaining[source] += 1,
                    Source::Input => input_remaining += 1,
                }
            }
        }
        let mut needed = vec![false; n];
        for (index, node) in model.nodes.iter().enumerate() {
            let reads = |source: Source| match source {
                Source::Input => false,
                Source::Layer(source) => needed[source],
            };
            // A dropout or a pool has no parameters of its own.
            let parameterless = matches!(node.kind, NodeKind::Dropout { .. })
                || crate::conv::is_parameterless(node);
            needed[index] = !parameterless
                || reads(layer_input(index))
                || node
                    .residual
                    .as_ref()
                    .is_some_and(|r| r.project || reads(r.source()));
        }
        let mut declared = vec![false; n];
        // The last layer's `dh` comes from the loss.
        declared[n - 1] = true;
        Self {
            model,
            mode,
            declared,
            needed,
            remaining,
            scalars: 0,
            input: to_input.then_some((false, input_remaining)),
        }
    }

    /// Whether anything reads `∂L/∂h` of `source`: everything when the chain rule runs on to
    /// the input (`input_gradient`); else not the input, nor a layer whose gradient reaches no
    /// parameter (a dropout on the input).
    fn needs(&self, source: Source) -> bool {
        match source {
            Source::Input => self.input.is_some(),
            Source::Layer(index) => self.input.is_some() || self.needed[index],
        }
    }

    /// Adds `term` into `dh_<target>`; for the input into `dx` when the chain rule runs on to
    /// it, else nothing; nothing either for a layer whose gradient reaches no parameter.
    fn contribute(&mut self, target: Source, term: Term) -> TokenStream {
        let Source::Layer(index) = target else {
            return super::input::contribute_dx(&mut self.input, self.mode, self.model, term);
        };
        if !self.needs(target) {
            return TokenStream::new();
        }
        let node = &self.model.nodes[index];
        let dh = binding("dh", node);
        let total = self.remaining[index];
        if self.declared[index] {
            return match term {
                Term::Owned(value) => quote!(#dh += #value;),
                Term::Borrowed(other) => quote!(#dh += &#other;),
            };
        }
        self.declared[index] = true;
        self.scalars += node.width();
        let ty = self.mode.ty(node.width());
        let value = match term {
            Term::Owned(value) => value,
            Term::Borrowed(other) => quote!(#other.clone()),
        };
        let mutable = (total > 1).then(|| quote!(mut));
        quote!(let #mutable #dh: #ty = #value;)
    }
}

/// One layer, given its complete `dh`; a dense layer is one call (see `dense`):
/// ```text
/// // dz = σ'(z) ⊙ dh, ∂L/∂W += dz hᵀ, ∂L/∂b += dz, ∂L/∂h = Wᵀ dz
/// let mut dh_h1: SVector<T, 64> =
///     nn::dense_grad_backward(&self.h2, &mut grad.h2, nn::act::Relu, &z_h2, &dh_h2, &h_h1);
/// dh_h1 += &dh_h2;                          // residual: the gradient passes through
/// ```
///
/// With [`Sink::Descend`] the call is `nn::dense_sgd_backward(&mut self.h2, nn::act::Relu, &z_h2,
/// &dh_h2, &h_h1, lr)`; other kinds write `let dz_<layer> = nn::<σ>_backward(&z, &dh)` first.
fn layer_backward(
    model: &Model<'_>,
    index: usize,
    mode: Mode,
    sink: Sink,
    gradients: &mut Gradients<'_, '_>,
) -> TokenStream {
    let node = &model.nodes[index];
    // Nothing reads this layer's gradient (a pool or dropout on the input, and what only
    // they read), so no code at all.
    if !gradients.needs(Source::Layer(index)) {
        return TokenStream::new();
    }
    let name = &node.layer.name;
    let ty = mode.ty(node.width());
    let (dh, dz, z) = (binding("dh", node), binding("dz", node), binding("z", node));
    let input = layer_input(index);
    let input_ref = output_ref(model, input);

    // The residual's share goes last, so that the block opens with its own statement (see
    // `layer_comment`); the order of contributions into a `dh` does not change its value.
    let mut code = TokenStream::new();
    // Without an activation `dz = dh`: the code reads `dh_<layer>` where `dz` would be.
    let dz = match activation_fn(node.layer.activation.kind) {
        (None, _) => dh,
        (Some(function), parameter) => {
            let function = format_ident!("{}_backward", function);
            let parameter = parameter.map(|p| quote!(, #p));
            gradients.scalars += node.width();
            // A dense layer's `dz` is computed inside its layer function (see `dense`).
            if !matches!(node.kind, NodeKind::Dense { .. }) {
                // A convolution that stores `h = relu(z)` reads relu′ off `h` (see `conv`).
                let z = match super::conv::fuses_relu(node) {
                    true => binding("h", node),
                    false => z,
                };
                code.extend(quote_spanned!(name.span()=>
                    let #dz: #ty = nn::#function(&#z, &#dh #parameter);
                ));
            }
            dz
        }
    };

    match node.kind {
        NodeKind::Dense { .. } => {
            let needs_input = gradients.needs(input);
            match super::dense::backward(node, mode, sink, &input_ref, needs_input) {
                super::dense::Backward::Statement(call) => code.extend(call),
                super::dense::Backward::Input(back) => {
                    code.extend(gradients.contribute(input, Term::Owned(back)))
                }
            }
        }
        NodeKind::LayerNorm { .. } => {
            let xhat = binding("xhat", node);
            let params_grad = match sink {
                Sink::Grad => quote_spanned!(name.span()=>
                    nn::LayerNorm::accumulate_grad(&mut grad.#name, &#xhat, &#dz);
                ),
                Sink::Descend => quote_spanned!(name.span()=>
                    self.#name.descend(&#xhat, &#dz, lr);
                ),
                Sink::Input => TokenStream::new(),
            };
            // A fused step changes γ only after `dx̂ = γ ⊙ dz` has read it.
            let (first, last) = match sink {
                Sink::Grad | Sink::Input => (Some(params_grad), None),
                Sink::Descend => (None, Some(params_grad)),
            };
            code.extend(first);
            if gradients.needs(input) {
                let dxhat = binding("dxhat", node);
                let eps = binding("eps", node);
                gradients.scalars += node.width();
                code.extend(quote_spanned!(name.span()=>
                    let #dxhat: #ty = self.#name.scale_backward(&#dz);
                ));
                let back = quote!(nn::standardize_backward(#input_ref, &#dxhat, #eps));
                code.extend(gradients.contribute(input, Term::Owned(back)));
            }
            code.extend(last);
        }
        // `input_gradient` runs over the inference record, where dropout is the identity and
        // batch norm an affine map of fixed statistics (see `mode`).
        NodeKind::Dropout { .. } | NodeKind::BatchNorm { .. } if sink == Sink::Input => {
            if gradients.needs(input) {
                let back = mode::inference_backward(node, &dz);
                code.extend(gradients.contribute(input, back));
            }
        }
        // Training mode only (`train_batch`): the other gradients of a network with modes
        // are refused (see `mode`).
        NodeKind::Dropout { .. } => {
            if gradients.needs(input) {
                let back = mode::dropout_backward(node, &dz);
                code.extend(gradients.contribute(input, Term::Owned(back)));
            }
        }
        NodeKind::BatchNorm { .. } => {
            let needs_dx = gradients.needs(input);
            code.extend(mode::batch_norm_grad(node, &dz, needs_dx));
            if needs_dx {
                gradients.scalars += node.width();
                let back = mode::batch_norm_backward(node);
                code.extend(gradients.contribute(input, Term::Owned(back)));
            }
            code.extend(mode::batch_norm_update(node));
        }
        NodeKind::Sequence(_) => unreachable!("sequence networks expand in `expand::recurrent`"),
        NodeKind::Spatial(kind) => {
            let step = super::conv::backward(node, kind, mode, sink, &dz, &input_ref);
            code.extend(step.before);
            if gradients.needs(input) {
                code.extend(gradients.contribute(input, Term::Owned(step.back)));
            }
            code.extend(step.after);
        }
    }
    code.extend(residual_backward(model, node, mode, sink, gradients));
    super::layer_comment(node, code)
}

/// A residual passes `dh` back unchanged to its source, or through the projection
/// (`∂L/∂P += dh h_srcᵀ`, `∂L/∂h_src += Pᵀ dh`).
fn residual_backward(
    model: &Model<'_>,
    node: &Node<'_>,
    mode: Mode,
    sink: Sink,
    gradients: &mut Gradients<'_, '_>,
) -> TokenStream {
    let Some(residual) = &node.residual else {
        return TokenStream::new();
    };
    let dh = binding("dh", node);
    if !residual.project {
        return gradients.contribute(residual.source(), Term::Borrowed(dh));
    }
    let proj = proj_field(node);
    let source = output_ref(model, residual.source());
    if let Some(step) = super::conv::projection_backward(node, mode, sink, &dh, &source) {
        let mut code = step.before;
        code.extend(gradients.contribute(residual.source(), Term::Owned(step.back)));
        code.extend(step.after);
        return code;
    }
    if sink == Sink::Descend {
        return weight_descend(
            quote!(self.#proj.weight),
            &dh,
            residual.source(),
            source,
            gradients,
        );
    }
    let mut code = match mode {
        _ if sink == Sink::Input => TokenStream::new(),
        Mode::Sample => quote!(nn::add_outer(&mut grad.#proj.weight, &#dh, #source);),
        Mode::Batch => quote!(nn::add_mul_tr(&mut grad.#proj.weight, &#dh, #source);),
    };
    let back = match mode {
        Mode::Sample => quote!(nn::tr_matvec(&self.#proj.weight, &#dh)),
        Mode::Batch => quote!(nn::tr_matmul(&self.#proj.weight, &#dh)),
    };
    code.extend(gradients.contribute(residual.source(), Term::Owned(back)));
    code
}

/// A fused SGD step on `weight` from `delta` and the layer input `source`: `W −= lr δ hᵀ`,
/// together with `∂L/∂h += Wᵀ δ` (old `W`) unless the source is the input.
fn weight_descend(
    weight: TokenStream,
    delta: &Ident,
    source: Source,
    source_ref: TokenStream,
    gradients: &mut Gradients<'_, '_>,
) -> TokenStream {
    if source == Source::Input {
        return quote!(nn::descend_outer(&mut #weight, &#delta, #source_ref, lr););
    }
    let back = quote!(nn::tr_matvec_descend(&mut #weight, &#delta, #source_ref, lr));
    gradients.contribute(source, Term::Owned(back))
}
