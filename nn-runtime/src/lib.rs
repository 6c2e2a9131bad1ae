// The crate documentation is the crate's README (shown on crates.io too), so its examples are
// doctests; it is inside the package, unlike the repository's README.
#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;
// Lets `network!` (whose expansion names `::nn_runtime`) be used in this crate's own tests.
extern crate self as nn_runtime;

pub mod activation;
#[cfg(feature = "std")]
pub mod data;
mod embed;
pub mod fpenv;
#[cfg(feature = "std")]
pub mod gradcheck;
#[cfg(feature = "std")]
pub mod idx;
#[cfg(feature = "std")]
pub mod init;
#[cfg(feature = "std")]
pub mod io;
pub mod layer;
pub mod linalg;
pub mod loss;
#[cfg(feature = "std")]
pub mod metrics;
mod network;
#[cfg(feature = "onnx")]
pub mod onnx;
#[cfg(feature = "std")]
pub mod optim;
#[cfg(feature = "plot")]
pub mod plot;
mod real;
#[cfg(feature = "std")]
pub mod train;
#[cfg(feature = "std")]
pub mod ts;

pub use activation::ActivationKind;
pub use fpenv::FlushSubnormals;
#[cfg(feature = "std")]
pub use gradcheck::{GradientCheck, check_gradient, check_gradient_batch};
#[cfg(feature = "std")]
pub use init::{Init, InitError, Scheme};
#[cfg(feature = "std")]
pub use io::WeightsError;
pub use layer::{Dense, LayerNorm, Linear, Zeroable};
pub use linalg::Batch;
pub use loss::{LossKind, one_hot, one_hot_batch, one_hot_checked};
pub use network::{
    LayerInfo, LayerKind, Network, Parameters, ResidualInfo, ResidualSource, TensorInfo, TensorRole,
};
#[cfg(feature = "std")]
pub use optim::Optimizer;
pub use real::Real;
#[cfg(feature = "std")]
pub use train::ConfigError;

/// The nalgebra this crate was built against; generated code and users share it.
pub use nalgebra;

/// Declares a network; see the [crate documentation](crate) for the grammar.
pub use nn_macros::network;

/// Embeds a trained weights file into the binary as a `static` network, checked against the
/// network during compilation.
///
/// ```text
/// embed! { attr* vis static NAME: Network<f32> = "path/to/weights.safetensors"; … }
/// ```
///
/// The path is relative to the source file that invokes the macro, as for `include_bytes!`;
/// an absolute path works too. The file is a
/// safetensors file as [`io::save`] writes it (PyTorch names, shapes and layouts; see
/// [`io`]). The macro reads it when the crate compiles and writes its tensors into the
/// binary; cargo tracks the file, so editing it rebuilds the crate.
///
/// At run time the static is ready: no file I/O, no parsing, no allocation. At compile time
/// the file must hold exactly the network's tensors, each with the network's shape and scalar
/// (`F32` for `Net<f32>`, `F64` for `Net<f64>`; nothing is converted). Anything else is a
/// compile error naming the file, the tensor and both shapes:
///
/// ```text
/// error[E0080]: evaluation panicked: weights file `digits.safetensors`: tensor `h1.weight`
///               has shape [100, 64] but `Digits<f32>` expects [128, 64]
/// ```
///
/// and so are a missing file, one that is not safetensors, and tensors of another dtype.
///
/// # Examples
///
/// ```
/// use nn_runtime::nalgebra::SVector;
///
/// nn_runtime::network! {
///     pub struct Tiny {
///         input: 2,
///         h1: dense(4, relu),
///         out: dense(1),
///         loss: mse,
///     }
/// }
///
/// nn_runtime::embed! {
///     /// Tiny, trained (the path is relative to this source file, `nn-runtime/src/lib.rs`).
///     pub static MODEL: Tiny<f32> = "../../tests/fixtures/embed/tiny.safetensors";
/// }
///
/// let y = MODEL.predict(&SVector::from([1.0, -1.0]));
/// let loaded: Box<Tiny<f32>> =
///     nn_runtime::io::load_boxed("../tests/fixtures/embed/tiny.safetensors").unwrap();
/// assert_eq!(y, loaded.predict(&SVector::from([1.0, -1.0])));
/// ```
pub use nn_macros::embed;

/// What generated code names. Not a public API: it changes without notice.
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
