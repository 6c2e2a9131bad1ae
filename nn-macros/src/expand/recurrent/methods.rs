//! The methods of a sequence network (forward, predict, loss, backward, the input gradients,
//! step, the batch forms) and its `SequenceNetwork` impl.

use super::backward::{Sink, expand_backward, needs_scratch_gradient};
use super::forward::{Flow, expand_record, expand_step_body};
use super::*;

pub(super) fn expand_methods(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let (name, vis) = (&model.net.name, &model.net.vis);
    let (input, output) = (model.input_width(), model.output_width());
    let (input_lit, output_lit) = (lit(input), lit(output));
    let param_count = lit(params::param_count(model));
    let state = state_ident(model);
    let record = expand_record(model, Flow::Sample);
    let backward_body =
        expand_backward(model, &record, Flow::Sample, Sink::Grad, TokenStream::new());
    let chunk_body = expand_backward(model, &record, Flow::Sample, Sink::Grad, chunk_tail(model));
    let batch_record = expand_record(model, Flow::Batch);
    let backward_batch_body = expand_backward(
        model,
        &batch_record,
        Flow::Batch,
        Sink::Grad,
        TokenStream::new(),
    );
    // `∂L/∂x`: the same backward run on to the input.
    let input_body = expand_backward(
        model,
        &record,
        Flow::Sample,
        Sink::Input,
        TokenStream::new(),
    );
    let input_batch_body = expand_backward(
        model,
        &batch_record,
        Flow::Batch,
        Sink::Input,
        TokenStream::new(),
    );
    let (batch_definition, batch_constructor) =
        (&batch_record.definition, &batch_record.constructor);
    let xb_ty = quote!([#rt::Batch<T, #input_lit>]);
    let (yb_ty, targetb_ty) = batch_types(model);
    let step_body = expand_step_body(model);
    let (loss, _) = loss_fn(model.loss());
    let (record_definition, record_constructor) = (&record.definition, &record.constructor);
    let output_field = model.nodes.last().map(output_ident);
    let x_ty = quote!([#rt::SVector<T, #input_lit>]);
    let step_ty = quote!(#rt::SVector<T, #output_lit>);
    let seq2seq = ends_on_sequence(model);
    let (y_ty, target_ty) = if seq2seq {
        (
            quote!(#rt::Vec<#rt::SVector<T, #output_lit>>),
            quote!([#rt::SVector<T, #output_lit>]),
        )
    } else {
        (
            quote!(#rt::SVector<T, #output_lit>),
            quote!(#rt::SVector<T, #output_lit>),
        )
    };
    let loss_batch_body = if seq2seq {
        quote! {
            nn::check_sequence_targets(x.len(), target.len());
            let steps: T = T::constant(x.len() as f64);
            self.forward_batch(x)
                .iter()
                .zip(target)
                .fold(T::zero(), |sum, (y, y_target)| sum + nn::#loss(y, y_target))
                / steps
        }
    } else {
        quote! {
            nn::check_batch_columns(x[0].ncols(), target.ncols());
            nn::#loss(&self.forward_batch(x), target)
        }
    };
    let predict = if seq2seq {
        let per_step = link(model.loss(), quote!((*y)));
        quote!(self.forward(x).iter().map(|y| #per_step).collect())
    } else {
        link(model.loss(), quote!(self.forward(x)))
    };
    let loss_body = if seq2seq {
        quote! {
            nn::check_sequence_targets(x.len(), target.len());
            nn::#loss(&nn::steps_to_batch(&self.forward(x)), &nn::steps_to_batch(target))
        }
    } else {
        quote!(nn::#loss(&self.forward(x), target))
    };
    let shape_doc = if seq2seq {
        "one output per step (sequence-to-sequence); the loss is the mean over the steps"
    } else {
        "one output for the whole sequence"
    };
    let forward_doc = docs(&format!(
        "Forward pass over a sequence of `{input}`-feature steps: {shape_doc}.\n\n# Panics\nIf \
         the sequence is empty."
    ));
    let labels = expand_label_methods(model, &x_ty);
    let loss_doc = docs(&format!(
        "The `{}` loss of one sequence ({}).\n\n# Panics\nIf the sequence is empty{}.",
        model.loss().name(),
        if seq2seq {
            "the mean over its steps, one target per step"
        } else {
            "one target for the sequence"
        },
        if seq2seq {
            ", or the targets are not one per step"
        } else {
            ""
        }
    ));
    let (input_gradient_doc, input_gradient_batch_doc) = input_gradient_docs(model);
    quote! {
        const _: () = {
        #record_definition
        #batch_definition

        #[allow(unused_doc_comments)]
        impl<T: #rt::Real> #name<T> {
            /// Features of one input step.
            #vis const INPUT_WIDTH: ::core::primitive::usize = #input_lit;
            /// Width of the output (per step, for a sequence-to-sequence network).
            #vis const OUTPUT_WIDTH: ::core::primitive::usize = #output_lit;
            /// Number of trainable scalars.
            #vis const PARAM_COUNT: ::core::primitive::usize = #param_count;
            /// Bytes of the parameters: `PARAM_COUNT * size_of::<T>()`.
            #vis const PARAM_BYTES: ::core::primitive::usize =
                #param_count * ::core::mem::size_of::<T>();

            #record_constructor

            #batch_constructor

            #labels

            #forward_doc
            #vis fn forward(&self, x: &#x_ty) -> #y_ty {
                self.forward_intermediates(x, &::core::default::Default::default())
                    .#output_field
            }

            /// The prediction: the output with the loss's link applied (softmax or sigmoid
            /// probabilities, or the raw output for `mse`).
            #vis fn predict(&self, x: &#x_ty) -> #y_ty {
                use #rt as nn;
                #predict
            }

            #loss_doc
            #vis fn loss(&self, x: &#x_ty, target: &#target_ty) -> T {
                use #rt as nn;
                #loss_body
            }

            /// Forward over the sequence, then backpropagation through time: adds `∂L/∂θ` into
            /// `grad` (a value of the network's own type, cleared by the caller) and returns the
            /// loss.
            #vis fn backward(&self, x: &#x_ty, target: &#target_ty, grad: &mut Self) -> T {
                use #rt as nn;
                let initial: &#state<T> = &::core::default::Default::default();
                #backward_body
            }

            #input_gradient_doc
            #vis fn input_gradient(&self, x: &#x_ty, target: &#target_ty) -> #rt::Vec<#rt::SVector<T, #input_lit>> {
                use #rt as nn;
                let initial: &#state<T> = &::core::default::Default::default();
                #input_body
            }

            /// Truncated backpropagation through time, one chunk of a long stream: forward
            /// over `x` from `state` (the recurrent layers' states at the chunk's start),
            /// backward through the chunk only (the gradient into the carried state is cut),
            /// adds `∂L/∂θ` into `grad` and returns the chunk's loss; then `state` holds the
            /// states at the chunk's end, ready for the next chunk. From a default state over
            /// a whole sequence it is `backward`. A `last` or `mean` reduction sees the chunk's
            /// steps only.
            #vis fn backward_chunk(
                &self,
                state: &mut #state<T>,
                x: &#x_ty,
                target: &#target_ty,
                grad: &mut Self,
            ) -> T {
                use #rt as nn;
                let initial: &#state<T> = &state.clone();
                #chunk_body
            }

            /// One time step for streaming: reads `x`, advances `state` (one field per
            /// recurrent layer) and returns this step's output (for a sequence-to-one network,
            /// the output for the sequence seen so far). Allocates nothing.
            #vis fn step(&self, state: &mut #state<T>, x: &#rt::SVector<T, #input_lit>) -> #step_ty {
                use #rt as nn;
                use nn::Cell as _;
                #step_body
            }

            /// Forward pass over a batch of equal-length sequences: `x[t]` holds step `t` of
            /// every sample, one column each. The products are GEMMs.
            ///
            /// # Panics
            /// If there are no steps, no samples, or steps with different numbers of samples.
            #vis fn forward_batch(&self, x: &#xb_ty) -> #yb_ty {
                self.forward_batch_intermediates(x).#output_field
            }

            /// The mean loss over the samples of a batch (and over the steps, for a
            /// sequence-to-sequence network).
            ///
            /// # Panics
            /// As [`Self::forward_batch`], and if the targets do not match the samples (or the
            /// steps).
            #vis fn loss_batch(&self, x: &#xb_ty, target: &#targetb_ty) -> T {
                use #rt as nn;
                #loss_batch_body
            }

            /// Forward and backpropagation through time over a batch of equal-length
            /// sequences: adds the gradient of the batch's mean loss into `grad` and returns
            /// that mean loss. Every product is a GEMM over the samples.
            ///
            /// # Panics
            /// As [`Self::loss_batch`].
            #vis fn backward_batch(&self, x: &#xb_ty, target: &#targetb_ty, grad: &mut Self) -> T {
                use #rt as nn;
                #backward_batch_body
            }

            #input_gradient_batch_doc
            #vis fn input_gradient_batch(&self, x: &#xb_ty, target: &#targetb_ty) -> #rt::Vec<#rt::Batch<T, #input_lit>> {
                use #rt as nn;
                #input_batch_body
            }
        }
        };
    }
}

/// The rustdoc of `input_gradient` and `input_gradient_batch`.
fn input_gradient_docs(model: &Model<'_>) -> (TokenStream, TokenStream) {
    let seq2seq = ends_on_sequence(model);
    let cost = if needs_scratch_gradient(model) {
        "About the cost of `backward`: the recurrent and causal layers' backward still adds \
         their parameter gradients, into a scratch gradient allocated on the heap per call \
         (`boxed_zeros`); the other layers compute none."
    } else {
        "About the cost of `backward`, no parameter gradient computed."
    };
    let sample = docs(&format!(
        "The gradient of one sequence's loss with respect to each of its steps, `∂L/∂x_t` \
         (saliency over time, adversarial sequences): backpropagation through time run on to \
         the input, from the zero initial state, of exactly the loss `backward` computes{}. \
         Returns one gradient per step. {cost}\n\n# Panics\nIf the sequence is empty{}.",
        if seq2seq {
            " (the mean over the steps, one target per step)"
        } else {
            ""
        },
        if seq2seq {
            ", or the targets are not one per step"
        } else {
            ""
        }
    ));
    let batch = docs(&format!(
        "The gradient of the batch's mean loss (as [`Self::backward_batch`]{}) with respect to \
         each input: column `j` of step `t` is `∂L/∂x_{{t,j}}`, which is sample `j`'s own \
         [`Self::input_gradient`] over the batch size. The products are GEMMs over the \
         samples. {cost}\n\n# Panics\nAs [`Self::loss_batch`].",
        if seq2seq {
            ", over the samples and the steps"
        } else {
            ""
        }
    ));
    (sample, batch)
}

/// After a chunk: each recurrent layer's last state into `state`, the steps counted, and each
/// `mean`'s running sum advanced (as `step` would leave them).
/// ```text
/// state.r1 = steps_r1[x.len() - 1].h;  state.r2 = steps_r2[x.len() - 1].state.clone();
/// ```
fn chunk_tail(model: &Model<'_>) -> TokenStream {
    let mut tail = TokenStream::new();
    for (index, node) in model.nodes.iter().enumerate() {
        let name = &node.layer.name;
        match node.kind {
            NodeKind::Sequence(SequenceOp::Recurrent(cell)) => {
                let steps = binding("steps", node);
                tail.extend(match cell {
                    CellKind::Lstm => quote!(state.#name = #steps[x.len() - 1].state.clone();),
                    _ => quote!(state.#name = #steps[x.len() - 1].h;),
                });
            }
            NodeKind::Sequence(SequenceOp::Causal(_)) => {
                let input = super::forward::value(model, super::forward::node_input(index));
                tail.extend(super::causal::chunk_tail(node, &input));
            }
            NodeKind::Sequence(SequenceOp::Reduce(Reduction::Mean)) => {
                let sum = format_ident!("sum_{}", name);
                let input = super::forward::value(model, super::forward::node_input(index));
                tail.extend(quote! {
                    for x_t in #input.iter() {
                        ::core::ops::AddAssign::add_assign(&mut state.#sum, x_t);
                    }
                });
            }
            _ => {}
        }
    }
    tail.extend(quote!(state.steps += x.len();));
    tail
}

/// What `forward_batch` returns and `loss_batch` compares it with: `Batch<T, OUT>` (sequence
/// to one), or one batch per step (sequence to sequence).
pub(super) fn batch_types(model: &Model<'_>) -> (TokenStream, TokenStream) {
    let (rt, output) = (rt(), lit(model.output_width()));
    if ends_on_sequence(model) {
        (
            quote!(#rt::Vec<#rt::Batch<T, #output>>),
            quote!([#rt::Batch<T, #output>]),
        )
    } else {
        (
            quote!(#rt::Batch<T, #output>),
            quote!(#rt::Batch<T, #output>),
        )
    }
}

/// For `softmax_cross_entropy`, the loss and backward with a class index as the target.
pub(super) fn expand_label_methods(model: &Model<'_>, x_ty: &TokenStream) -> TokenStream {
    if model.loss() != LossKind::SoftmaxCrossEntropy || ends_on_sequence(model) {
        return TokenStream::new();
    }
    let rt = rt();
    let vis = &model.net.vis;
    let classes = lit(model.output_width());
    let panics = docs(&format!(
        "# Panics\nIf a label is not below {}, the number of classes, or the sequence is empty.",
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
    }
}

/// The `SequenceNetwork` impl, forwarding to the inherent methods.
pub(super) fn expand_network_impl(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let name = &model.net.name;
    let state = state_ident(model);
    let (input, output) = (lit(model.input_width()), lit(model.output_width()));
    let (yb_ty, targetb_ty) = batch_types(model);
    let (y_ty, target_ty) = if ends_on_sequence(model) {
        (
            quote!(#rt::Vec<#rt::SVector<T, #output>>),
            quote!([#rt::SVector<T, #output>]),
        )
    } else {
        (
            quote!(#rt::SVector<T, #output>),
            quote!(#rt::SVector<T, #output>),
        )
    };
    let loss_kind = match model.loss() {
        LossKind::Mse => quote!(Mse),
        LossKind::BinaryCrossEntropy => quote!(BinaryCrossEntropy),
        LossKind::SoftmaxCrossEntropy => quote!(SoftmaxCrossEntropy),
    };
    quote! {
        #[automatically_derived]
        impl<T: #rt::Real> #rt::SequenceNetwork<T, #input, #output> for #name<T> {
            const LOSS: #rt::LossKind = #rt::LossKind::#loss_kind;
            type Output = #y_ty;
            type Target = #target_ty;
            type State = #state<T>;
            type BatchOutput = #yb_ty;
            type BatchTarget = #targetb_ty;

            fn forward(&self, x: &[#rt::SVector<T, #input>]) -> #y_ty {
                Self::forward(self, x)
            }

            fn loss(&self, x: &[#rt::SVector<T, #input>], target: &#target_ty) -> T {
                Self::loss(self, x, target)
            }

            fn backward(&self, x: &[#rt::SVector<T, #input>], target: &#target_ty, grad: &mut Self) -> T {
                Self::backward(self, x, target, grad)
            }

            fn step(&self, state: &mut #state<T>, x: &#rt::SVector<T, #input>) -> #rt::SVector<T, #output> {
                Self::step(self, state, x)
            }

            fn forward_batch(&self, x: &[#rt::Batch<T, #input>]) -> #yb_ty {
                Self::forward_batch(self, x)
            }

            fn loss_batch(&self, x: &[#rt::Batch<T, #input>], target: &#targetb_ty) -> T {
                Self::loss_batch(self, x, target)
            }

            fn backward_batch(&self, x: &[#rt::Batch<T, #input>], target: &#targetb_ty, grad: &mut Self) -> T {
                Self::backward_batch(self, x, target, grad)
            }

            fn input_gradient(&self, x: &[#rt::SVector<T, #input>], target: &#target_ty) -> #rt::Vec<#rt::SVector<T, #input>> {
                Self::input_gradient(self, x, target)
            }

            fn input_gradient_batch(&self, x: &[#rt::Batch<T, #input>], target: &#targetb_ty) -> #rt::Vec<#rt::Batch<T, #input>> {
                Self::input_gradient_batch(self, x, target)
            }
        }
    }
}
