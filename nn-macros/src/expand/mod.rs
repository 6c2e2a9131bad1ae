//! Expansion: the checked model → the network struct, its parameter visitor, and forward and
//! backward code for a sample and for a batch, all generated from the same [`Model`].

mod backward;
mod classifier;
mod conv;
mod dense;
mod embedded;
mod forward;
mod inference;
mod input;
mod mode;
mod params;
mod recurrent;

use proc_macro2::{Literal, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::Ident;

use backward::Sink;
use mode::Phase;

use crate::model::{Model, Node, Source};
use crate::syntax::{ActivationKind, LossKind, keyword, shown};

/// The whole expansion of a checked network. The struct's `#[cfg]`s are repeated on every
/// other item, so that a configured-out network takes its impls with it.
pub fn expand(model: &Model<'_>) -> TokenStream {
    if crate::recurrent::is_sequence_model(model) {
        return recurrent::expand(model);
    }
    let definition = params::expand_struct(model);
    let cfgs = cfgs(&model.net.attrs);
    // A network without a loss is inference-only: no training methods, no `Network` impl.
    let (methods, training_impls) = match model.has_loss() {
        true => (
            expand_methods(model),
            [
                expand_network_impl(model),
                classifier::expand_classifier_impl(model),
            ],
        ),
        false => (inference::expand_methods(model), Default::default()),
    };
    let items = [
        methods,
        params::expand_parameters(model),
        params::expand_zeroable(model),
        quote!(#(#training_impls)*),
        embedded::expand_embedded(model),
        input::expand_with_scalar(model),
    ];
    quote! {
        #definition
        #(#cfgs #items)*
    }
}

/// The conditions of the struct's attributes, for the items generated beside it: each
/// `#[cfg(..)]`, and each `#[cfg_attr(pred, cfg(..))]` reduced to its `cfg`s (its other
/// attributes, a `derive` say, belong to the struct only).
fn cfgs(attrs: &[syn::Attribute]) -> TokenStream {
    let mut out = TokenStream::new();
    for attr in attrs {
        if attr.path().is_ident("cfg") {
            out.extend(quote!(#attr));
        } else if attr.path().is_ident("cfg_attr")
            && let Ok(args) = attr.parse_args_with(
                syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
            )
        {
            let mut args = args.into_iter();
            let predicate = args.next();
            let conditions: Vec<syn::Meta> =
                args.filter(|meta| meta.path().is_ident("cfg")).collect();
            if !conditions.is_empty() {
                out.extend(quote!(#[cfg_attr(#predicate, #(#conditions),*)]));
            }
        }
    }
    out
}

/// The stub emitted next to the errors, so that uses of the network report nothing more than
/// "this has no such method" instead of burying the real errors under "cannot find type".
pub fn expand_stub(net: &crate::syntax::Network) -> TokenStream {
    let (attrs, vis, name) = (docs_only(&net.attrs), &net.vis, &net.name);
    let cfgs = cfgs(&net.attrs);
    quote! {
        #(#attrs)*
        #cfgs
        #vis struct #name<T = ::core::primitive::f32>(::core::marker::PhantomData<T>);
    }
}

fn docs_only(attrs: &[syn::Attribute]) -> Vec<&syn::Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("doc")).collect()
}

/// Where the generated code reaches the runtime (STYLE: only through `__private`).
fn rt() -> TokenStream {
    quote!(::nn_runtime::__private)
}

/// Rustdoc lines as `#[doc = " line"]`, one attribute per line, each with the space after `///`
/// that hand-written docs have (an empty line stays empty).
fn docs(text: &str) -> TokenStream {
    text.lines()
        .map(|line| match line {
            "" => quote!(#[doc = ""]),
            line => {
                let line = format!(" {line}");
                quote!(#[doc = #line])
            }
        })
        .collect()
}

/// `/// h2: dense(8, relu) + h1` above a layer's block: the first statement carries the layer's
/// declaration as a doc attribute (token streams carry no comments; prettyplease and
/// `cargo expand` print this one as a comment line, and `unused_doc_comments` is allowed on the
/// generated impl).
///
/// Rust accepts an attribute on a `let`, a call or a method call statement, not on a compound
/// assignment: a block that opens with `dh_a += value;` (a fused SGD step of a layer without
/// bias or activation) has that statement written as the call `AddAssign::add_assign`.
fn layer_comment(node: &Node<'_>, block: TokenStream) -> TokenStream {
    if block.is_empty() {
        // A layer with nothing to do here (a dropout's backward into `x`).
        return block;
    }
    let line = format!(" {}: {}", shown(&node.layer.name), node.layer.declared());
    let mut trees = block.into_iter().peekable();
    let mut first = Vec::new();
    while let Some(tree) =
        trees.next_if(|t| !matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))
    {
        first.push(tree);
    }
    let rest: TokenStream = trees.collect();
    let first_statement = match first.as_slice() {
        [
            TokenTree::Ident(target),
            TokenTree::Punct(plus),
            TokenTree::Punct(eq),
            value @ ..,
        ] if plus.as_char() == '+' && eq.as_char() == '=' => {
            let value: TokenStream = value.iter().cloned().collect();
            quote!(::core::ops::AddAssign::add_assign(&mut #target, #value))
        }
        _ => first.into_iter().collect(),
    };
    quote!(#[doc = #line] #first_statement #rest)
}

/// An unsuffixed integer literal, as a width appears in a type.
fn lit(value: usize) -> Literal {
    Literal::usize_unsuffixed(value)
}

/// Per sample (`SVector<T, N>`) or per batch (`Batch<T, N>`, samples as columns).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sample,
    Batch,
}

impl Mode {
    /// The type of an intermediate of width `width`, inside a body that has `use … as nn`.
    fn ty(self, width: usize) -> TokenStream {
        let width = lit(width);
        match self {
            Mode::Sample => quote!(nn::SVector<T, #width>),
            Mode::Batch => quote!(nn::Batch<T, #width>),
        }
    }

    /// The same type, by absolute path (for signatures).
    fn signature_ty(self, width: usize) -> TokenStream {
        let (rt, width) = (rt(), lit(width));
        match self {
            Mode::Sample => quote!(#rt::SVector<T, #width>),
            Mode::Batch => quote!(#rt::Batch<T, #width>),
        }
    }
}

/// The input `x` of a batch method, with any storage (an owned `Batch`, or a `BatchView` of
/// the caller's samples, read without a copy): the generics and the type,
/// `<S: BatchStorage<T, IN>>` and `BatchOf<T, IN, S>`.
fn batch_input(width: usize) -> (TokenStream, TokenStream) {
    let (rt, width) = (rt(), lit(width));
    (
        quote!(<S: #rt::BatchStorage<T, #width>>),
        quote!(#rt::BatchOf<T, #width, S>),
    )
}

/// The local binding holding a node's output: `x` (a reference) for the input, else an owned
/// `h_<layer>` or `z_<layer>`.
fn output_ref(model: &Model<'_>, source: Source) -> TokenStream {
    match source {
        Source::Input => quote!(x),
        Source::Layer(index) => {
            let ident = output_ident(&model.nodes[index]);
            quote!(&#ident)
        }
    }
}

/// `h_<layer>` when the layer has an activation or a residual, else its `z_<layer>`.
fn output_ident(node: &Node<'_>) -> Ident {
    if has_own_output(node) {
        binding("h", node)
    } else {
        binding("z", node)
    }
}

fn has_own_output(node: &Node<'_>) -> bool {
    node.layer.activation.kind != ActivationKind::Identity || node.residual.is_some()
}

/// `<prefix>_<layer>`: `z_h1`, `dz_h1`, `xhat_norm`.
fn binding(prefix: &str, node: &Node<'_>) -> Ident {
    format_ident!("{}_{}", prefix, node.layer.name)
}

/// The projection's field: `<layer>_proj`.
fn proj_field(node: &Node<'_>) -> Ident {
    format_ident!("{}_proj", node.layer.name)
}

/// `T::constant(1e-5)`: an `f64` from the declaration as the network's scalar.
fn constant(value: f64) -> TokenStream {
    let value = Literal::f64_suffixed(value);
    quote!(T::constant(#value))
}

/// The normalized declaration, recorded as `ARCHITECTURE`.
fn architecture(model: &Model<'_>) -> String {
    let input = crate::conv::declared_shape(model.input.expect("checked"));
    let mut entries = vec![format!("{}: {input}", keyword::INPUT)];
    entries.extend(
        model
            .nodes
            .iter()
            .map(|n| format!("{}: {}", shown(&n.layer.name), n.layer.declared())),
    );
    if model.has_loss() {
        entries.push(format!("{}: {}", keyword::LOSS, model.loss().name()));
    }
    entries.join(", ")
}

fn loss_fn(loss: LossKind) -> (Ident, Ident) {
    let name = loss.name();
    (
        format_ident!("{}", name),
        format_ident!("{}_backward", name),
    )
}

/// The loss's link for `predict`: `nn::softmax(&y)`, `nn::sigmoid(&y)`, or `y` itself.
fn link(loss: LossKind, output: TokenStream) -> TokenStream {
    match loss {
        LossKind::Mse => output,
        LossKind::BinaryCrossEntropy => quote!(nn::sigmoid(&#output)),
        LossKind::SoftmaxCrossEntropy => quote!(nn::softmax(&#output)),
    }
}

fn expand_methods(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let name = &model.net.name;
    let vis = &model.net.vis;
    let (input, output) = (model.input_width(), model.output_width());
    let (input_lit, output_lit) = (lit(input), lit(output));
    let param_count = lit(params::param_count(model));

    let sample = forward::expand_record(model, Mode::Sample, Phase::Inference);
    let batch = forward::expand_record(model, Mode::Batch, Phase::Inference);
    // With dropout or batch norm, gradients are taken in training mode only (see `mode`).
    let training = model.has_modes().then(|| {
        let record = forward::expand_record(model, Mode::Batch, Phase::Training);
        let train = backward::expand_backward(model, Mode::Batch, Sink::Grad, &record);
        mode::expand_training(model, &record, train)
    });
    let (backward_sample, backward_batch, sgd_step) = match &training {
        None => (
            backward::expand_backward(model, Mode::Sample, Sink::Grad, &sample),
            backward::expand_backward(model, Mode::Batch, Sink::Grad, &batch),
            backward::expand_backward(model, Mode::Sample, Sink::Descend, &sample),
        ),
        Some(training) => (
            training.refusal("backward", quote!(x, target, grad)),
            training.refusal("backward_batch", quote!(x, targets, grad)),
            training.refusal("sgd_step", quote!(x, target, lr)),
        ),
    };
    let (training_record, training_methods) = match &training {
        Some(training) => (Some(&training.record), Some(&training.methods)),
        None => (None, None),
    };
    let refused_doc = training.as_ref().map(mode::TrainingApi::refusal_doc);
    let sgd_step_body = &sgd_step.body;
    let forward_scalars = lit(sample.scalars);
    let backward_scalars = lit(backward_sample.scalars);
    let backward_body = &backward_sample.body;
    let backward_batch_body = &backward_batch.body;
    // A convolution's batch kernels read a whole `Batch`: a view is copied once (see `conv`).
    let backward_batch_body = match model.has_spatial() && !model.has_modes() {
        true => quote!(let x = &x.clone_owned(); #backward_batch_body),
        false => quote!(#backward_batch_body),
    };
    let output_field = model.nodes.last().map(output_ident);
    let forward_body = forward::expand_output(model);
    let batch_method = &batch.method;
    let (sample_record, batch_record) = (&sample.definition, &batch.definition);
    let (sample_constructor, batch_constructor) = (&sample.constructor, &batch.constructor);

    let (x_ty, y_ty) = (
        Mode::Sample.signature_ty(input),
        Mode::Sample.signature_ty(output),
    );
    let ((xb_generics, xb_ty), yb_ty) = (batch_input(input), Mode::Batch.signature_ty(output));
    let (loss, _) = loss_fn(model.loss());
    let predict = link(model.loss(), quote!(self.forward(x)));
    let predict_batch = link(model.loss(), quote!(self.forward_batch(x)));
    let loss_doc = docs(&format!(
        "The `{}` loss of one sample (see `nn_runtime::loss::{0}`).",
        model.loss().name()
    ));
    let predict_doc = docs(match model.loss() {
        LossKind::Mse => "The prediction: the raw output (the loss `mse` has no link).",
        LossKind::BinaryCrossEntropy => {
            "The prediction: sigmoid of the output, one probability per label."
        }
        LossKind::SoftmaxCrossEntropy => {
            "The prediction: softmax of the logits, class probabilities."
        }
    });
    let forward_doc = docs(&format!(
        "Forward pass of one sample: `{input}` inputs → `{output}` outputs{}.",
        if model.loss() == LossKind::Mse {
            ""
        } else {
            " (logits)"
        }
    ));
    let forward_bytes_doc = docs(&format!(
        "Bytes of the intermediates of one sample's forward pass: {} scalars (every `z`, \
         `x̂` and `h` binding, as the training methods keep them; `forward` keeps only the \
         layers' outputs).",
        sample.scalars
    ));
    let backward_bytes_doc = docs(&format!(
        "Bytes of the intermediates `backward` holds for one sample: {} scalars \
         (the forward bindings, then every `dh`, `dz` and `dx̂`).",
        backward_sample.scalars
    ));
    let labels = expand_label_methods(model, &x_ty);
    // `∂L/∂x`: the backward run on to the input over the inference record (with modes, the
    // derivative at inference).
    let input_sample = backward::expand_backward(model, Mode::Sample, Sink::Input, &sample);
    let input_batch = backward::expand_backward(model, Mode::Batch, Sink::Input, &batch);
    let inference_doc = training.as_ref().map(mode::TrainingApi::inference_doc);
    let input::InputMethods {
        sample: input_gradient,
        batch: input_gradient_batch,
    } = input::expand_input_methods(
        model,
        &input_sample.body,
        &input_batch.body,
        inference_doc.as_ref(),
    );
    let windows = conv::expand_windows(model);
    let forward_batch_body =
        conv::forward_batch_body(model, quote!(self.#batch_method(x).#output_field));
    // In a `const _` block, so that the records' names stay out of the caller's namespace.
    quote! {
        const _: () = {
        #sample_record
        // Everything on batches needs the heap: it exists when nn-runtime has `alloc`.
        #rt::with_alloc! { #batch_record #training_record }

        // The layer blocks open with their declaration as a doc line (see `layer_comment`).
        #[allow(unused_doc_comments)]
        impl<T: #rt::Real> #name<T> {
            /// Width of the input vector.
            #vis const INPUT_WIDTH: ::core::primitive::usize = #input_lit;
            /// Width of the output vector.
            #vis const OUTPUT_WIDTH: ::core::primitive::usize = #output_lit;
            /// Number of trainable scalars.
            #vis const PARAM_COUNT: ::core::primitive::usize = #param_count;
            /// Bytes of the parameters: `PARAM_COUNT * size_of::<T>()`.
            #vis const PARAM_BYTES: ::core::primitive::usize =
                #param_count * ::core::mem::size_of::<T>();
            #forward_bytes_doc
            #vis const FORWARD_BYTES: ::core::primitive::usize =
                #forward_scalars * ::core::mem::size_of::<T>();
            #windows
            #backward_bytes_doc
            #vis const BACKWARD_BYTES: ::core::primitive::usize =
                #backward_scalars * ::core::mem::size_of::<T>();

            #labels

            #sample_constructor

            #rt::with_alloc! {
                #batch_constructor
                #training_methods
            }

            #forward_doc
            #vis fn forward(&self, x: &#x_ty) -> #y_ty {
                #forward_body
            }

            #predict_doc
            #vis fn predict(&self, x: &#x_ty) -> #y_ty {
                use #rt as nn;
                #predict
            }

            #loss_doc
            #vis fn loss(&self, x: &#x_ty, target: &#y_ty) -> T {
                #rt::#loss(&self.forward(x), target)
            }

            /// Forward and backward for one sample: adds `∂L/∂θ` into `grad` (a value of the
            /// network's own type, cleared by the caller) and returns the loss. Allocates
            /// nothing.
            #refused_doc
            #vis fn backward(&self, x: &#x_ty, target: &#y_ty, grad: &mut Self) -> T {
                #backward_body
            }

            /// One step of plain SGD on one sample, fused into the backward pass: each
            /// parameter takes `θ −= lr ∂L/∂θ` as soon as its gradient is known, a weight in the
            /// same pass over it that computes `Wᵀ dz` (which sees the weight from before the
            /// step). Equal, up to rounding, to `backward` into a cleared gradient followed by
            /// an `Sgd` step with this `lr` (no momentum, no decay); returns the loss before
            /// the step. No gradient is stored and nothing is allocated.
            #refused_doc
            #vis fn sgd_step(&mut self, x: &#x_ty, target: &#y_ty, lr: T) -> T {
                #sgd_step_body
            }

            #rt::with_alloc! {
            /// Forward pass of a batch, one sample per column: a `Batch`, or a `BatchView` of
            /// samples in row-major `[n, IN]` order (`nn_runtime::batch_view`), read in place.
            #vis fn forward_batch #xb_generics (&self, x: &#xb_ty) -> #yb_ty {
                #forward_batch_body
            }

            /// [`Self::predict`] for every column of a batch.
            #vis fn predict_batch #xb_generics (&self, x: &#xb_ty) -> #yb_ty {
                use #rt as nn;
                #predict_batch
            }

            /// The mean loss over the columns of a batch.
            ///
            /// # Panics
            /// If `x` and `targets` have different numbers of columns, or if the batch has no
            /// columns.
            #vis fn loss_batch #xb_generics (&self, x: &#xb_ty, targets: &#yb_ty) -> T {
                #rt::check_batch_columns(x.ncols(), targets.ncols());
                #rt::#loss(&self.forward_batch(x), targets)
            }

            /// Forward and backward for a batch: adds the gradient of the batch's mean loss into
            /// `grad` and returns that mean loss. The products are GEMMs (`matrixmultiply`).
            ///
            /// # Panics
            /// If `x` and `targets` have different numbers of columns, or if the batch has no
            /// columns.
            #refused_doc
            #vis fn backward_batch #xb_generics (&self, x: &#xb_ty, targets: &#yb_ty, grad: &mut Self) -> T {
                #backward_batch_body
            }

            #input_gradient_batch
            }

            #input_gradient
        }
        };
    }
}

/// For `softmax_cross_entropy`, the loss and backward with class indices as targets:
/// `loss_label(&x, 3)`, `backward_label(&x, 3, &mut grad)`, `sgd_step_label(&x, 3, lr)`, and
/// the batch forms with `&[usize]`.
fn expand_label_methods(model: &Model<'_>, x_ty: &TokenStream) -> TokenStream {
    if model.loss() != LossKind::SoftmaxCrossEntropy {
        return TokenStream::new();
    }
    let rt = rt();
    let vis = &model.net.vis;
    let classes = lit(model.output_width());
    let (xb_generics, xb_ty) = batch_input(model.input_width());
    let panics = docs(&format!(
        "# Panics\nIf a label is not below {}, the number of classes.",
        model.output_width()
    ));
    quote! {
        /// [`Self::loss`] with the target given as a class index.
        ///
        #panics
        #vis fn loss_label(&self, x: &#x_ty, label: ::core::primitive::usize) -> T {
            self.loss(x, &#rt::one_hot::<T, #classes>(label))
        }

        /// [`Self::backward`] with the target given as a class index.
        ///
        #panics
        #vis fn backward_label(&self, x: &#x_ty, label: ::core::primitive::usize, grad: &mut Self) -> T {
            self.backward(x, &#rt::one_hot::<T, #classes>(label), grad)
        }

        /// [`Self::sgd_step`] with the target given as a class index.
        ///
        #panics
        #vis fn sgd_step_label(&mut self, x: &#x_ty, label: ::core::primitive::usize, lr: T) -> T {
            self.sgd_step(x, &#rt::one_hot::<T, #classes>(label), lr)
        }

        #rt::with_alloc! {
        /// [`Self::loss_batch`] with the targets given as class indices, one per column.
        ///
        #panics
        #vis fn loss_batch_labels #xb_generics (&self, x: &#xb_ty, labels: &[::core::primitive::usize]) -> T {
            self.loss_batch(x, &#rt::one_hot_batch::<T, #classes>(labels))
        }

        /// [`Self::backward_batch`] with the targets given as class indices, one per column.
        ///
        #panics
        #vis fn backward_batch_labels #xb_generics (
            &self,
            x: &#xb_ty,
            labels: &[::core::primitive::usize],
            grad: &mut Self,
        ) -> T {
            self.backward_batch(x, &#rt::one_hot_batch::<T, #classes>(labels), grad)
        }
        }
    }
}

fn expand_network_impl(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let name = &model.net.name;
    let (input, output) = (lit(model.input_width()), lit(model.output_width()));
    let (x_ty, y_ty) = (
        Mode::Sample.signature_ty(model.input_width()),
        Mode::Sample.signature_ty(model.output_width()),
    );
    let ((xb_generics, xb_ty), yb_ty) = (
        batch_input(model.input_width()),
        Mode::Batch.signature_ty(model.output_width()),
    );
    // A network with modes trains through its own `train_batch`; the others keep the trait's.
    let train_batch = model
        .has_modes()
        .then(|| mode::expand_train_batch_impl(model));
    let loss_kind = match model.loss() {
        LossKind::Mse => quote!(Mse),
        LossKind::BinaryCrossEntropy => quote!(BinaryCrossEntropy),
        LossKind::SoftmaxCrossEntropy => quote!(SoftmaxCrossEntropy),
    };
    let input::InputMethods {
        sample: input_gradient_impl,
        batch: input_gradient_batch_impl,
    } = input::expand_network_methods(model);
    quote! {
        #[automatically_derived]
        impl<T: #rt::Real> #rt::Network<T, #input, #output> for #name<T> {
            const LOSS: #rt::LossKind = #rt::LossKind::#loss_kind;

            fn forward(&self, x: &#x_ty) -> #y_ty {
                Self::forward(self, x)
            }

            fn predict(&self, x: &#x_ty) -> #y_ty {
                Self::predict(self, x)
            }

            fn loss(&self, x: &#x_ty, target: &#y_ty) -> T {
                Self::loss(self, x, target)
            }

            fn backward(&self, x: &#x_ty, target: &#y_ty, grad: &mut Self) -> T {
                Self::backward(self, x, target, grad)
            }

            fn sgd_step(&mut self, x: &#x_ty, target: &#y_ty, lr: T) -> T {
                Self::sgd_step(self, x, target, lr)
            }

            #rt::with_alloc! {
            fn forward_batch #xb_generics (&self, x: &#xb_ty) -> #yb_ty {
                Self::forward_batch(self, x)
            }

            fn predict_batch #xb_generics (&self, x: &#xb_ty) -> #yb_ty {
                Self::predict_batch(self, x)
            }

            fn loss_batch #xb_generics (&self, x: &#xb_ty, targets: &#yb_ty) -> T {
                Self::loss_batch(self, x, targets)
            }

            fn backward_batch #xb_generics (&self, x: &#xb_ty, targets: &#yb_ty, grad: &mut Self) -> T {
                Self::backward_batch(self, x, targets, grad)
            }

            #train_batch

            #input_gradient_batch_impl
            }

            #input_gradient_impl
        }
    }
}
