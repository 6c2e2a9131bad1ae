//! Expansion of a sequence network (`input: seq(F)`): the struct, its streaming state, the
//! forward pass over a whole sequence with every intermediate kept, backpropagation through
//! time into a gradient of the network's type, and `step`, one time step for streaming.
//!
//! A value between layers is a vector (`SVector<T, W>`) or a sequence of them
//! (`Vec<SVector<T, W>>`, one per step), as the node's [`Shape`] says. Dense and layer-norm
//! layers on a sequence apply per step; a recurrent layer runs its cell
//! (`nn_runtime::recurrent`) over the steps; `last` and `mean` reduce a sequence to a vector.
//! Every binding is typed with its static width, so a wrong shape in the chain rule stops the
//! build at its line.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use super::forward::activation_fn;
use super::{binding, constant, docs, docs_only, has_own_output, layer_comment, link, lit, rt};
use super::{loss_fn, output_ident, params, proj_field};
use crate::model::{Model, Node, NodeKind, SequenceOp, Shape, Source};
use crate::syntax::{CellKind, LossKind, Reduction, shown};

/// The whole expansion of a checked sequence network.
pub fn expand(model: &Model<'_>) -> TokenStream {
    let definition = expand_struct(model);
    let state = expand_state(model);
    let cfgs = super::cfgs(&model.net.attrs);
    let items = [
        expand_methods(model),
        params::expand_parameters(model),
        expand_zeroable(model),
        expand_network_impl(model),
        super::embedded::expand_embedded(model),
    ];
    quote! {
        #definition
        #cfgs
        #state
        #(#cfgs #items)*
    }
}

/// The field of a sequence node in `__embedded`:
/// `r1: Gru::embedded(&source, ["r1.weight_ih_l0", ..])`; nothing for a reduction.
pub fn embedded_field(node: &Node<'_>) -> TokenStream {
    let NodeKind::Sequence(SequenceOp::Recurrent(cell)) = node.kind else {
        return TokenStream::new();
    };
    let field = &node.layer.name;
    let layer = shown(field);
    // The cell's own four tensors (a projected residual's is a field of its own).
    let names = SequenceOp::Recurrent(cell)
        .tensors(node.in_width(), node.width())
        .into_iter()
        .map(|tensor| format!("{layer}.{}", tensor.suffix));
    // Spelled out at the layer's name, as the other layers' (see `expand_embedded`).
    let ty = match cell {
        CellKind::Rnn { .. } => quote_spanned!(field.span()=> ::nn_runtime::__private::Rnn),
        CellKind::Gru => quote_spanned!(field.span()=> ::nn_runtime::__private::Gru),
        CellKind::Lstm => quote_spanned!(field.span()=> ::nn_runtime::__private::Lstm),
    };
    quote_spanned! {field.span()=>
        #field: #ty::embedded(&source, [#(#names),*]),
    }
}

