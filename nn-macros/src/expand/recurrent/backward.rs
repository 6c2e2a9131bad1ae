//! Backpropagation through time of a sequence network: the loss, then each layer from the last,
//! the gradients of residual branches summed where they rejoin. With [`Sink::Grad`] the
//! parameter gradients go into `grad` and the chain stops at the first layer's input
//! (`backward`); with [`Sink::Input`] it runs on to the input sequence, `dx = ∂L/∂x`, and writes
//! no parameter gradient but the cells' and causal convolutions', which their runtime backward
//! adds as it goes, into a scratch `grad` (`input_gradient`).

use super::forward::{Flow, Record, node_input, value, zero_state};
use super::*;
pub(super) use crate::expand::backward::Sink;

/// Collects the terms of each node's `dh` (from the node after it and from residuals), so that
/// a node's block opens by summing them; with [`Sink::Input`], also the terms of `dx`, the
/// gradient at the input sequence (the first layer's and those of residuals reading it).
pub(super) struct Gradients {
    terms: Vec<Vec<Ident>>,
    input: Option<Vec<Ident>>,
}

impl Gradients {
    pub(super) fn add(&mut self, source: Source, term: Ident) {
        match source {
            Source::Layer(index) => self.terms[index].push(term),
            Source::Input => {
                if let Some(input) = &mut self.input {
                    input.push(term);
                }
            }
        }
    }
}

