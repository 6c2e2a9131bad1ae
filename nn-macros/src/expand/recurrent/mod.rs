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

mod backward;
mod causal;
mod forward;
mod methods;

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
        methods::expand_methods(model),
        params::expand_parameters(model),
        expand_zeroable(model),
        methods::expand_network_impl(model),
        super::embedded::expand_embedded(model),
        super::input::expand_with_scalar(model),
    ];
    let rt = rt();
    let message = format!(
        "`{}` is a sequence network, which needs nn-runtime's `alloc` feature (its sequences \
         are `Vec`s of steps); enable it: `nn-runtime = {{ default-features = false, features \
         = [\"alloc\"] }}`",
        shown(&model.net.name)
    );
    quote! {
        #rt::require_alloc! {
            #message,
            #definition
            #cfgs
            #state
            #(#cfgs #items)*
        }
    }
}

/// The field of a sequence node in `__embedded`:
/// `r1: Gru::embedded(&source, ["r1.weight_ih_l0", ..])`; nothing for a reduction.
pub fn embedded_field(node: &Node<'_>) -> TokenStream {
    let cell = match node.kind {
        NodeKind::Sequence(SequenceOp::Recurrent(cell)) => cell,
        NodeKind::Sequence(SequenceOp::Causal(conv)) => return causal::embedded_field(node, conv),
        _ => return TokenStream::new(),
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
        SequenceOp::Causal(conv) => causal::layer_kind(conv),
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
        NodeKind::Sequence(SequenceOp::Causal(conv)) => causal::layer_type(node, conv),
        NodeKind::Dropout { .. } | NodeKind::BatchNorm { .. } => {
            unreachable!("refused in sequence networks by `check_modes_on_sequences`")
        }
        NodeKind::Spatial(_) => unreachable!("a sequence network has no convolution (checked)"),
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
fn cell_step_ty(rt: TokenStream, cell: CellKind, width: usize) -> TokenStream {
    let width = lit(width);
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
            NodeKind::Sequence(SequenceOp::Causal(conv)) => {
                fields.push(causal::state_field(node, conv))
            }
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
