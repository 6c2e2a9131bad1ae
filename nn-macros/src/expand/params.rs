//! The struct (one field per parameter block) and the parameter visitor: the tensor list with
//! PyTorch names and shapes, and indexed access to each tensor's storage.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::{architecture, docs_only, lit, proj_field, rt};
use crate::model::{Model, Node, NodeKind, Source};
use crate::syntax::{ActivationKind, shown};

/// One parameter tensor as the generated code lists it.
struct Tensor {
    /// `h1.weight`
    name: String,
    /// `self.h1.weight`, as a path below `self`.
    path: TokenStream,
    shape: Vec<usize>,
    role: String,
    activation: ActivationKind,
    layer: String,
}

/// The model's tensors, in order, with their paths in the struct.
fn tensors(model: &Model<'_>) -> Vec<Tensor> {
    let mut tensors = Vec::new();
    for node in &model.nodes {
        let name = &node.layer.name;
        let layer = shown(name);
        let Some(node_tensors) = node.tensors() else {
            unreachable!("expansion runs on a checked model, every shape known")
        };
        for tensor in node_tensors {
            let path = match tensor.suffix {
                "proj.weight" => {
                    let proj = proj_field(node);
                    quote!(#proj.weight)
                }
                suffix => {
                    let field = quote::format_ident!("{}", suffix);
                    quote!(#name.#field)
                }
            };
            tensors.push(Tensor {
                name: format!("{layer}.{}", tensor.suffix),
                path,
                shape: tensor.shape,
                role: tensor.role,
                activation: node.layer.activation.kind,
                layer: layer.clone(),
            });
        }
    }
    tensors
}

/// Trainable scalars: every tensor but the batch norms' running statistics (buffers).
pub fn param_count(model: &Model<'_>) -> usize {
    tensors(model)
        .iter()
        .filter(|t| !matches!(t.role.as_str(), "RunningMean" | "RunningVar"))
        .map(|t| t.shape.iter().product::<usize>())
        .sum()
}

/// The field of a layer: `Dense<T, IN, OUT>`, `Linear<T, IN, OUT>` (no bias) or
/// `LayerNorm<T, N>`; and its projection's `Linear<T, SOURCE, OUT>`.
fn fields(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let vis = &model.net.vis;
    let mut fields = TokenStream::new();
    for node in &model.nodes {
        let layer = node.layer;
        let name = &layer.name;
        let docs = docs_only(&layer.attrs);
        let ty = layer_type(node);
        let shapes = match node.kind {
            NodeKind::Dense { bias: true } => format!(
                "weight `[{}, {}]` = `[out, in]`, bias `[{}]`",
                node.width(),
                node.in_width(),
                node.width()
            ),
            NodeKind::Dense { bias: false } => format!(
                "weight `[{}, {}]` = `[out, in]`, no bias",
                node.width(),
                node.in_width()
            ),
            NodeKind::LayerNorm { .. } => format!("gain and shift `[{}]`", node.width()),
            NodeKind::BatchNorm { .. } => format!(
                "gain and shift `[{0}]`, running mean and variance `[{0}]`",
                super::mode::batch_norm_channels(node)
            ),
            NodeKind::Dropout { .. } => String::new(),
            NodeKind::Sequence(_) => {
                unreachable!("sequence networks expand in `expand::recurrent`")
            }
            NodeKind::Spatial(_) => super::conv::field_doc(node),
        };
        let doc = super::docs(&format!(
            "Layer `{}`: `{}`; {shapes}.",
            shown(name),
            layer.declared()
        ));
        // A dropout has no parameters, so no field (its docs go nowhere: check allows only
        // doc comments on a layer).
        if let Some(ty) = ty {
            fields.extend(quote_spanned! {name.span()=>
                #(#docs)*
                #doc
                #vis #name: #ty,
            });
        }
        if let Some(residual) = node.residual.as_ref().filter(|r| r.project) {
            let proj = proj_field(node);
            let (source, width) = (lit(residual.width()), lit(node.width()));
            let proj_ty = super::conv::projection_type(node)
                .unwrap_or_else(|| quote!(#rt::Linear<T, #source, #width>));
            let shown = shown(name);
            let doc = super::docs(&format!(
                "Projection of `{shown}`'s residual (`{shown}.proj.weight`): `[{}, {}]` = `[out, source width]`.",
                node.width(),
                residual.width()
            ));
            fields.extend(quote_spanned! {name.span()=>
                #doc
                #vis #proj: #proj_ty,
            });
        }
    }
    fields
}

/// ```text
/// /// (the user's docs)
/// #[derive(..)]            // the user's attributes
/// pub struct Digits<T: Real = f32> { pub h1: Dense<T, 64, 64>, .. }
/// ```
pub fn expand_struct(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let net = model.net;
    let (attrs, vis, name) = (&net.attrs, &net.vis, &net.name);
    let fields = fields(model);
    let interface = match model.has_loss() {
        true => "see `nn_runtime::Network` and `nn_runtime::Parameters` for the interface",
        false => "inference only (no loss): see `nn_runtime::Parameters` for the interface",
    };
    let doc = super::docs(&format!(
        "Generated by `network!`: `{}`. The scalar `T` is `f32` or `f64`; {interface}.",
        architecture(model)
    ));
    quote! {
        #(#attrs)*
        #[doc = ""]
        #doc
        #vis struct #name<T: #rt::Real = ::core::primitive::f32> {
            #fields
        }
    }
}

/// The `Parameters` impl (tensor list and access) and the `Zeroable` impl.
pub fn expand_parameters(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let name = &model.net.name;
    let tensors = tensors(model);
    let count = lit(tensors.len());
    let infos = tensors.iter().map(|t| {
        // `Weight`, or a variant with data: `RecurrentWeight { hidden: 32 }`.
        let role: TokenStream = t
            .role
            .parse()
            .expect("a role is a variant written by `model`");
        let (tensor_name, layer) = (&t.name, &t.layer);
        let shape = t.shape.iter().map(|&d| lit(d));
        let activation = activation_kind(t.activation);
        quote! {
            #rt::TensorInfo {
                name: #tensor_name,
                layer: #layer,
                shape: &[#(#shape),*],
                role: #rt::TensorRole::#role,
                activation: #rt::ActivationKind::#activation,
            }
        }
    });
    let indices: Vec<_> = (0..tensors.len()).map(lit).collect();
    let paths: Vec<_> = tensors.iter().map(|t| &t.path).collect();
    let architecture = architecture(model);
    let layers = layer_infos(model);
    quote! {
        #[automatically_derived]
        impl<T: #rt::Real> #rt::Parameters<T> for #name<T> {
            const PARAM_COUNT: ::core::primitive::usize = Self::PARAM_COUNT;
            const TENSORS: &'static [#rt::TensorInfo] = &[#(#infos),*];
            const ARCHITECTURE: &'static ::core::primitive::str = #architecture;
            const LAYERS: &'static [#rt::LayerInfo] = &[#(#layers),*];

            fn tensor(&self, index: ::core::primitive::usize) -> &[T] {
                match index {
                    #(#indices => self.#paths.as_slice(),)*
                    _ => #rt::tensor_index_out_of_range(index, #count),
                }
            }

            fn tensor_mut(&mut self, index: ::core::primitive::usize) -> &mut [T] {
                match index {
                    #(#indices => self.#paths.as_mut_slice(),)*
                    _ => #rt::tensor_index_out_of_range(index, #count),
                }
            }
        }
    }
}

/// One `LayerInfo` per node, the structure of `Parameters::LAYERS`:
/// ```text
/// LayerInfo { name: "h2", kind: LayerKind::Dense { bias: true }, input_width: 64, width: 64,
///             activation: ActivationKind::Relu,
///             residual: Some(ResidualInfo { source: ResidualSource::Layer(0), project: false }) }
/// ```
fn layer_infos(model: &Model<'_>) -> Vec<TokenStream> {
    let rt = rt();
    model
        .nodes
        .iter()
        .map(|node| {
            let name = shown(&node.layer.name);
            let kind = match node.kind {
                NodeKind::Dense { bias } => quote!(Dense { bias: #bias }),
                NodeKind::LayerNorm { eps } => {
                    let eps = proc_macro2::Literal::f64_suffixed(eps);
                    quote!(LayerNorm { eps: #eps })
                }
                NodeKind::Dropout { p } => {
                    let p = proc_macro2::Literal::f64_suffixed(p);
                    quote!(Dropout { p: #p })
                }
                NodeKind::BatchNorm { eps, momentum } => {
                    let eps = proc_macro2::Literal::f64_suffixed(eps);
                    let momentum = proc_macro2::Literal::f64_suffixed(momentum);
                    quote!(BatchNorm { eps: #eps, momentum: #momentum })
                }
                NodeKind::Sequence(op) => super::recurrent::layer_kind(op),
                NodeKind::Spatial(kind) => super::conv::layer_kind(node, kind),
            };
            let (input, width) = (lit(node.in_width()), lit(node.width()));
            let activation = activation_kind(node.layer.activation.kind);
            let residual = match &node.residual {
                None => quote!(::core::option::Option::None),
                Some(residual) => {
                    let source = match residual.source() {
                        Source::Input => quote!(Input),
                        Source::Layer(index) => {
                            let index = lit(index);
                            quote!(Layer(#index))
                        }
                    };
                    let project = residual.project;
                    quote!(::core::option::Option::Some(#rt::ResidualInfo {
                        source: #rt::ResidualSource::#source,
                        project: #project,
                    }))
                }
            };
            quote! {
                #rt::LayerInfo {
                    name: #name,
                    kind: #rt::LayerKind::#kind,
                    input_width: #input,
                    width: #width,
                    activation: #rt::ActivationKind::#activation,
                    residual: #residual,
                }
            }
        })
        .collect()
}

/// The `Zeroable` impl, by the runtime's macro (so that the expansion holds no `unsafe`):
/// ```text
/// ::nn_runtime::__private::impl_zeroable! { Digits { h1: Dense<T, 64, 64>, out: Dense<T, 64, 10> } }
/// ```
pub fn expand_zeroable(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let name = &model.net.name;
    let fields = field_types(model)
        .into_iter()
        .map(|(field, ty)| quote!(#field: #ty));
    quote! {
        #rt::impl_zeroable! { #name { #(#fields),* } }
    }
}

/// Each field of the struct with its type.
fn field_types(model: &Model<'_>) -> Vec<(syn::Ident, TokenStream)> {
    let mut fields = Vec::new();
    for node in &model.nodes {
        fields.extend(layer_type(node).map(|ty| (node.layer.name.clone(), ty)));
        if let Some(residual) = node.residual.as_ref().filter(|r| r.project) {
            let (rt, source, width) = (rt(), lit(residual.width()), lit(node.width()));
            let proj_ty = super::conv::projection_type(node)
                .unwrap_or_else(|| quote!(#rt::Linear<T, #source, #width>));
            fields.push((proj_field(node), proj_ty));
        }
    }
    fields
}

/// The parameter block of a layer: `Dense<T, IN, OUT>`, `Linear<T, IN, OUT>` (no bias),
/// `LayerNorm<T, N>` or `BatchNorm<T, N>`; none for a dropout.
fn layer_type(node: &Node<'_>) -> Option<TokenStream> {
    let (rt, input, width) = (rt(), lit(node.in_width()), lit(node.width()));
    Some(match node.kind {
        NodeKind::Dense { bias: true } => quote!(#rt::Dense<T, #input, #width>),
        NodeKind::Dense { bias: false } => quote!(#rt::Linear<T, #input, #width>),
        NodeKind::LayerNorm { .. } => quote!(#rt::LayerNorm<T, #width>),
        NodeKind::BatchNorm { .. } => {
            let channels = lit(super::mode::batch_norm_channels(node));
            quote!(#rt::BatchNorm<T, #channels>)
        }
        NodeKind::Dropout { .. } => return None,
        NodeKind::Sequence(_) => unreachable!("sequence networks expand in `expand::recurrent`"),
        NodeKind::Spatial(_) if crate::conv::is_parameterless(node) => return None,
        NodeKind::Spatial(kind) => super::conv::layer_type(node, kind),
    })
}

fn activation_kind(kind: ActivationKind) -> TokenStream {
    match kind {
        ActivationKind::Identity => quote!(Identity),
        ActivationKind::Step => quote!(Step),
        ActivationKind::Relu => quote!(Relu),
        ActivationKind::LeakyRelu { slope } => {
            let slope = proc_macro2::Literal::f64_suffixed(slope);
            quote!(LeakyRelu { slope: #slope })
        }
        ActivationKind::Sigmoid => quote!(Sigmoid),
        ActivationKind::Tanh => quote!(Tanh),
        ActivationKind::Softplus => quote!(Softplus),
        ActivationKind::Gelu => quote!(Gelu),
        ActivationKind::GeluTanh => quote!(GeluTanh),
        ActivationKind::Silu => quote!(Silu),
        ActivationKind::Softmax => quote!(Softmax),
    }
}