/// Backward of node `index`, given its complete `dh` (already bound): the parameter gradients
/// into `grad` (with [`Sink::Grad`]), and the terms it passes to its input and residual source
/// (the input sequence's too with [`Sink::Input`]).
pub(super) fn node_backward(
    model: &Model<'_>,
    index: usize,
    flow: Flow,
    sink: Sink,
    gradients: &mut Gradients,
) -> TokenStream {
    let node = &model.nodes[index];
    let name = &node.layer.name;
    let input_source = node_input(index);
    let input = value(model, input_source);
    let seq_out = is_sequence(node.output);
    let out_ty = flow.ty(node.output, node.width());
    let in_ty = flow.ty(node.input, node.in_width());
    let (dh, dz, z) = (binding("dh", node), binding("dz", node), binding("z", node));
    let dx = binding("dx", node);
    let mut code = TokenStream::new();

    let dz = match activation_fn(node.layer.activation.kind) {
        (None, _) => dh.clone(),
        (Some(function), parameter) => {
            let function = format_ident!("{}_backward", function);
            let parameter = parameter.map(|p| quote!(, #p));
            let value = if seq_out {
                quote!(#z.iter().zip(&#dh).map(|(z, dh)| nn::#function(z, dh #parameter)).collect())
            } else {
                quote!(nn::#function(&#z, &#dh #parameter))
            };
            code.extend(quote_spanned!(name.span()=> let #dz: #out_ty = #value;));
            dz
        }
    };
    let steps = quote!(x.len());
    // `dx` of the first layer is wanted only by `input_gradient`; the parameter gradients only
    // by `backward` (the cells and causal convolutions write theirs regardless, see
    // `expand_backward`).
    let to_input = sink == Sink::Input;
    let passes_back = input_source != Source::Input || to_input;
    let params = sink == Sink::Grad;
    match node.kind {
        // Only `Wᵀ dz` (`passes_back` holds: the chain runs on to the input).
        NodeKind::Dense { .. } if !params => {
            let value = if seq_out {
                let back = flow.tr_mul(quote!(self.#name.weight), quote!(dz_t));
                quote!(#dz.iter().map(|dz_t| #back).collect())
            } else {
                flow.tr_mul(quote!(self.#name.weight), quote!(&#dz))
            };
            code.extend(quote_spanned!(name.span()=> let #dx: #in_ty = #value;));
        }
        NodeKind::Dense { bias } => {
            let weight_grad = flow.add_outer(quote!(grad.#name.weight), quote!(dz_t), quote!(x_t));
            let bias_grad = bias.then(|| flow.add_bias(quote!(grad.#name.bias), quote!(dz_t)));
            let back = flow.tr_mul(quote!(self.#name.weight), quote!(dz_t));
            if seq_out {
                code.extend(quote_spanned! {name.span()=>
                    for (dz_t, x_t) in #dz.iter().zip(#input.iter()) {
                        #weight_grad
                        #bias_grad
                    }
                });
                if passes_back {
                    code.extend(quote_spanned! {name.span()=>
                        let #dx: #in_ty = #dz.iter().map(|dz_t| #back).collect();
                    });
                }
            } else {
                code.extend(quote_spanned! {name.span()=>
                    let (dz_t, x_t) = (&#dz, &#input);
                    #weight_grad
                    #bias_grad
                });
                if passes_back {
                    code.extend(quote_spanned! {name.span()=>
                        let #dx: #in_ty = #back;
                    });
                }
            }
        }
        NodeKind::LayerNorm { .. } => {
            let (xhat, eps) = (binding("xhat", node), binding("eps", node));
            if seq_out {
                if params {
                    code.extend(quote_spanned! {name.span()=>
                        for (xhat_t, dz_t) in #xhat.iter().zip(#dz.iter()) {
                            nn::LayerNorm::accumulate_grad(&mut grad.#name, xhat_t, dz_t);
                        }
                    });
                }
                if passes_back {
                    code.extend(quote_spanned! {name.span()=>
                        let #dx: #in_ty = #input.iter().zip(#dz.iter()).map(|(x_t, dz_t)| {
                            nn::standardize_backward(x_t, &self.#name.scale_backward(dz_t), #eps)
                        }).collect();
                    });
                }
            } else {
                if params {
                    code.extend(quote_spanned! {name.span()=>
                        nn::LayerNorm::accumulate_grad(&mut grad.#name, &#xhat, &#dz);
                    });
                }
                if passes_back {
                    let dxhat = binding("dxhat", node);
                    code.extend(quote_spanned! {name.span()=>
                        let #dxhat: #out_ty = self.#name.scale_backward(&#dz);
                        let #dx: #in_ty = nn::standardize_backward(&#input, &#dxhat, #eps);
                    });
                }
            }
        }
        NodeKind::Sequence(SequenceOp::Recurrent(cell)) => {
            let steps_binding = binding("steps", node);
            let zero = zero_state(node, cell, flow);
            let input_ref = if input == "x" {
                quote!(x)
            } else {
                quote!(&#input)
            };
            let (zeros, backward) = match flow {
                Flow::Batch => (
                    quote!(nn::zero_steps_batch(#steps, x[0].ncols())),
                    quote!(backward_sequence_batch),
                ),
                _ => (quote!(nn::zero_steps(#steps)), quote!(backward_sequence)),
            };
            // Per sample the pass starts from `initial` (zeros, or a carried state); the
            // gradient reaching it is cut (`d_final` zero at the end, the return ignored).
            let start = match flow {
                Flow::Batch => quote!(&#zero),
                _ => quote!(&initial.#name),
            };
            code.extend(quote_spanned! {name.span()=>
                let mut #dx: #in_ty = #zeros;
                nn::#backward(
                    &self.#name, #input_ref, #start, &#steps_binding, &#dz, #zero, &mut grad.#name, &mut #dx,
                );
            });
        }
        NodeKind::Sequence(SequenceOp::Causal(conv)) => {
            let input_ref = if input == "x" {
                quote!(x)
            } else {
                quote!(&#input)
            };
            let dx = passes_back.then_some((&dx, &in_ty));
            code.extend(super::causal::backward(
                node, conv, flow, input_ref, &dz, dx,
            ));
        }
        NodeKind::Sequence(SequenceOp::Reduce(reduction)) => {
            let function = flow.helper(match reduction {
                Reduction::Last => "last_step_backward",
                Reduction::Mean => "mean_steps_backward",
            });
            if passes_back {
                code.extend(quote_spanned! {name.span()=>
                    let #dx: #in_ty = nn::#function(#steps, &#dz);
                });
            }
        }
        NodeKind::Dropout { .. } | NodeKind::BatchNorm { .. } => {
            unreachable!("refused in sequence networks by `check_modes_on_sequences`")
        }
        NodeKind::Spatial(_) => unreachable!("a sequence network has no convolution (checked)"),
    }
    if passes_back {
        gradients.add(input_source, dx);
    }
    code.extend(residual_backward(model, node, flow, sink, gradients));
    layer_comment(node, code)
}

/// The residual's part of node `node`'s backward: a projection's gradient into `grad` (with
/// [`Sink::Grad`]), and the term passed to the residual's source (`dh` itself, or `Pᵀ dh`
/// through a projection; into the input only with [`Sink::Input`]).
fn residual_backward(
    model: &Model<'_>,
    node: &Node<'_>,
    flow: Flow,
    sink: Sink,
    gradients: &mut Gradients,
) -> TokenStream {
    let Some(residual) = &node.residual else {
        return TokenStream::new();
    };
    let (name, dh) = (&node.layer.name, binding("dh", node));
    let (seq_out, params) = (is_sequence(node.output), sink == Sink::Grad);
    let mut code = TokenStream::new();
    let source = value(model, residual.source());
    if residual.project {
        let proj = proj_field(node);
        let dres = binding("dres", node);
        let source_ty = flow.ty(node.output, residual.width());
        // `backward` drops the projection's `dres` into the input; `input_gradient` keeps it.
        let passes_back = residual.source() != Source::Input || sink == Sink::Input;
        let weight_grad = flow.add_outer(quote!(grad.#proj.weight), quote!(dh_t), quote!(s_t));
        let back = flow.tr_mul(quote!(self.#proj.weight), quote!(dh_t));
        if seq_out {
            if params {
                code.extend(quote_spanned! {name.span()=>
                    for (dh_t, s_t) in #dh.iter().zip(#source.iter()) {
                        #weight_grad
                    }
                });
            }
            if passes_back {
                code.extend(quote_spanned! {name.span()=>
                    let #dres: #source_ty = #dh.iter().map(|dh_t| #back).collect();
                });
            }
        } else {
            if params {
                code.extend(quote_spanned! {name.span()=>
                    let (dh_t, s_t) = (&#dh, &#source);
                    #weight_grad
                });
            }
            if passes_back {
                let dh_t = if params { quote!(dh_t) } else { quote!(&#dh) };
                let back = flow.tr_mul(quote!(self.#proj.weight), dh_t);
                code.extend(quote_spanned! {name.span()=>
                    let #dres: #source_ty = #back;
                });
            }
        }
        gradients.add(residual.source(), dres);
    } else {
        gradients.add(residual.source(), dh);
    }
    code
}

/// `let dh_r1: Vec<SVector<T, 32>> = nn::add_steps(&dx_r2, &dh_r3);`: a node's `dh` from its
/// terms.
pub(super) fn sum_terms(node: &Node<'_>, terms: &[Ident], flow: Flow) -> TokenStream {
    let dh = binding("dh", node);
    let ty = flow.ty(node.output, node.width());
    sum_into(&dh, &ty, is_sequence(node.output), terms, flow)
}

/// `let #sum: #ty = #first + …;` (`add_steps` over sequences).
fn sum_into(
    sum: &Ident,
    ty: &TokenStream,
    sequence: bool,
    terms: &[Ident],
    flow: Flow,
) -> TokenStream {
    let Some((first, rest)) = terms.split_first() else {
        unreachable!("every node but the last feeds a later one, the first layer the input")
    };
    if rest.is_empty() {
        return quote!(let #sum: #ty = #first;);
    }
    if sequence {
        let add = flow.helper("add_steps");
        let mut statements = quote!(let mut #sum: #ty = #first;);
        for term in rest {
            statements.extend(quote!(#sum = nn::#add(&#sum, &#term);));
        }
        statements
    } else {
        quote!(let #sum: #ty = #first #(+ &#rest)*;)
    }
}

/// Whether `input_gradient` needs a scratch gradient: whether the network has a recurrent layer
/// or a causal convolution, whose runtime backward adds its parameter gradient into
/// `&mut grad.<layer>` as it goes.
pub(super) fn needs_scratch_gradient(model: &Model<'_>) -> bool {
    model.nodes.iter().any(|node| {
        matches!(
            node.kind,
            NodeKind::Sequence(SequenceOp::Recurrent(_) | SequenceOp::Causal(_))
        )
    })
}

/// The backward body: forward record, loss, then each layer from the last.
/// `tail` runs after the chain rule, before `loss` is returned (a chunk's state update).
///
/// With [`Sink::Input`] (`input_gradient`, `input_gradient_batch`) the same chain runs on to
/// the input and the body returns `dx: Vec<SVector<T, F>>` (or one `Batch` per step): the
/// first layer's `dx` and the `dres`/`dh` of residuals reading the input, summed. No dense,
/// layer-norm or projection gradient is written, and the loss itself is not computed; the
/// cells' `backward_sequence` and the causal convolutions' `backward` add theirs into `&mut
/// grad.<layer>` as they go, so those land in a scratch `grad` on the heap (`boxed_zeros`),
/// made only when the network has such a layer:
/// ```text
/// let mut grad: nn::Box<Self> = <Self as nn::Parameters<T>>::boxed_zeros();
/// …
/// // r1: gru(4) + project(input)
/// let mut dx_r1: Vec<SVector<T, 2>> = nn::zero_steps(x.len());
/// nn::backward_sequence(&self.r1, x, &initial.r1, &steps_r1, &dz_r1, SVector::zeros(), &mut grad.r1, &mut dx_r1);
/// let dres_r1: Vec<SVector<T, 2>> = dh_r1.iter().map(|dh_t| nn::tr_matvec(&self.r1_proj.weight, dh_t)).collect();
/// let mut dx: Vec<SVector<T, 2>> = dx_r1;
/// dx = nn::add_steps(&dx, &dres_r1);
/// dx
/// ```
pub(super) fn expand_backward(
    model: &Model<'_>,
    record: &Record,
    flow: Flow,
    sink: Sink,
    tail: TokenStream,
) -> TokenStream {
    let Some(last) = model.nodes.last() else {
        unreachable!("check proved the network has a layer")
    };
    let to_input = sink == Sink::Input;
    let (loss, loss_backward) = loss_fn(model.loss());
    let output = output_ident(last);
    let dh_last = binding("dh", last);
    let last_ty = flow.ty(last.output, last.width());
    let width = lit(last.width());
    // `input_gradient` needs the loss's gradient only.
    let keep_loss = |statement: TokenStream| (!to_input).then_some(statement);
    let loss_code = match (ends_on_sequence(model), flow) {
        (true, Flow::Batch) => {
            let loss_value = keep_loss(quote! {
                let loss: T = #output
                    .iter()
                    .zip(target)
                    .fold(T::zero(), |sum, (y, y_target)| sum + nn::#loss(y, y_target))
                    / steps;
            });
            quote! {
                nn::check_sequence_targets(x.len(), target.len());
                let steps: T = T::constant(x.len() as f64);
                #loss_value
                let #dh_last: #last_ty = #output
                    .iter()
                    .zip(target)
                    .map(|(y, y_target)| nn::#loss_backward(y, y_target) / steps)
                    .collect();
            }
        }
        (true, _) => {
            let loss_value = keep_loss(quote!(let loss: T = nn::#loss(&y, &y_target);));
            quote! {
                nn::check_sequence_targets(x.len(), target.len());
                let y: nn::Batch<T, #width> = nn::steps_to_batch(&#output);
                let y_target: nn::Batch<T, #width> = nn::steps_to_batch(target);
                #loss_value
                let #dh_last: #last_ty = nn::batch_to_steps(&nn::#loss_backward(&y, &y_target));
            }
        }
        (false, _) => {
            let loss_value = keep_loss(quote!(let loss: T = nn::#loss(&#output, target);));
            quote! {
                #loss_value
                let #dh_last: #last_ty = nn::#loss_backward(&#output, target);
            }
        }
    };
    let batch_check = (flow == Flow::Batch && !ends_on_sequence(model))
        .then(|| quote!(nn::check_batch_columns(x[0].ncols(), target.ncols());));
    let mut gradients = Gradients {
        terms: vec![Vec::new(); model.nodes.len()],
        input: to_input.then(Vec::new),
    };
    let mut layers = TokenStream::new();
    for index in (0..model.nodes.len()).rev() {
        if index + 1 < model.nodes.len() {
            layers.extend(sum_terms(
                &model.nodes[index],
                &gradients.terms[index],
                flow,
            ));
        }
        layers.extend(node_backward(model, index, flow, sink, &mut gradients));
    }
    let (scratch, result) = match gradients.input {
        Some(terms) => {
            let dx = format_ident!("dx");
            let ty = flow.ty(
                Some(Shape::Sequence(model.input_width())),
                model.input_width(),
            );
            let sum = sum_into(&dx, &ty, true, &terms, flow);
            let scratch = needs_scratch_gradient(model).then(|| {
                quote!(let mut grad: nn::Box<Self> = <Self as nn::Parameters<T>>::boxed_zeros();)
            });
            (scratch, quote!(#sum #dx))
        }
        None => (None, quote!(loss)),
    };
    let chain = quote! {
        #loss_code
        #scratch
        #layers
    };
    let read = crate::expand::backward::named_in(&quote!(#chain #tail), &record.fields);
    let rest = (read.len() < record.fields.len()).then(|| quote!(..));
    let (name, method) = (&record.name, &record.method);
    let initial = (flow != Flow::Batch).then(|| quote!(, initial));
    quote! {
        let #name { #(#read,)* #rest } = self.#method(x #initial);
        #batch_check
        #chain
        #tail
        #result
    }
}
