//! Inverted dropout: in training each value is zeroed with probability `p` and the survivors
//! are scaled by `1/(1 − p)`, so that the expected output equals the input and inference is
//! the identity (PyTorch's `nn.Dropout`).

use super::Training;
use crate::Real;
use crate::linalg::Batch;

/// The mask of one training pass over a batch of `columns` samples: each entry `0` with
/// probability `p`, else `1/(1 − p)`. The layer computes `h = x ⊙ mask` and, backward,
/// `dx = dh ⊙ mask`.
///
/// Entries are drawn column by column (sample by sample), one [`Training::uniform`] each;
/// an entry is dropped when its draw is below `p`. `p` is in `[0, 1)` (checked by
/// `network!`), so nothing divides by 0 and `p = 0` keeps everything.
pub fn dropout_mask<T: Real, const N: usize>(
    training: &mut Training,
    p: f64,
    columns: usize,
) -> Batch<T, N> {
    let keep = T::constant(1.0 / (1.0 - p));
    Batch::from_fn(columns, |_, _| {
        if training.uniform() < p {
            T::zero()
        } else {
            keep
        }
    })
}