/// `LayerKind::Recurrent { cell: CellKind::Gru }` or `LayerKind::Reduce { .. }`, for `LAYERS`.
pub fn layer_kind(op: SequenceOp) -> TokenStream {
    let rt = rt();
    match op {
        SequenceOp::Recurrent(cell) => {
            let cell = match cell {
                CellKind::Rnn { relu } => quote!(Rnn { relu: #relu }),
                CellKind::Gru => quote!(Gru),
                CellKind::Lstm => quote!(Lstm),
            };
            quote!(Recurrent { cell: #rt::CellKind::#cell })
        }
        SequenceOp::Reduce(reduction) => {
            let reduction = match reduction {
                Reduction::Last => quote!(Last),
                Reduction::Mean => quote!(Mean),
            };
            quote!(Reduce { reduction: #rt::Reduction::#reduction })
        }
    }
}

fn is_sequence(shape: Option<Shape>) -> bool {
    matches!(shape, Some(Shape::Sequence(_)))
}

/// Whether the network ends on a sequence (sequence-to-sequence).
fn ends_on_sequence(model: &Model<'_>) -> bool {
    model.nodes.last().is_some_and(|n| is_sequence(n.output))
}

/// `Vec<SVector<T, W>>` or `SVector<T, W>` (absolute paths).
fn value_ty(shape: Option<Shape>, width: usize) -> TokenStream {
    let (rt, width) = (rt(), lit(width));
    if is_sequence(shape) {
        quote!(#rt::Vec<#rt::SVector<T, #width>>)
    } else {
        quote!(#rt::SVector<T, #width>)
    }
}

/// The parameter block of a node with parameters: `Gru<T, 12, 32, 96>`, `Dense<T, 32, 9>`.
fn layer_type(node: &Node<'_>) -> Option<TokenStream> {
    let (rt, input, width) = (rt(), lit(node.in_width()), lit(node.width()));
    Some(match node.kind {
        NodeKind::Dense { bias: true } => quote!(#rt::Dense<T, #input, #width>),
        NodeKind::Dense { bias: false } => quote!(#rt::Linear<T, #input, #width>),
        NodeKind::LayerNorm { .. } => quote!(#rt::LayerNorm<T, #width>),
        NodeKind::Sequence(SequenceOp::Recurrent(cell)) => {
            let rows = lit(cell.gates() * node.width());
            match cell {
                CellKind::Rnn { relu: false } => quote!(#rt::Rnn<T, #input, #width, #rt::Tanh>),
                CellKind::Rnn { relu: true } => quote!(#rt::Rnn<T, #input, #width, #rt::Relu>),
                CellKind::Gru => quote!(#rt::Gru<T, #input, #width, #rows>),
                CellKind::Lstm => quote!(#rt::Lstm<T, #input, #width, #rows>),
            }
        }
        NodeKind::Sequence(SequenceOp::Reduce(_)) => return None,
    })
}

/// Every field of the struct with its type and doc: one per layer with parameters, one per
/// projection.
fn field_types(model: &Model<'_>) -> Vec<(Ident, TokenStream, String)> {
    let mut fields = Vec::new();
    for node in &model.nodes {
        let name = shown(&node.layer.name);
        if let Some(ty) = layer_type(node) {
            let tensors: Vec<String> = node
                .tensors()
                .unwrap_or_default()
                .iter()
                .map(|t| {
                    let shape: Vec<String> = t.shape.iter().map(usize::to_string).collect();
                    format!("`{name}.{}` `[{}]`", t.suffix, shape.join(", "))
                })
                .collect();
            let doc = format!(
                "Layer `{name}`: `{}`; {}.",
                node.layer.declared(),
                tensors.join(", ")
            );
            fields.push((node.layer.name.clone(), ty, doc));
        }
        if let Some(residual) = node.residual.as_ref().filter(|r| r.project) {
            let (rt, source, width) = (rt(), lit(residual.width()), lit(node.width()));
            let doc = format!(
                "Projection of `{name}`'s residual (`{name}.proj.weight`): `[{}, {}]` = \
                 `[out, source width]`.",
                node.width(),
                residual.width()
            );
            fields.push((
                proj_field(node),
                quote!(#rt::Linear<T, #source, #width>),
                doc,
            ));
        }
    }
    fields
}

/// ```text
/// pub struct Speaker<T: Real = f32> { pub r1: Gru<T, 12, 32, 96>, pub out: Dense<T, 32, 9> }
/// ```
fn expand_struct(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let net = model.net;
    let (attrs, vis, name) = (&net.attrs, &net.vis, &net.name);
    let state = state_ident(model);
    let fields = field_types(model).into_iter().map(|(field, ty, doc)| {
        let doc = docs(&doc);
        let user_docs = model
            .nodes
            .iter()
            .find(|n| n.layer.name == field)
            .map(|n| docs_only(&n.layer.attrs))
            .unwrap_or_default();
        quote_spanned! {field.span()=>
            #(#user_docs)*
            #doc
            #vis #field: #ty,
        }
    });
    let doc = docs(&format!(
        "Generated by `network!`: `{}`. A sequence network: `forward`, `loss` and `backward` \
         take a whole sequence (`&[SVector<T, {}>]`, one vector per step); `step` runs one \
         step on a `{}`. The scalar `T` is `f32` or `f64`.",
        super::architecture(model),
        model.input_width(),
        shown(&state)
    ));
    quote! {
        #(#attrs)*
        #[doc = ""]
        #doc
        #vis struct #name<T: #rt::Real = ::core::primitive::f32> {
            #(#fields)*
        }
    }
}

fn expand_zeroable(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let name = &model.net.name;
    let fields = field_types(model)
        .into_iter()
        .map(|(field, ty, _)| quote!(#field: #ty));
    quote! {
        #rt::impl_zeroable! { #name { #(#fields),* } }
    }
}

/// `<Network>State`.
fn state_ident(model: &Model<'_>) -> Ident {
    format_ident!("{}State", model.net.name)
}

/// The recurrent state of a node: `SVector<T, H>` (rnn, gru) or `LstmState<T, H>`.
fn cell_state_ty(cell: CellKind, width: usize) -> TokenStream {
    let (rt, width) = (rt(), lit(width));
    match cell {
        CellKind::Lstm => quote!(#rt::LstmState<T, #width>),
        _ => quote!(#rt::SVector<T, #width>),
    }
}

/// `LstmState::default()` or `SVector::zeros()`: the state before the first step.
fn cell_zero_state(cell: CellKind) -> TokenStream {
    match cell {
        CellKind::Lstm => quote!(nn::LstmState::default()),
        _ => quote!(nn::SVector::zeros()),
    }
}

/// The step record of a cell: `GruStep<T, H>`.
fn cell_step_ty(cell: CellKind, width: usize) -> TokenStream {
    let (rt, width) = (rt(), lit(width));
    match cell {
        CellKind::Rnn { .. } => quote!(#rt::RnnStep<T, #width>),
        CellKind::Gru => quote!(#rt::GruStep<T, #width>),
        CellKind::Lstm => quote!(#rt::LstmStep<T, #width>),
    }
}

/// The streaming state: one field per recurrent layer, one running sum per `mean`, and the
/// number of steps seen.
/// ```text
/// pub struct SpeakerState<T: Real = f32> { pub r1: SVector<T, 32>, pub r2: LstmState<T, 32>, pub steps: usize }
/// ```
fn state_fields(model: &Model<'_>) -> Vec<(Ident, TokenStream, TokenStream, String)> {
    let rt = rt();
    let mut fields = Vec::new();
    for node in &model.nodes {
        let name = shown(&node.layer.name);
        match node.kind {
            NodeKind::Sequence(SequenceOp::Recurrent(cell)) => fields.push((
                node.layer.name.clone(),
                cell_state_ty(cell, node.width()),
                match cell {
                    CellKind::Lstm => quote!(#rt::LstmState::default()),
                    _ => quote!(#rt::SVector::zeros()),
                },
                format!(
                    "The state of `{name}` ({}).",
                    match cell {
                        CellKind::Lstm => "`h` and `c`",
                        _ => "`h`",
                    }
                ),
            )),
            NodeKind::Sequence(SequenceOp::Reduce(Reduction::Mean)) => fields.push((
                format_ident!("sum_{}", node.layer.name),
                value_ty(Some(Shape::Vector(0)), node.width()),
                quote!(#rt::SVector::zeros()),
                format!("The sum over the steps seen of `{name}`'s input (its `mean` divides it)."),
            )),
            _ => {}
        }
    }
    fields.push((
        format_ident!("steps"),
        quote!(::core::primitive::usize),
        quote!(0),
        "The number of steps seen since the last reset.".to_owned(),
    ));
    fields
}

fn expand_state(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let (vis, name) = (&model.net.vis, &model.net.name);
    let state = state_ident(model);
    let fields = state_fields(model);
    let definitions = fields.iter().map(|(field, ty, _, doc)| {
        let doc = docs(doc);
        quote!(#doc #vis #field: #ty,)
    });
    let zeros = fields
        .iter()
        .map(|(field, _, zero, _)| quote!(#field: #zero,));
    let doc = docs(&format!(
        "The streaming state of `{}`, carried from one `step` to the next: one field per \
         recurrent layer, sizes static. `Default` (and `reset`) give the state before the first \
         step, all zeros as PyTorch's default `h_0`. One network serves any number of states.",
        shown(name)
    ));
    quote! {
        #doc
        #[derive(::core::clone::Clone, ::core::fmt::Debug, ::core::cmp::PartialEq)]
        #vis struct #state<T: #rt::Real = ::core::primitive::f32> {
            #(#definitions)*
        }

        const _: () = {
            #[automatically_derived]
            impl<T: #rt::Real> ::core::default::Default for #state<T> {
                fn default() -> Self {
                    Self { #(#zeros)* }
                }
            }

            impl<T: #rt::Real> #state<T> {
                /// Back to the state before the first step (all zeros).
                #vis fn reset(&mut self) {
                    *self = ::core::default::Default::default();
                }
            }
        };
    }
}

/// One intermediate of the forward pass, a field of the record.
struct Binding {
    ident: Ident,
    ty: TokenStream,
}

/// The value a node reads: `x` (the input sequence) or the binding of an earlier node.
fn value(model: &Model<'_>, source: Source) -> Ident {
    match source {
        Source::Input => format_ident!("x"),
        Source::Layer(index) => output_ident(&model.nodes[index]),
    }
}

fn node_input(index: usize) -> Source {
    super::forward::layer_input(index)
}

/// `nn::relu(z)` (a reference `z`), or `*z` for identity.
fn activate(node: &Node<'_>, z: TokenStream) -> TokenStream {
    match activation_fn(node.layer.activation.kind) {
        (None, _) => quote!(*#z),
        (Some(function), parameter) => {
            let function = format_ident!("{}", function);
            let parameter = parameter.map(|p| quote!(, #p));
            quote!(nn::#function(#z #parameter))
        }
    }
}

/// Forward of node `index`. `streaming`: the code of `step`, every value one step's vector;
/// else over the whole sequence. Returns the statements and the bindings they make.
fn node_forward(model: &Model<'_>, index: usize, streaming: bool) -> (TokenStream, Vec<Binding>) {
    let node = &model.nodes[index];
    let name = &node.layer.name;
    let input = value(model, node_input(index));
    let per_step = !streaming && is_sequence(node.input);
    let out_seq = !streaming && is_sequence(node.output);
    let ty = value_ty(if out_seq { node.output } else { None }, node.width());
    let z = binding("z", node);
    let mut bindings = Vec::new();
    let input_ref = if streaming || !is_sequence(node.input) || input != "x" {
        quote!(&#input)
    } else {
        quote!(#input)
    };
    // A per-step expression on `x_t`, applied to one vector or mapped over the steps.
    let map = |per: TokenStream| -> TokenStream {
        if per_step {
            quote!(#input.iter().map(|x_t| #per).collect())
        } else {
            let per = quote!({ let x_t = #input_ref; #per });
            per
        }
    };
    let mut code = match node.kind {
        NodeKind::Dense { bias } => {
            let bias = bias.then(|| quote!(+ self.#name.bias));
            let value = map(quote!(nn::matvec(&self.#name.weight, x_t) #bias));
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
                ty: ty.clone(),
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
            let steps_ty = cell_step_ty(cell, node.width());
            let rt = rt();
            bindings.push(Binding {
                ident: steps.clone(),
                ty: quote!(#rt::Vec<#steps_ty>),
            });
            let zero = cell_zero_state(cell);
            let (cell_ty, input_width, width) =
                (layer_type(node), lit(node.in_width()), lit(node.width()));
            quote_spanned! {name.span()=>
                let mut #steps: nn::Vec<#steps_ty> = nn::Vec::new();
                nn::forward_sequence(&self.#name, #input_ref, &#zero, &mut #steps);
                let #z: #ty = nn::hidden_outputs::<T, #cell_ty, #input_width, #width>(&#steps);
            }
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
            let function = match reduction {
                Reduction::Last => quote!(last_step),
                Reduction::Mean => quote!(mean_steps),
            };
            quote_spanned!(name.span()=> let #z: #ty = nn::#function(&#input);)
        }
    };
    bindings.push(Binding {
        ident: z.clone(),
        ty: ty.clone(),
    });

    if has_own_output(node) {
        let h = binding("h", node);
        let residual = node.residual.as_ref().map(|residual| {
            let source = value(model, residual.source());
            let source_t = if out_seq {
                quote!(#source[t])
            } else {
                quote!(#source)
            };
            if residual.project {
                let proj = proj_field(node);
                quote!(+ nn::matvec(&self.#proj.weight, &#source_t))
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
            ty: ty.clone(),
        });
        code.extend(quote_spanned!(name.span()=> let #h: #ty = #value;));
    }
    (layer_comment(node, code), bindings)
}

/// The record of one forward pass over a sequence, and the method that fills it.
struct Record {
    name: Ident,
    definition: TokenStream,
    constructor: TokenStream,
    fields: Vec<Ident>,
}

fn expand_record(model: &Model<'_>) -> Record {
    let rt = rt();
    let network = &model.net.name;
    let name = format_ident!("{}Forward", network);
    let mut statements = TokenStream::new();
    let mut bindings = Vec::new();
    for index in 0..model.nodes.len() {
        let (block, block_bindings) = node_forward(model, index, false);
        statements.extend(block);
        bindings.extend(block_bindings);
    }
    let fields: Vec<Ident> = bindings.iter().map(|b| b.ident.clone()).collect();
    let field_defs = bindings
        .iter()
        .map(|Binding { ident, ty }| quote!(#ident: #ty,));
    let input = lit(model.input_width());
    let struct_doc = docs(&format!(
        "The values of one forward pass of `{}` over a sequence, one field per binding: per \
         layer its `z_` and `h_` (one vector per step until the reduction), and a recurrent \
         layer's step records `steps_`.",
        shown(network)
    ));
    Record {
        definition: quote! {
            #struct_doc
            struct #name<T: #rt::Real> {
                #(#field_defs)*
            }
        },
        constructor: quote! {
            /// The forward pass over a sequence with every intermediate kept, written once for
            /// `forward` and `backward`.
            fn forward_intermediates(&self, x: &[#rt::SVector<T, #input>]) -> #name<T> {
                use #rt as nn;
                nn::check_sequence(x.len());
                #statements
                #name { #(#fields),* }
            }
        },
        name,
        fields,
    }
}

/// The `step` body: every layer on one step's vectors, the state updated in place.
fn expand_step_body(model: &Model<'_>) -> TokenStream {
    let mut statements = TokenStream::new();
    for index in 0..model.nodes.len() {
        statements.extend(node_forward(model, index, true).0);
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

/// Collects the terms of each node's `dh` (from the node after it and from residuals), so that
/// a node's block opens by summing them.
struct Gradients {
    terms: Vec<Vec<Ident>>,
}

impl Gradients {
    fn add(&mut self, source: Source, term: Ident) {
        if let Source::Layer(index) = source {
            self.terms[index].push(term);
        }
    }
}

/// Backward of node `index`, given its complete `dh` (already bound): the parameter gradients
/// into `grad`, and the terms it passes to its input and residual source.
fn node_backward(model: &Model<'_>, index: usize, gradients: &mut Gradients) -> TokenStream {
    let node = &model.nodes[index];
    let name = &node.layer.name;
    let input_source = node_input(index);
    let input = value(model, input_source);
    let seq_out = is_sequence(node.output);
    let out_ty = value_ty(node.output, node.width());
    let in_ty = value_ty(node.input, node.in_width());
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
            let bias = bias.then(|| quote!(grad.#name.bias += dz_t;));
            if seq_out {
                code.extend(quote_spanned! {name.span()=>
                    for (dz_t, x_t) in #dz.iter().zip(#input.iter()) {
                        nn::add_outer(&mut grad.#name.weight, dz_t, x_t);
                        #bias
                    }
                });
                if passes_back {
                    code.extend(quote_spanned! {name.span()=>
                        let #dx: #in_ty = #dz.iter().map(|dz_t| nn::tr_matvec(&self.#name.weight, dz_t)).collect();
                    });
                }
            } else {
                code.extend(quote_spanned! {name.span()=>
                    let dz_t = &#dz;
                    nn::add_outer(&mut grad.#name.weight, dz_t, &#input);
                    #bias
                });
                if passes_back {
                    code.extend(quote_spanned! {name.span()=>
                        let #dx: #in_ty = nn::tr_matvec(&self.#name.weight, &#dz);
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
            let zero = cell_zero_state(cell);
            let input_ref = if input == "x" {
                quote!(x)
            } else {
                quote!(&#input)
            };
            code.extend(quote_spanned! {name.span()=>
                let mut #dx: #in_ty = nn::zero_steps(#steps);
                nn::backward_sequence(
                    &self.#name, #input_ref, &#zero, &#steps_binding, &#dz, #zero, &mut grad.#name, &mut #dx,
                );
            });
        }
        NodeKind::Sequence(SequenceOp::Reduce(reduction)) => {
            let function = match reduction {
                Reduction::Last => quote!(last_step_backward),
                Reduction::Mean => quote!(mean_steps_backward),
            };
            if passes_back {
                code.extend(quote_spanned! {name.span()=>
                    let #dx: #in_ty = nn::#function(#steps, &#dz);
                });
            }
        }
    }
    if passes_back {
        gradients.add(input_source, dx);
    }
    if let Some(residual) = &node.residual {
        let source = value(model, residual.source());
        if residual.project {
            let proj = proj_field(node);
            let dres = binding("dres", node);
            let source_ty = value_ty(node.output, residual.width());
            let to_input = residual.source() == Source::Input;
            if seq_out {
                code.extend(quote_spanned! {name.span()=>
                    for (dh_t, s_t) in #dh.iter().zip(#source.iter()) {
                        nn::add_outer(&mut grad.#proj.weight, dh_t, s_t);
                    }
                });
                if !to_input {
                    code.extend(quote_spanned! {name.span()=>
                        let #dres: #source_ty = #dh.iter().map(|dh_t| nn::tr_matvec(&self.#proj.weight, dh_t)).collect();
                    });
                }
            } else {
                code.extend(quote_spanned! {name.span()=>
                    nn::add_outer(&mut grad.#proj.weight, &#dh, &#source);
                });
                if !to_input {
                    code.extend(quote_spanned! {name.span()=>
                        let #dres: #source_ty = nn::tr_matvec(&self.#proj.weight, &#dh);
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
fn sum_terms(node: &Node<'_>, terms: &[Ident]) -> TokenStream {
    let dh = binding("dh", node);
    let ty = value_ty(node.output, node.width());
    let Some((first, rest)) = terms.split_first() else {
        unreachable!("every node but the last feeds a later one")
    };
    if rest.is_empty() {
        return quote!(let #dh: #ty = #first;);
    }
    if is_sequence(node.output) {
        let mut statements = quote!(let mut #dh: #ty = #first;);
        for term in rest {
            statements.extend(quote!(#dh = nn::add_steps(&#dh, &#term);));
        }
        statements
    } else {
        quote!(let #dh: #ty = #first #(+ #rest)*;)
    }
}

/// The backward body: forward record, loss, then each layer from the last.
fn expand_backward(model: &Model<'_>, record: &Record) -> TokenStream {
    let Some(last) = model.nodes.last() else {
        unreachable!("check proved the network has a layer")
    };
    let (loss, loss_backward) = loss_fn(model.loss());
    let output = output_ident(last);
    let dh_last = binding("dh", last);
    let last_ty = value_ty(last.output, last.width());
    let width = lit(last.width());
    let loss_code = if ends_on_sequence(model) {
        quote! {
            nn::check_sequence_targets(x.len(), target.len());
            let y: nn::Batch<T, #width> = nn::steps_to_batch(&#output);
            let y_target: nn::Batch<T, #width> = nn::steps_to_batch(target);
            let loss: T = nn::#loss(&y, &y_target);
            let #dh_last: #last_ty = nn::batch_to_steps(&nn::#loss_backward(&y, &y_target));
        }
    } else {
        quote! {
            let loss: T = nn::#loss(&#output, target);
            let #dh_last: #last_ty = nn::#loss_backward(&#output, target);
        }
    };
    let mut gradients = Gradients {
        terms: vec![Vec::new(); model.nodes.len()],
    };
    let mut layers = TokenStream::new();
    for index in (0..model.nodes.len()).rev() {
        if index + 1 < model.nodes.len() {
            layers.extend(sum_terms(&model.nodes[index], &gradients.terms[index]));
        }
        layers.extend(node_backward(model, index, &mut gradients));
    }
    let chain = quote! {
        #loss_code
        #layers
    };
    let read = super::backward::named_in(&chain, &record.fields);
    let rest = (read.len() < record.fields.len()).then(|| quote!(..));
    let name = &record.name;
    quote! {
        let #name { #(#read,)* #rest } = self.forward_intermediates(x);
        #chain
        loss
    }
}

fn expand_methods(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let (name, vis) = (&model.net.name, &model.net.vis);
    let (input, output) = (model.input_width(), model.output_width());
    let (input_lit, output_lit) = (lit(input), lit(output));
    let param_count = lit(params::param_count(model));
    let state = state_ident(model);
    let record = expand_record(model);
    let backward_body = expand_backward(model, &record);
    let step_body = expand_step_body(model);
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
    let (loss, _) = loss_fn(model.loss());
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
    quote! {
        const _: () = {
        #record_definition

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

            #labels

            #forward_doc
            #vis fn forward(&self, x: &#x_ty) -> #y_ty {
                self.forward_intermediates(x).#output_field
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
                #backward_body
            }

            /// One time step for streaming: reads `x`, advances `state` (one field per
            /// recurrent layer) and returns this step's output (for a sequence-to-one network,
            /// the output for the sequence seen so far). Allocates nothing.
            #vis fn step(&self, state: &mut #state<T>, x: &#rt::SVector<T, #input_lit>) -> #step_ty {
                use #rt as nn;
                use nn::Cell as _;
                #step_body
            }
        }
        };
    }
}

/// For `softmax_cross_entropy`, the loss and backward with a class index as the target.
fn expand_label_methods(model: &Model<'_>, x_ty: &TokenStream) -> TokenStream {
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
fn expand_network_impl(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let name = &model.net.name;
    let state = state_ident(model);
    let (input, output) = (lit(model.input_width()), lit(model.output_width()));
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
        }
    }
}
