//! What generated code names (`::nn_runtime::__private::…`). Not a public API: it changes
//! without notice. Only `pub use` lines: every item lives beside its topic.

pub use crate::__impl_zeroable as impl_zeroable;
pub use crate::__require_alloc as require_alloc;
pub use crate::__with_alloc as with_alloc;
pub use crate::activation::*;
pub use crate::blocks::{
    act, dense_backward, dense_forward, dense_grad, dense_grad_backward, dense_output,
    dense_residual_forward, dense_residual_output, dense_sgd, dense_sgd_backward,
};
#[cfg(feature = "alloc")]
pub use crate::blocks::{
    dense_backward_batch, dense_forward_batch, dense_grad_backward_batch, dense_grad_batch,
    dense_residual_forward_batch,
};
pub use crate::conv::*;
pub use crate::dual::WithScalar;
pub use crate::embed::{EmbedSource, EmbeddedTensor};
pub use crate::inference::Trainable;
#[cfg(feature = "alloc")]
pub use crate::layer::dense_batch;
pub use crate::layer::{add_column_sums, standardize, standardize_backward};
#[cfg(feature = "alloc")]
pub use crate::linalg::{add_mul_tr, matmul, tr_matmul};
pub use crate::linalg::{add_outer, descend, descend_outer, matvec, tr_matvec, tr_matvec_descend};
pub use crate::loss::*;
pub use crate::mode::{BatchNorm, Training};
#[cfg(feature = "alloc")]
pub use crate::mode::{
    batch_mean, batch_normalize, batch_normalize_backward, batch_variance, dropout_mask,
};
pub use crate::network::{check_batch_columns, tensor_index_out_of_range};
#[cfg(feature = "alloc")]
pub use crate::recurrent::private::*;
pub use crate::{
    ActivationKind, Dense, LayerNorm, Linear, LossKind, Network, Parameters, Real, TensorInfo,
    TensorRole, Zeroable,
};
#[cfg(feature = "alloc")]
pub use crate::{Batch, BatchOf, BatchStorage};
pub use crate::{Classifier, LayerInfo, LayerKind, ResidualInfo, ResidualSource};
#[cfg(feature = "alloc")]
pub use ::alloc::boxed::Box;
pub use ::core;
pub use nalgebra::{self, Const, Dyn, OMatrix, SMatrix, SVector};
