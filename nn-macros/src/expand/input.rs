//! Derivatives with respect to the input and over other scalars: `input_gradient` and
//! `input_gradient_batch` (the generated backward run on to `dx = ∂L/∂x`, no parameter
//! gradient), and the `WithScalar` impl that lets `nn_runtime::dual` lift a network to dual
//! numbers.

use proc_macro2::TokenStream;
use quote::quote;

use super::backward::Term;
use super::{Mode, rt};
use crate::model::Model;

/// `input_gradient` and `input_gradient_batch`, inside the network's impl:
/// ```text
/// pub fn input_gradient(&self, x: &SVector<T, 2>, target: &SVector<T, 1>) -> SVector<T, 2> {
///     let XorForward { z_hidden, h_hidden, z_out } = self.forward_intermediates(x);
///     let dh_out: SVector<T, 1> = nn::mse_backward(&z_out, target);
///     // out: dense(1)
///     let dh_hidden: SVector<T, 2> = nn::tr_matvec(&self.out.weight, &dh_out);
///     // hidden: dense(2, sigmoid)
///     let dz_hidden: SVector<T, 2> = nn::sigmoid_backward(&z_hidden, &dh_hidden);
///     let dx: SVector<T, 2> = nn::tr_matvec(&self.hidden.weight, &dz_hidden);
///     dx
/// }
/// ```
pub fn expand_input_methods(
    model: &Model<'_>,
    sample_body: &TokenStream,
    batch_body: &TokenStream,
    inference_doc: Option<&TokenStream>,
) -> InputMethods {
    let vis = &model.net.vis;
    let (input, output) = (model.input_width(), model.output_width());
    let (x_ty, y_ty) = (
        Mode::Sample.signature_ty(input),
        Mode::Sample.signature_ty(output),
    );
    let (xb_ty, yb_ty) = (
        Mode::Batch.signature_ty(input),
        Mode::Batch.signature_ty(output),
    );
    InputMethods {
        sample: quote! {
            /// The gradient of one sample's loss with respect to its input, `∂L/∂x` (saliency,
            /// adversarial examples): the backward pass run on to the input, no parameter
            /// gradient. About the cost of `backward`; allocates nothing.
            #inference_doc
            #vis fn input_gradient(&self, x: &#x_ty, target: &#y_ty) -> #x_ty {
                #sample_body
            }
        },
        batch: quote! {
            /// The gradient of the batch's mean loss with respect to each input column: column
            /// `j` is `∂L_j/∂x_j / batch`, sample `j`'s own input gradient over the batch size.
            ///
            /// # Panics
            /// If `x` and `targets` have different numbers of columns, or if the batch has no
            /// columns.
            #inference_doc
            #vis fn input_gradient_batch(&self, x: &#xb_ty, targets: &#yb_ty) -> #xb_ty {
                #batch_body
            }
        },
    }
}

/// The two input-gradient methods: the sample one, and the batch one (which needs `alloc`).
pub struct InputMethods {
    pub sample: TokenStream,
    pub batch: TokenStream,
}

/// The `Network` trait's `input_gradient` and `input_gradient_batch`, forwarding to the
/// inherent methods.
pub fn expand_network_methods(model: &Model<'_>) -> InputMethods {
    let (input, output) = (model.input_width(), model.output_width());
    let (x_ty, y_ty) = (
        Mode::Sample.signature_ty(input),
        Mode::Sample.signature_ty(output),
    );
    let (xb_ty, yb_ty) = (
        Mode::Batch.signature_ty(input),
        Mode::Batch.signature_ty(output),
    );
    InputMethods {
        sample: quote! {
            fn input_gradient(&self, x: &#x_ty, target: &#y_ty) -> #x_ty {
                Self::input_gradient(self, x, target)
            }
        },
        batch: quote! {
            fn input_gradient_batch(&self, x: &#xb_ty, targets: &#yb_ty) -> #xb_ty {
                Self::input_gradient_batch(self, x, targets)
            }
        },
    }
}

/// `impl<T: Real, U: Real> WithScalar<U> for Net<T> { type Net = Net<U>; }`: the same network
/// over another scalar, for `nn_runtime::dual::lift`.
pub fn expand_with_scalar(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let name = &model.net.name;
    quote! {
        #[automatically_derived]
        impl<T: #rt::Real, U: #rt::Real> #rt::WithScalar<U> for #name<T> {
            type Net = #name<U>;
        }
    }
}

/// Adds `term` into `dx`, the gradient at the input, when the chain rule runs on to it
/// (`input` is `Some((declared, remaining contributions))`); else nothing.
pub(super) fn contribute_dx(
    input: &mut Option<(bool, usize)>,
    mode: Mode,
    model: &Model<'_>,
    term: Term,
) -> TokenStream {
    let Some((declared, remaining)) = input else {
        return TokenStream::new();
    };
    if *declared {
        return match term {
            Term::Owned(value) => quote!(dx += #value;),
            Term::Borrowed(other) => quote!(dx += &#other;),
        };
    }
    *declared = true;
    let ty = mode.ty(model.input_width());
    let value = match term {
        Term::Owned(value) => value,
        Term::Borrowed(other) => quote!(#other.clone()),
    };
    let mutable = (*remaining > 1).then(|| quote!(mut));
    quote!(let #mutable dx: #ty = #value;)
}
