//! A network declared without `loss:` is inference-only: its forward pass, prediction and
//! batch forms, and training methods whose use is a compile error naming the missing loss.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::forward::Record;
use super::mode::Phase;
use super::{Mode, docs, forward, lit, output_ident, params, rt};
use crate::model::Model;

/// ```text
/// const _: () = {
///     #[allow(dead_code)] struct NetForwardBatch<T: Real> { .. } // read only for the output
///     impl<T: Real> Net<T> {
///         pub const INPUT_WIDTH: usize = 4; ..
///         pub fn forward(&self, x: &SVector<T, 4>) -> SVector<T, 2> { .. } // layer by layer
///         pub fn predict(&self, x: &SVector<T, 4>) -> SVector<T, 2> { self.forward(x) }
///         with_alloc! { forward_batch, predict_batch }
///         #[doc(hidden)]
///         pub fn backward<X, Y, G>(&self, x: X, target: Y, grad: G) -> T
///         where Self: Trainable { <Self as Trainable>::unreachable(self) }
///         ..
///     }
/// };
/// ```
pub fn expand_methods(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let name = &model.net.name;
    let vis = &model.net.vis;
    let (input, output) = (model.input_width(), model.output_width());
    let (input_lit, output_lit) = (lit(input), lit(output));
    let param_count = lit(params::param_count(model));
    let sample = forward::expand_record(model, Mode::Sample, Phase::Inference);
    let batch = forward::expand_record(model, Mode::Batch, Phase::Inference);
    let forward_scalars = lit(sample.scalars);
    let output_field = model.nodes.last().map(output_ident);
    // `forward` keeps no record (see `forward::expand_output`); the batch forms read theirs.
    let forward_body = forward::expand_output(model);
    let batch_method = &batch.method;
    let batch_record = record_definition(&batch);
    let batch_constructor = &batch.constructor;
    let (x_ty, y_ty) = (
        Mode::Sample.signature_ty(input),
        Mode::Sample.signature_ty(output),
    );
    let ((xb_generics, xb_ty), yb_ty) =
        (super::batch_input(input), Mode::Batch.signature_ty(output));
    let forward_doc = docs(&format!(
        "Forward pass of one sample: `{input}` inputs → `{output}` outputs."
    ));
    let forward_bytes_doc = docs(&format!(
        "Bytes of the intermediates of one sample's forward pass: {} scalars (every `z`, \
         `x̂` and `h` binding; `forward` keeps only the layers' outputs).",
        sample.scalars
    ));
    let training = training_methods(model);
    quote! {
        const _: () = {
        #rt::with_alloc! { #batch_record }

        // The layer blocks open with their declaration as a doc line (see `layer_comment`).
        #[allow(unused_doc_comments)]
        impl<T: #rt::Real> #name<T> {
            /// Width of the input vector.
            #vis const INPUT_WIDTH: ::core::primitive::usize = #input_lit;
            /// Width of the output vector.
            #vis const OUTPUT_WIDTH: ::core::primitive::usize = #output_lit;
            /// Number of scalars in the parameters.
            #vis const PARAM_COUNT: ::core::primitive::usize = #param_count;
            /// Bytes of the parameters: `PARAM_COUNT * size_of::<T>()`.
            #vis const PARAM_BYTES: ::core::primitive::usize =
                #param_count * ::core::mem::size_of::<T>();
            #forward_bytes_doc
            #vis const FORWARD_BYTES: ::core::primitive::usize =
                #forward_scalars * ::core::mem::size_of::<T>();

            #rt::with_alloc! {
                #batch_constructor
            }

            #forward_doc
            #vis fn forward(&self, x: &#x_ty) -> #y_ty {
                #forward_body
            }

            /// The prediction: the output itself. The network declares no loss, so there is no
            /// link to apply; an activation on the last layer (`dense(n, softmax)`) is the
            /// prediction's.
            #vis fn predict(&self, x: &#x_ty) -> #y_ty {
                self.forward(x)
            }

            #rt::with_alloc! {
            /// Forward pass of a batch, one sample per column.
            #vis fn forward_batch #xb_generics (&self, x: &#xb_ty) -> #yb_ty {
                self.#batch_method(x).#output_field
            }

            /// [`Self::predict`] for every column of a batch: the output itself.
            #vis fn predict_batch #xb_generics (&self, x: &#xb_ty) -> #yb_ty {
                self.forward_batch(x)
            }
            }

            #training
        }
        };
    }
}

/// The record's struct, allowed to have fields nothing reads: without a backward pass only the
/// output field is read.
fn record_definition(record: &Record) -> TokenStream {
    let definition = &record.definition;
    quote!(#[allow(dead_code)] #definition)
}

/// The training methods, each a compile error at its use: bound by the runtime's
/// `Trainable`, which nothing implements and whose message names the missing loss. Generic in
/// their arguments, so that the message comes first whatever the call passes.
fn training_methods(model: &Model<'_>) -> TokenStream {
    let rt = rt();
    let vis = &model.net.vis;
    let stubs = [
        ("loss", vec!["x", "target"], false),
        ("backward", vec!["x", "target", "grad"], false),
        ("sgd_step", vec!["x", "target", "lr"], true),
        ("loss_batch", vec!["x", "targets"], false),
        ("backward_batch", vec!["x", "targets", "grad"], false),
    ];
    stubs
        .into_iter()
        .map(|(method, arguments, mutable)| {
            let method = quote::format_ident!("{}", method);
            let arguments: Vec<_> = arguments
                .iter()
                .map(|a| quote::format_ident!("_{}", a))
                .collect();
            let types: Vec<_> = arguments
                .iter()
                .map(|a| quote::format_ident!("{}", a.to_string()[1..].to_uppercase()))
                .collect();
            let receiver = if mutable {
                quote!(&mut self)
            } else {
                quote!(&self)
            };
            // At the network's name: the error's "required by this bound" points there.
            quote_spanned! {model.net.name.span()=>
                /// Not available: the network declares no loss (inference only). Calling it is
                /// a compile error saying so.
                #[doc(hidden)]
                #vis fn #method<#(#types),*>(#receiver, #(#arguments: #types),*) -> T
                where
                    Self: #rt::Trainable,
                {
                    <Self as #rt::Trainable>::unreachable(self)
                }
            }
        })
        .collect()
}
