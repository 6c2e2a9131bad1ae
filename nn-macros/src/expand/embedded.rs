//! `__embedded`: the network built during compilation from the tensors `embed!` writes into
//! the binary, every tensor checked against the declaration in a `const fn`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::{proj_field, rt};
use crate::model::Model;
use crate::model::NodeKind;
use crate::syntax::shown;

/// ```text
/// impl<T: Real> Digits<T> {
///     #[doc(hidden)]
///     pub const fn __embedded(file: &'static str, tensors: &'static [EmbeddedTensor]) -> Self {
///         let source = EmbedSource::new::<T>(file, "Digits", tensors);
///         let net = Self {
///             h1: Dense::embedded(&source, "h1.weight", "h1.bias"),
///             h3_proj: Linear::embedded(&source, "h3.proj.weight"),
///             norm: LayerNorm::embedded(&source, "norm.weight", "norm.bias"),
///             ..
///         };
///         source.check_no_extra(<Self as Parameters<T>>::TENSORS);
///         net
///     }
/// }
/// ```
pub fn expand_embedded(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let name = &model.net.name;
    let network = shown(name);
    let mut fields = TokenStream::new();
    for node in &model.nodes {
        let field = &node.layer.name;
        let layer = shown(field);
        let weight = format!("{layer}.weight");
        let bias = format!("{layer}.bias");
        // At the layer's name, so that a mismatch's "the failure occurred here" points at it
        // (the path is written out: `#rt`'s tokens would keep their own span).
        fields.extend(match node.kind {
            NodeKind::Dense { bias: true, .. } => quote_spanned! {field.span()=>
                #field: ::nn_runtime::__private::Dense::embedded(&source, #weight, #bias),
            },
            NodeKind::Dense { bias: false, .. } => quote_spanned! {field.span()=>
                #field: ::nn_runtime::__private::Linear::embedded(&source, #weight),
            },
            NodeKind::LayerNorm { .. } => quote_spanned! {field.span()=>
                #field: ::nn_runtime::__private::LayerNorm::embedded(&source, #weight, #bias),
            },
            NodeKind::BatchNorm { .. } => {
                let (mean, var) = (
                    format!("{layer}.running_mean"),
                    format!("{layer}.running_var"),
                );
                quote_spanned! {field.span()=>
                    #field: ::nn_runtime::__private::BatchNorm::embedded(
                        &source, #weight, #bias, #mean, #var,
                    ),
                }
            }
            NodeKind::Dropout { .. } => TokenStream::new(),
            NodeKind::Sequence(_) => super::recurrent::embedded_field(node),
            NodeKind::Spatial(_) => super::conv::embedded_field(node),
        });
        if let Some(projection) = super::conv::embedded_projection(node) {
            fields.extend(projection);
        } else if node.residual.as_ref().is_some_and(|r| r.project) {
            let proj = proj_field(node);
            let weight = format!("{layer}.proj.weight");
            fields.extend(quote_spanned! {field.span()=>
                #proj: ::nn_runtime::__private::Linear::embedded(&source, #weight),
            });
        }
    }
    let check_no_extra = quote_spanned! {name.span()=>
        source.check_no_extra(<Self as #rt::Parameters<T>>::TENSORS);
    };
    quote! {
        impl<T: #rt::Real> #name<T> {
            /// The network from the tensors of a weights file, for `nn_runtime::embed!`: checks
            /// every tensor's name, dtype and shape, panicking (a compile error in a `static`)
            /// at the first mismatch.
            #[doc(hidden)]
            pub const fn __embedded(
                file: &'static ::core::primitive::str,
                tensors: &'static [#rt::EmbeddedTensor],
            ) -> Self {
                let source = #rt::EmbedSource::new::<T>(file, #network, tensors);
                let net = Self { #fields };
                #check_no_extra
                net
            }
        }
    }
}
