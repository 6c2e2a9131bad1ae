//! The `Classifier` impl of a `softmax_cross_entropy` network: its `*_label` and
//! `*_batch_labels` methods, reachable from generic code.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Mode, lit, rt};
use crate::model::Model;
use crate::syntax::LossKind;

/// ```text
/// impl<T: Real> Classifier<T, 4, 3> for Net<T> {
///     fn loss_label(&self, x: &SVector<T, 4>, label: usize) -> T {
///         Self::loss_label(self, x, label)
///     }
///     ..
///     with_alloc! { fn loss_batch_labels(..) -> T { .. } .. }
/// }
/// ```
/// Nothing for another loss.
pub fn expand_classifier_impl(model: &Model<'_>) -> TokenStream {
    if model.loss() != LossKind::SoftmaxCrossEntropy {
        return TokenStream::new();
    }
    let rt = rt();
    let name = &model.net.name;
    let (input, classes) = (lit(model.input_width()), lit(model.output_width()));
    let x_ty = Mode::Sample.signature_ty(model.input_width());
    let (xb_generics, xb_ty) = super::batch_input(model.input_width());
    quote! {
        #[automatically_derived]
        impl<T: #rt::Real> #rt::Classifier<T, #input, #classes> for #name<T> {
            fn loss_label(&self, x: &#x_ty, label: ::core::primitive::usize) -> T {
                Self::loss_label(self, x, label)
            }

            fn backward_label(
                &self,
                x: &#x_ty,
                label: ::core::primitive::usize,
                grad: &mut Self,
            ) -> T {
                Self::backward_label(self, x, label, grad)
            }

            fn sgd_step_label(&mut self, x: &#x_ty, label: ::core::primitive::usize, lr: T) -> T {
                Self::sgd_step_label(self, x, label, lr)
            }

            #rt::with_alloc! {
            fn loss_batch_labels #xb_generics (&self, x: &#xb_ty, labels: &[::core::primitive::usize]) -> T {
                Self::loss_batch_labels(self, x, labels)
            }

            fn backward_batch_labels #xb_generics (
                &self,
                x: &#xb_ty,
                labels: &[::core::primitive::usize],
                grad: &mut Self,
            ) -> T {
                Self::backward_batch_labels(self, x, labels, grad)
            }
            }
        }
    }
}
