//! What generated code names (`::nn_runtime::__private::…`). Not a public API: it changes
//! without notice. Only `pub use` lines: every item lives beside its topic.

pub use crate::__impl_zeroable as impl_zeroable;
pub use crate::activation::*;
pub use crate::conv::*;
pub use crate::embed::{EmbedSource, EmbeddedTensor};
pub use crate::layer::{add_column_sums, dense_batch, standardize, standardize_backward};
pub use crate::linalg::{
    add_mul_tr, add_outer, descend, descend_outer, matmul, matvec, tr_matmul, tr_matvec,
    tr_matvec_descend,
};
pub use crate::loss::*;
pub use crate::network::{check_batch_columns, tensor_index_out_of_range};
pub use crate::{
    ActivationKind, Batch, Dense, LayerNorm, Linear, LossKind, Network, Parameters, Real,
    TensorInfo, TensorRole, Zeroable,
};
pub use crate::{LayerInfo, LayerKind, ResidualInfo, ResidualSource};
pub use ::alloc::boxed::Box;
pub use ::core;
pub use nalgebra::{self, Const, Dyn, OMatrix, SMatrix, SVector};
