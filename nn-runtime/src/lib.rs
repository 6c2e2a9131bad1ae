#![doc = include_str!("../../README.md")]
#![warn(missing_docs)]
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod activation;
#[cfg(feature = "std")]
pub mod data;
#[cfg(feature = "std")]
pub mod gradcheck;
#[cfg(feature = "std")]
pub mod init;
#[cfg(feature = "std")]
pub mod io;
pub mod layer;
pub mod linalg;
pub mod loss;
mod network;
#[cfg(feature = "std")]
pub mod optim;
mod real;
#[cfg(feature = "std")]
pub mod train;

pub use activation::ActivationKind;
#[cfg(feature = "std")]
pub use gradcheck::{GradientCheck, check_gradient, check_gradient_batch};
#[cfg(feature = "std")]
pub use init::{Init, InitError, Scheme};
#[cfg(feature = "std")]
pub use io::WeightsError;
pub use layer::{Dense, LayerNorm, Linear, Zeroable};
pub use linalg::Batch;
pub use loss::{LossKind, one_hot, one_hot_checked};
pub use network::{Network, Parameters, TensorInfo, TensorRole};
#[cfg(feature = "std")]
pub use optim::Optimizer;
pub use real::Real;

/// The nalgebra this crate was built against; generated code and users share it.
pub use nalgebra;

/// Declares a network; see the [crate documentation](crate) for the grammar.
pub use nn_macros::network;

/// What generated code names. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::activation::*;
    pub use crate::layer::{add_column_sums, dense_batch, standardize, standardize_backward};
    pub use crate::linalg::{add_mul_tr, matmul, tr_matmul};
    pub use crate::loss::*;
    pub use crate::{
        ActivationKind, Batch, Dense, LayerNorm, Linear, LossKind, Network, Parameters, Real,
        TensorInfo, TensorRole, Zeroable,
    };
    pub use ::alloc::boxed::Box;
    pub use ::core;
    pub use nalgebra::{self, Const, Dyn, OMatrix, SMatrix, SVector};

    /// Panics: a batch's inputs and targets have different numbers of columns.
    #[inline]
    #[track_caller]
    pub fn check_batch_columns(inputs: usize, targets: usize) {
        assert!(
            inputs == targets,
            "the batch has {inputs} input columns but {targets} target columns; \
             give one target column per sample"
        );
    }

    /// Panics: `Parameters::tensor` was asked for a tensor that does not exist.
    #[cold]
    #[track_caller]
    pub fn tensor_index_out_of_range(index: usize, count: usize) -> ! {
        panic!("tensor index {index} is out of range: the network has {count} tensors")
    }
}
