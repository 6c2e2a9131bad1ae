//! Forward code of a sequence network: per sample over a sequence, per batch of equal-length
//! sequences, and one streaming step, each layer a block of typed bindings.

use super::*;

/// Which code is written: per sample over a sequence (`SVector` per step), per batch of
/// equal-length sequences (`Batch`, samples as columns, per step), or one streaming step.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Sample,
    Batch,
    Step,
}

impl Flow {
    /// The type of one step's value of width `width`, its paths under `rt` (`nn` inside a
    /// body that has `use … as nn`).
    pub(super) fn step_ty_in(self, rt: TokenStream, width: usize) -> TokenStream {
        let width = lit(width);
        match self {
            Flow::Batch => quote!(#rt::Batch<T, #width>),
            _ => quote!(#rt::SVector<T, #width>),
        }
    }

    /// The type of a node's value: one step's, or a `Vec` of them for a sequence.
    pub(super) fn ty(self, shape: Option<Shape>, width: usize) -> TokenStream {
        self.ty_in(quote!(nn), shape, width)
    }

    /// [`Flow::ty`] by absolute path (for signatures and the record's fields).
    pub(super) fn signature_ty(self, shape: Option<Shape>, width: usize) -> TokenStream {
        self.ty_in(rt(), shape, width)
    }

    pub(super) fn ty_in(self, rt: TokenStream, shape: Option<Shape>, width: usize) -> TokenStream {
        let step = self.step_ty_in(rt.clone(), width);
        if self != Flow::Step && is_sequence(shape) {
            quote!(#rt::Vec<#step>)
        } else {
            step
        }
    }

    /// The runtime helper for sequences of this flow: `add_steps` or `add_steps_batch`.
    pub(super) fn helper(self, name: &str) -> Ident {
        match self {
            Flow::Batch => format_ident!("{}_batch", name),
            _ => format_ident!("{}", name),
        }
    }

    /// `W x` or `W X`.
    pub(super) fn mul(self, weight: TokenStream, x: TokenStream) -> TokenStream {
        match self {
            Flow::Batch => quote!(nn::matmul(&#weight, #x)),
            _ => quote!(nn::matvec(&#weight, #x)),
        }
    }

    /// `Wᵀ d` or `Wᵀ D`.
    pub(super) fn tr_mul(self, weight: TokenStream, d: TokenStream) -> TokenStream {
        match self {
            Flow::Batch => quote!(nn::tr_matmul(&#weight, #d)),
            _ => quote!(nn::tr_matvec(&#weight, #d)),
        }
    }

    /// `∂W += d xᵀ` (summed over the columns of a batch).
    pub(super) fn add_outer(
        self,
        grad: TokenStream,
        d: TokenStream,
        x: TokenStream,
    ) -> TokenStream {
        match self {
            Flow::Batch => quote!(nn::add_mul_tr(&mut #grad, #d, #x);),
            _ => quote!(nn::add_outer(&mut #grad, #d, #x);),
        }
    }

    /// `∂b += d` (summed over the columns of a batch).
    pub(super) fn add_bias(self, grad: TokenStream, d: TokenStream) -> TokenStream {
        match self {
            Flow::Batch => quote!(nn::add_column_sums(&mut #grad, #d);),
            _ => quote!(#grad += #d;),
        }
    }
}

/// A recurrent node's cell as the trait it is used through:
/// `<Gru<T, 12, 32, 96> as nn::BatchCell<T, 12, 32>>`.
pub(super) fn cell_as(node: &Node<'_>, flow: Flow) -> TokenStream {
    let (cell_ty, input, width) = (layer_type(node), lit(node.in_width()), lit(node.width()));
    match flow {
        Flow::Batch => quote!(<#cell_ty as nn::BatchCell<T, #input, #width>>),
        _ => quote!(<#cell_ty as nn::Cell<T, #input, #width>>),
    }
}

/// One intermediate of the forward pass, a field of the record.
pub(super) struct Binding {
    ident: Ident,
    ty: TokenStream,
}

/// The value a node reads: `x` (the input sequence) or the binding of an earlier node.
pub(super) fn value(model: &Model<'_>, source: Source) -> Ident {
    match source {
        Source::Input => format_ident!("x"),
        Source::Layer(index) => output_ident(&model.nodes[index]),
    }
}

pub(super) fn node_input(index: usize) -> Source {
    crate::expand::forward::layer_input(index)
}

/// `nn::relu(z)` (a reference `z`), or `z.clone()` for identity.
pub(super) fn activate(node: &Node<'_>, z: TokenStream) -> TokenStream {
    match activation_fn(node.layer.activation.kind) {
        (None, _) => quote!(#z.clone()),
        (Some(function), parameter) => {
            let function = format_ident!("{}", function);
            let parameter = parameter.map(|p| quote!(, #p));
            quote!(nn::#function(#z #parameter))
        }
    }
}

/// The zero state of a recurrent node: `SVector::zeros()`, `LstmState::default()`, or for a
/// batch `<Cell as BatchCell>::zero_batch_state(columns)`.
pub(super) fn zero_state(node: &Node<'_>, cell: CellKind, flow: Flow) -> TokenStream {
    match flow {
        Flow::Batch => {
            let cell = cell_as(node, flow);
            quote!(#cell::zero_batch_state(x[0].ncols()))
        }
        _ => cell_zero_state(cell),
    }
}

/// Forward of node `index` in `flow`. Returns the statements and the bindings they make.
pub(super) fn node_forward(
    model: &Model<'_>,
    index: usize,
    flow: Flow,
) -> (TokenStream, Vec<Binding>) {
    let node = &model.nodes[index];
    let name = &node.layer.name;
    let input = value(model, node_input(index));
    let streaming = flow == Flow::Step;
    let per_step = !streaming && is_sequence(node.input);
    let out_seq = !streaming && is_sequence(node.output);
    let ty = flow.ty(node.output, node.width());
    let field_ty = flow.signature_ty(node.output, node.width());
    let z = binding("z", node);
    let mut bindings = Vec::new();
    let input_ref = if !streaming && is_sequence(node.input) && input == "x" {
        quote!(#input)
    } else {
        quote!(&#input)
    };
    // A per-step expression on `x_t`, applied to one value or mapped over the steps.
    let map = |per: TokenStream| -> TokenStream {
        if per_step {
            quote!(#input.iter().map(|x_t| #per).collect())
        } else {
            quote!({ let x_t = #input_ref; #per })
        }
    };
    let mut code = match node.kind {
        NodeKind::Dense { bias } => {
            let per = match (flow, bias) {
                (Flow::Batch, true) => quote!(nn::dense_batch(&self.#name, x_t)),
                (_, true) => {
                    let product = flow.mul(quote!(self.#name.weight), quote!(x_t));
                    quote!(#product + self.#name.bias)
                }
                (_, false) => flow.mul(quote!(self.#name.weight), quote!(x_t)),
            };
            let value = map(per);
            quote_spanned!(name.span()=> let #z: #ty = #value;)
        }
        NodeKind::LayerNorm { eps } => {
            let (xhat, eps_binding) = (binding("xhat", node), binding("eps", node));
            bindings.push(Binding {
                ident: eps_binding.clone(),
                ty: quote!(T),
            });
            bindings.push(Binding {
                ident: xhat.clone(),
                ty: field_ty.clone(),
            });
            let eps = constant(eps);
            let standardized = map(quote!(nn::standardize(x_t, #eps_binding)));
            let scaled = if per_step {
                quote!(#xhat.iter().map(|x| self.#name.scale_shift(x)).collect())
            } else {
                quote!(self.#name.scale_shift(&#xhat))
            };
            quote_spanned! {name.span()=>
                let #eps_binding: T = #eps;
                let #xhat: #ty = #standardized;
                let #z: #ty = #scaled;
            }
        }
        NodeKind::Sequence(SequenceOp::Recurrent(cell)) if streaming => {
            let h = match cell {
                CellKind::Lstm => quote!(state.#name.h),
                _ => quote!(state.#name),
            };
            quote_spanned! {name.span()=>
                self.#name.advance(#input_ref, &mut state.#name);
                let #z: #ty = #h;
            }
        }
        NodeKind::Sequence(SequenceOp::Recurrent(cell)) => {
            let steps = binding("steps", node);
            let rt = rt();
            let (input_width, width) = (lit(node.in_width()), lit(node.width()));
            let cell_ty = layer_type(node);
            let (steps_ty, forward, hidden) = match flow {
                Flow::Batch => {
                    let cell = cell_as(node, flow);
                    (
                        quote!(#cell::BatchStep),
                        quote!(forward_sequence_batch),
                        quote!(hidden_outputs_batch),
                    )
                }
                _ => (
                    cell_step_ty(quote!(nn), cell, node.width()),
                    quote!(forward_sequence),
                    quote!(hidden_outputs),
                ),
            };
            let steps_field_ty = match flow {
                // The record's field types name the runtime by its absolute path.
                Flow::Batch => {
                    quote!(#rt::Vec<<#cell_ty as #rt::BatchCell<T, #input_width, #width>>::BatchStep>)
                }
                _ => {
                    let steps_ty = cell_step_ty(rt.clone(), cell, node.width());
                    quote!(#rt::Vec<#steps_ty>)
                }
            };
            bindings.push(Binding {
                ident: steps.clone(),
                ty: steps_field_ty,
            });
            let start = match flow {
                Flow::Batch => {
                    let zero = zero_state(node, cell, flow);
                    quote!(&#zero)
                }
                _ => quote!(&initial.#name),
            };
            quote_spanned! {name.span()=>
                let mut #steps: nn::Vec<#steps_ty> = nn::Vec::new();
                nn::#forward(&self.#name, #input_ref, #start, &mut #steps);
                let #z: #ty = nn::#hidden::<T, #cell_ty, #input_width, #width>(&#steps);
            }
        }
        NodeKind::Sequence(SequenceOp::Causal(conv)) => {
            super::causal::forward(node, conv, flow, input_ref.clone(), &ty)
        }
        NodeKind::Sequence(SequenceOp::Reduce(reduction)) if streaming => match reduction {
            Reduction::Last => quote_spanned!(name.span()=> let #z: #ty = #input;),
            Reduction::Mean => {
                let sum = format_ident!("sum_{}", name);
                quote_spanned! {name.span()=>
                    ::core::ops::AddAssign::add_assign(&mut state.#sum, &#input);
                    let #z: #ty = state.#sum / T::constant(state.steps as f64);
                }
            }
        },
        NodeKind::Sequence(SequenceOp::Reduce(reduction)) => {
            let function = flow.helper(match reduction {
                Reduction::Last => "last_step",
                Reduction::Mean => "mean_steps",
            });
            quote_spanned!(name.span()=> let #z: #ty = nn::#function(&#input);)
        }
        NodeKind::Dropout { .. } | NodeKind::BatchNorm { .. } => {
            unreachable!("refused in sequence networks by `check_modes_on_sequences`")
        }
        NodeKind::Spatial(_) => unreachable!("a sequence network has no convolution (checked)"),
    };
    bindings.push(Binding {
        ident: z.clone(),
        ty: field_ty.clone(),
    });

    if has_own_output(node) {
        let h = binding("h", node);
        let residual = node.residual.as_ref().map(|residual| {
            let source = value(model, residual.source());
            let source_t = if out_seq {
                quote!(&#source[t])
            } else {
                quote!(&#source)
            };
            if residual.project {
                let proj = proj_field(node);
                let product = flow.mul(quote!(self.#proj.weight), source_t);
                quote!(+ #product)
            } else {
                quote!(+ #source_t)
            }
        });
        let value = if out_seq {
            let activated = activate(node, quote!(z));
            quote!(#z.iter().enumerate().map(|(t, z)| #activated #residual).collect())
        } else {
            let activated = activate(node, quote!(&#z));
            quote!(#activated #residual)
        };
        bindings.push(Binding {
            ident: h.clone(),
            ty: field_ty.clone(),
        });
        code.extend(quote_spanned!(name.span()=> let #h: #ty = #value;));
    }
    (layer_comment(node, code), bindings)
}

/// The record of one forward pass over a sequence (or a batch of them), and the method that
/// fills it.
pub(super) struct Record {
    pub(super) name: Ident,
    pub(super) method: Ident,
    pub(super) definition: TokenStream,
    pub(super) constructor: TokenStream,
    pub(super) fields: Vec<Ident>,
}

pub(super) fn expand_record(model: &Model<'_>, flow: Flow) -> Record {
    let rt = rt();
    let network = &model.net.name;
    let (name, method, what, check) = match flow {
        Flow::Batch => (
            format_ident!("{}ForwardBatch", network),
            format_ident!("forward_batch_intermediates"),
            "a batch of equal-length sequences (one `Batch` per step, samples as columns)",
            quote!(nn::check_sequence_batch(x);),
        ),
        _ => (
            format_ident!("{}Forward", network),
            format_ident!("forward_intermediates"),
            "a sequence",
            quote!(nn::check_sequence(x.len());),
        ),
    };
    let mut statements = TokenStream::new();
    let mut bindings = Vec::new();
    for index in 0..model.nodes.len() {
        let (block, block_bindings) = node_forward(model, index, flow);
        statements.extend(block);
        bindings.extend(block_bindings);
    }
    let fields: Vec<Ident> = bindings.iter().map(|b| b.ident.clone()).collect();
    let field_defs = bindings
        .iter()
        .map(|Binding { ident, ty }| quote!(#ident: #ty,));
    let input = flow.step_ty_in(rt.clone(), model.input_width());
    let struct_doc = docs(&format!(
        "The values of one forward pass of `{}` over {what}, one field per binding: per layer \
         its `z_` and `h_` (one value per step until the reduction), and a recurrent layer's \
         step records `steps_`.",
        shown(network)
    ));
    let method_doc = docs(&format!(
        "The forward pass over {what} with every intermediate kept, written once for the \
         forward, loss and backward methods{}.",
        if flow == Flow::Batch {
            ""
        } else {
            "; the recurrent layers start from `initial` (zeros, or a chunk's carried state)"
        }
    ));
    let state = super::state_ident(model);
    let initial_param = (flow != Flow::Batch).then(|| quote!(, initial: &#state<T>));
    Record {
        definition: quote! {
            #struct_doc
            struct #name<T: #rt::Real> {
                #(#field_defs)*
            }
        },
        constructor: quote! {
            #method_doc
            fn #method(&self, x: &[#input] #initial_param) -> #name<T> {
                use #rt as nn;
                #check
                #statements
                #name { #(#fields),* }
            }
        },
        name,
        method,
        fields,
    }
}

/// The `step` body: every layer on one step's vectors, the state updated in place.
pub(super) fn expand_step_body(model: &Model<'_>) -> TokenStream {
    let mut statements = TokenStream::new();
    for index in 0..model.nodes.len() {
        statements.extend(node_forward(model, index, Flow::Step).0);
    }
    let output = model.nodes.last().map(output_ident);
    let input = lit(model.input_width());
    quote! {
        state.steps += 1;
        let x: nn::SVector<T, #input> = *x;
        #statements
        #output
    }
}
