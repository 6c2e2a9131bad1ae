//! The struct (one field per parameter block) and the parameter visitor: the tensor list with
//! PyTorch names and shapes, and indexed access to each tensor's storage.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::{architecture, docs_only, lit, proj_field, rt};
use crate::model::Model;
use crate::model::NodeKind;
use crate::syntax::{ActivationKind, shown};

/// One parameter tensor as the generated code lists it.
struct Tensor {
    /// `h1.weight`
    name: String,
    /// `self.h1.weight`, as a path below `self`.
    path: TokenStream,
    shape: Vec<usize>,
    role: &'static str,
    activation: ActivationKind,
    layer: String,
}

fn tensors(model: &Model<'_>) -> Vec<Tensor> {
    let mut tensors = Vec::new();
    for node in &model.nodes {
        let name = &node.layer.name;
        let layer = shown(name);
        let activation = node.layer.activation.kind;
        let mut push = |suffix: &str, path: TokenStream, shape: Vec<usize>, role| {
            tensors.push(Tensor {
                name: format!("{layer}.{suffix}"),
                path,
                shape,
                role,
                activation,
                layer: layer.clone(),
            });
        };
        match node.kind {
            NodeKind::Dense { bias, .. } => {
                push(
                    "weight",
                    quote!(#name.weight),
                    vec![node.width(), node.in_width()],
                    "Weight",
                );
                if bias {
                    push("bias", quote!(#name.bias), vec![node.width()], "Bias");
                }
            }
            NodeKind::LayerNorm { .. } => {
                push(
                    "weight",
                    quote!(#name.weight),
                    vec![node.width()],
                    "NormGain",
                );
                push("bias", quote!(#name.bias), vec![node.width()], "NormShift");
            }
        }
        if let Some(residual) = node.residual.as_ref().filter(|r| r.project) {
            let proj = proj_field(node);
            push(
                "proj.weight",
                quote!(#proj.weight),
                vec![node.width(), residual.width()],
                "Projection",
            );
        }
    }
    tensors
}

pub fn param_count(model: &Model<'_>) -> usize {
    tensors(model)
        .iter()
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
        let (input, width) = (lit(node.in_width()), lit(node.width()));
        let (ty, shapes) = match node.kind {
            NodeKind::Dense { bias: true, .. } => (
                quote!(#rt::Dense<T, #input, #width>),
                format!(
                    "weight `[{}, {}]` = `[out, in]`, bias `[{}]`",
                    node.width(),
                    node.in_width(),
                    node.width()
                ),
            ),
            NodeKind::Dense { bias: false, .. } => (
                quote!(#rt::Linear<T, #input, #width>),
                format!(
                    "weight `[{}, {}]` = `[out, in]`, no bias",
                    node.width(),
                    node.in_width()
                ),
            ),
            NodeKind::LayerNorm { .. } => (
                quote!(#rt::LayerNorm<T, #width>),
                format!("gain and shift `[{}]`", node.width()),
            ),
        };
        let doc = super::docs(&format!(
            "Layer `{}`: `{}`; {shapes}.",
            shown(name),
            layer.declared()
        ));
        fields.extend(quote_spanned! {name.span()=>
            #(#docs)*
            #doc
            #vis #name: #ty,
        });
        if let Some(residual) = node.residual.as_ref().filter(|r| r.project) {
            let proj = proj_field(node);
            let source = lit(residual.width());
            let shown = shown(name);
            let doc = super::docs(&format!(
                "Projection of `{shown}`'s residual (`{shown}.proj.weight`): `[{}, {}]` = `[out, source width]`.",
                node.width(),
                residual.width()
            ));
            fields.extend(quote_spanned! {name.span()=>
                #doc
                #vis #proj: #rt::Linear<T, #source, #width>,
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
    let doc = super::docs(&format!(
        "Generated by `network!`: `{}`. The scalar `T` is `f32` or `f64`; see \
         `nn_runtime::Network` and `nn_runtime::Parameters` for the interface.",
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
        let (tensor_name, layer, role) = (&t.name, &t.layer, quote::format_ident!("{}", t.role));
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
    quote! {
        #[automatically_derived]
        impl<T: #rt::Real> #rt::Parameters<T> for #name<T> {
            const PARAM_COUNT: ::core::primitive::usize = Self::PARAM_COUNT;
            const TENSORS: &'static [#rt::TensorInfo] = &[#(#infos),*];
            const ARCHITECTURE: &'static ::core::primitive::str = #architecture;

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

/// The `Zeroable` impl: all-zero bits are a valid network.
pub fn expand_zeroable(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let name = &model.net.name;
    let field_types = field_types(model);
    quote! {
        // SAFETY: every field is a runtime parameter block of `T` (the bounds below prove each
        // is `Zeroable`), so the struct is plain floats and all-zero bits are a valid value.
        #[allow(unsafe_code)]
        #[automatically_derived]
        unsafe impl<T: #rt::Real> #rt::Zeroable for #name<T> where #(#field_types: #rt::Zeroable),* {}
    }
}

fn field_types(model: &Model<'_>) -> Vec<TokenStream> {
    let rt = rt();
    let mut types = Vec::new();
    for node in &model.nodes {
        let (input, width) = (lit(node.in_width()), lit(node.width()));
        types.push(match node.kind {
            NodeKind::Dense { bias: true, .. } => quote!(#rt::Dense<T, #input, #width>),
            NodeKind::Dense { bias: false, .. } => quote!(#rt::Linear<T, #input, #width>),
            NodeKind::LayerNorm { .. } => quote!(#rt::LayerNorm<T, #width>),
        });
        if let Some(residual) = node.residual.as_ref().filter(|r| r.project) {
            let source = lit(residual.width());
            types.push(quote!(#rt::Linear<T, #source, #width>));
        }
    }
    types
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
