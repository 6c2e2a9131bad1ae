//! Matrix products for minibatches, on `matrixmultiply`, and for single samples.
//!
//! nalgebra multiplies statically-sized matrices with its own loops and transposes by copying;
//! a batch (samples as columns, a [`Dyn`] column count) goes here instead, where every product
//! is one GEMM call with strides, and a transpose is only a swap of strides.
//!
//! # Threads
//!
//! With the `std` feature, a large batch product (at least [`PARALLEL_MIN_MACS`]
//! multiply-adds) called from inside a rayon thread pool is split into one block of rows or
//! columns per thread of that pool; outside a pool every product runs on the calling thread.
//! So a training step runs on two threads when it runs inside a two-thread pool, which is
//! what [`fit`](crate::train::fit) does for `TrainConfig { threads: 2, .. }`:
//!
//! ```
//! # use nn_runtime::{Batch, Parameters};
//! nn_runtime::network! {
//!     struct Net { input: 784, h: dense(512, relu), out: dense(10), loss: softmax_cross_entropy }
//! }
//! let net = Net::<f32>::boxed_zeros();
//! let mut grad = Net::<f32>::boxed_zeros();
//! let x = Batch::<f32, 784>::from_element(128, 0.5);
//! let labels = [3; 128];
//! let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
//! let loss = pool.install(|| net.backward_batch_labels(&x, &labels, &mut grad));
//! assert!((loss - 10f32.ln()).abs() < 1e-5); // zero weights: a uniform prediction
//! ```
//!
//! Element-wise passes over at least [`PARALLEL_MIN_ELEMENTS`] values split the same way
//! inside a pool: an optimizer's `step` and [`Parameters::fill`](crate::Parameters::fill)
//! (clearing a gradient), and in the generated batch code the activations and their backward
//! passes ([`activation`](crate::activation)), the bias added to every column
//! ([`dense_batch`](crate::layer::dense_batch)) and the bias gradient summed over the columns
//! ([`add_column_sums`](crate::layer::add_column_sums)). Each element is computed by the same
//! expression on any thread, so the weights after a step are bit for bit those of one thread.

#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod avx512;
#[cfg(feature = "alloc")]
mod batch;
mod sample;
mod simd;
pub(crate) mod split;
#[cfg(feature = "alloc")]
mod view;

#[cfg(feature = "alloc")]
use nalgebra::{Const, Dyn, OMatrix};

#[cfg(feature = "alloc")]
pub use batch::{PARALLEL_MIN_MACS, add_mul_tr, matmul, tr_matmul};
#[cfg(feature = "alloc")]
pub(crate) use batch::{View, gemm};
pub use sample::{Fused, affine_fused, affine_output};
pub use sample::{
    add_matvec, add_outer, descend, descend_outer, matvec, tr_matvec, tr_matvec_descend,
};
pub(crate) use simd::madd;
pub use split::PARALLEL_MIN_ELEMENTS;
#[cfg(feature = "alloc")]
pub use view::{BatchOf, BatchStorage, BatchView, RaggedSamples, batch_view, batch_view_flat};

/// A minibatch of `N`-wide vectors, one sample per column: `OMatrix<T, Const<N>, Dyn>`.
///
/// Feature sizes stay static, so a shape mistake is a type error; the batch size is chosen at
/// run time.
#[cfg(feature = "alloc")]
pub type Batch<T, const N: usize> = OMatrix<T, Const<N>, Dyn>;
