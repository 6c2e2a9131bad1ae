//! Backpropagation through time of a sequence network: the loss, then each layer from the last,
//! the gradients of residual branches summed where they rejoin.

use super::forward::{Flow, Record, node_input, value, zero_state};
use super::*;

/// Collects the terms of each node's `dh` (from the node after it and from residuals), so that
/// a node's block opens by summing them.
pub(super) struct Gradients {
    terms: Vec<Vec<Ident>>,
}

impl Gradients {
    pub(super) fn add(&mut self, source: Source, term: Ident) {
        if let Source::Layer(index) = source {
            self.terms[index].push(term);
        }
    }
}

/// Backward of node `index`, given its complete `dh` (already bound): the parameter gradients
/// into `grad`, and the terms it passes to its input and residual source.
pub(super) fn node_backward(
    model: &Model<'_>,
    index: usize,
    flow: Flow,
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
    let passes_back = input_source != Source::Input;
    match node.kind {
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
                code.extend(quote_spanned! {name.span()=>
                    for (xhat_t, dz_t) in #xhat.iter().zip(#dz.iter()) {
                        nn::LayerNorm::accumulate_grad(&mut grad.#name, xhat_t, dz_t);
                    }
                });
                if passes_back {
                    code.extend(quote_spanned! {name.span()=>
                        let #dx: #in_ty = #input.iter().zip(#dz.iter()).map(|(x_t, dz_t)| {
                            nn::standardize_backward(x_t, &self.#name.scale_backward(dz_t), #eps)
                        }).collect();
                    });
                }
            } else {
                code.extend(quote_spanned! {name.span()=>
                    nn::LayerNorm::accumulate_grad(&mut grad.#name, &#xhat, &#dz);
                });
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
    if let Some(residual) = &node.residual {
        let source = value(model, residual.source());
        if residual.project {
            let proj = proj_field(node);
            let dres = binding("dres", node);
            let source_ty = flow.ty(node.output, residual.width());
            let to_input = residual.source() == Source::Input;
            let weight_grad = flow.add_outer(quote!(grad.#proj.weight), quote!(dh_t), quote!(s_t));
            let back = flow.tr_mul(quote!(self.#proj.weight), quote!(dh_t));
            if seq_out {
                code.extend(quote_spanned! {name.span()=>
                    for (dh_t, s_t) in #dh.iter().zip(#source.iter()) {
                        #weight_grad
                    }
                });
                if !to_input {
                    code.extend(quote_spanned! {name.span()=>
                        let #dres: #source_ty = #dh.iter().map(|dh_t| #back).collect();
                    });
                }
            } else {
                code.extend(quote_spanned! {name.span()=>
                    let (dh_t, s_t) = (&#dh, &#source);
                    #weight_grad
                });
                if !to_input {
                    code.extend(quote_spanned! {name.span()=>
                        let #dres: #source_ty = #back;
                    });
                }
            }
            gradients.add(residual.source(), dres);
        } else {
            gradients.add(residual.source(), dh);
        }
    }
    layer_comment(node, code)
}

/// `let dh_r1: Vec<SVector<T, 32>> = nn::add_steps(&dx_r2, &dh_r3);`: a node's `dh` from its
/// terms.
pub(super) fn sum_terms(node: &Node<'_>, terms: &[Ident], flow: Flow) -> TokenStream {
    let dh = binding("dh", node);
    let ty = flow.ty(node.output, node.width());
    let Some((first, rest)) = terms.split_first() else {
        unreachable!("every node but the last feeds a later one")
    };
    if rest.is_empty() {
        return quote!(let #dh: #ty = #first;);
    }
    if is_sequence(node.output) {
        let add = flow.helper("add_steps");
        let mut statements = quote!(let mut #dh: #ty = #first;);
        for term in rest {
            statements.extend(quote!(#dh = nn::#add(&#dh, &#term);));
        }
        statements
    } else {
        quote!(let #dh: #ty = #first #(+ &#rest)*;)
    }
}

/// The backward body: forward record, loss, then each layer from the last.
/// `tail` runs after the chain rule, before `loss` is returned (a chunk's state update).
pub(super) fn expand_backward(
    model: &Model<'_>,
    record: &Record,
    flow: Flow,
    tail: TokenStream,
) -> TokenStream {
    let Some(last) = model.nodes.last() else {
        unreachable!("check proved the network has a layer")
    };
    let (loss, loss_backward) = loss_fn(model.loss());
    let output = output_ident(last);
    let dh_last = binding("dh", last);
    let last_ty = flow.ty(last.output, last.width());
    let width = lit(last.width());
    let loss_code = match (ends_on_sequence(model), flow) {
        (true, Flow::Batch) => quote! {
            nn::check_sequence_targets(x.len(), target.len());
            let steps: T = T::constant(x.len() as f64);
            let loss: T = #output
                .iter()
                .zip(target)
                .fold(T::zero(), |sum, (y, y_target)| sum + nn::#loss(y, y_target))
                / steps;
            let #dh_last: #last_ty = #output
                .iter()
                .zip(target)
                .map(|(y, y_target)| nn::#loss_backward(y, y_target) / steps)
                .collect();
        },
        (true, _) => quote! {
            nn::check_sequence_targets(x.len(), target.len());
            let y: nn::Batch<T, #width> = nn::steps_to_batch(&#output);
            let y_target: nn::Batch<T, #width> = nn::steps_to_batch(target);
            let loss: T = nn::#loss(&y, &y_target);
            let #dh_last: #last_ty = nn::batch_to_steps(&nn::#loss_backward(&y, &y_target));
        },
        (false, _) => quote! {
            let loss: T = nn::#loss(&#output, target);
            let #dh_last: #last_ty = nn::#loss_backward(&#output, target);
        },
    };
    let batch_check = (flow == Flow::Batch && !ends_on_sequence(model))
        .then(|| quote!(nn::check_batch_columns(x[0].ncols(), target.ncols());));
    let mut gradients = Gradients {
        terms: vec![Vec::new(); model.nodes.len()],
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
        layers.extend(node_backward(model, index, flow, &mut gradients));
    }
    let chain = quote! {
        #loss_code
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
        loss
    }
}
