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

/// Which code is written: per sample over a sequence (`SVector` per step), per batch of
/// equal-length sequences (`Batch`, samples as columns, per step), or one streaming step.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Sample,
    Batch,
    Step,
}

impl Flow {
    /// The type of one step's value of width `width`, its paths under `rt` (`nn` inside a
    /// body that has `use … as nn`).
    fn step_ty_in(self, rt: TokenStream, width: usize) -> TokenStream {
        let width = lit(width);
        match self {
            Flow::Batch => quote!(#rt::Batch<T, #width>),
            _ => quote!(#rt::SVector<T, #width>),
        }
    }

    /// The type of a node's value: one step's, or a `Vec` of them for a sequence.
    fn ty(self, shape: Option<Shape>, width: usize) -> TokenStream {
        self.ty_in(quote!(nn), shape, width)
    }

    /// [`Flow::ty`] by absolute path (for signatures and the record's fields).
    fn signature_ty(self, shape: Option<Shape>, width: usize) -> TokenStream {
        self.ty_in(rt(), shape, width)
    }

    fn ty_in(self, rt: TokenStream, shape: Option<Shape>, width: usize) -> TokenStream {
        let step = self.step_ty_in(rt.clone(), width);
        if self != Flow::Step && is_sequence(shape) {
            quote!(#rt::Vec<#step>)
        } else {
            step
        }
    }

    /// The runtime helper for sequences of this flow: `add_steps` or `add_steps_batch`.
    fn helper(self, name: &str) -> Ident {
        match self {
            Flow::Batch => format_ident!("{}_batch", name),
            _ => format_ident!("{}", name),
        }
    }

    /// `W x` or `W X`.
    fn mul(self, weight: TokenStream, x: TokenStream) -> TokenStream {
        match self {
            Flow::Batch => quote!(nn::matmul(&#weight, #x)),
            _ => quote!(nn::matvec(&#weight, #x)),
        }
    }

    /// `Wᵀ d` or `Wᵀ D`.
    fn tr_mul(self, weight: TokenStream, d: TokenStream) -> TokenStream {
        match self {
            Flow::Batch => quote!(nn::tr_matmul(&#weight, #d)),
            _ => quote!(nn::tr_matvec(&#weight, #d)),
        }
    }

    /// `∂W += d xᵀ` (summed over the columns of a batch).
    fn add_outer(self, grad: TokenStream, d: TokenStream, x: TokenStream) -> TokenStream {
        match self {
            Flow::Batch => quote!(nn::add_mul_tr(&mut #grad, #d, #x);),
            _ => quote!(nn::add_outer(&mut #grad, #d, #x);),
        }
    }

    /// `∂b += d` (summed over the columns of a batch).
    fn add_bias(self, grad: TokenStream, d: TokenStream) -> TokenStream {
        match self {
            Flow::Batch => quote!(nn::add_column_sums(&mut #grad, #d);),
            _ => quote!(#grad += #d;),
        }
    }
}

/// A recurrent node's cell as the trait it is used through:
/// `<Gru<T, 12, 32, 96> as nn::BatchCell<T, 12, 32>>`.
fn cell_as(node: &Node<'_>, flow: Flow) -> TokenStream {
    let (cell_ty, input, width) = (layer_type(node), lit(node.in_width()), lit(node.width()));
    match flow {
        Flow::Batch => quote!(<#cell_ty as nn::BatchCell<T, #input, #width>>),
        _ => quote!(<#cell_ty as nn::Cell<T, #input, #width>>),
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

/// `nn::relu(z)` (a reference `z`), or `z.clone()` for identity.
fn activate(node: &Node<'_>, z: TokenStream) -> TokenStream {
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
fn zero_state(node: &Node<'_>, cell: CellKind, flow: Flow) -> TokenStream {
    match flow {
        Flow::Batch => {
            let cell = cell_as(node, flow);
            quote!(#cell::zero_batch_state(x[0].ncols()))
        }
        _ => cell_zero_state(cell),
    }
}

/// Forward of node `index` in `flow`. Returns the statements and the bindings they make.
fn node_forward(model: &Model<'_>, index: usize, flow: Flow) -> (TokenStream, Vec<Binding>) {
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
            let zero = zero_state(node, cell, flow);
            quote_spanned! {name.span()=>
                let mut #steps: nn::Vec<#steps_ty> = nn::Vec::new();
                nn::#forward(&self.#name, #input_ref, &#zero, &mut #steps);
                let #z: #ty = nn::#hidden::<T, #cell_ty, #input_width, #width>(&#steps);
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
            let function = flow.helper(match reduction {
                Reduction::Last => "last_step",
                Reduction::Mean => "mean_steps",
            });
            quote_spanned!(name.span()=> let #z: #ty = nn::#function(&#input);)
        }
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
struct Record {
    name: Ident,
    method: Ident,
    definition: TokenStream,
    constructor: TokenStream,
    fields: Vec<Ident>,
}

fn expand_record(model: &Model<'_>, flow: Flow) -> Record {
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
         forward, loss and backward methods."
    ));
    Record {
        definition: quote! {
            #struct_doc
            struct #name<T: #rt::Real> {
                #(#field_defs)*
            }
        },
        constructor: quote! {
            #method_doc
            fn #method(&self, x: &[#input]) -> #name<T> {
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
fn expand_step_body(model: &Model<'_>) -> TokenStream {
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
fn node_backward(
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
            code.extend(quote_spanned! {name.span()=>
                let mut #dx: #in_ty = #zeros;
                nn::#backward(
                    &self.#name, #input_ref, &#zero, &#steps_binding, &#dz, #zero, &mut grad.#name, &mut #dx,
                );
            });
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
fn sum_terms(node: &Node<'_>, terms: &[Ident], flow: Flow) -> TokenStream {
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
fn expand_backward(model: &Model<'_>, record: &Record, flow: Flow) -> TokenStream {
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
    let read = super::backward::named_in(&chain, &record.fields);
    let rest = (read.len() < record.fields.len()).then(|| quote!(..));
    let (name, method) = (&record.name, &record.method);
    quote! {
        let #name { #(#read,)* #rest } = self.#method(x);
        #batch_check
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
    let record = expand_record(model, Flow::Sample);
    let backward_body = expand_backward(model, &record, Flow::Sample);
    let batch_record = expand_record(model, Flow::Batch);
    let backward_batch_body = expand_backward(model, &batch_record, Flow::Batch);
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
        }
        };
    }
}

/// What `forward_batch` returns and `loss_batch` compares it with: `Batch<T, OUT>` (sequence
/// to one), or one batch per step (sequence to sequence).
fn batch_types(model: &Model<'_>) -> (TokenStream, TokenStream) {
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
        }
    }
}
