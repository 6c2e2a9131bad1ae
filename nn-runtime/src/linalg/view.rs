//! Batches the generated batch methods read: an owned [`Batch`], or a [`BatchView`] of memory
//! the caller owns, such as samples in PyTorch's row-major `[n, N]` order, without a copy.

use alloc::borrow::Cow;

use nalgebra::{Const, Dyn, Matrix, MatrixView, Scalar, Storage};

#[cfg(doc)]
use super::Batch;
use crate::Real;

/// A batch of `N`-wide samples borrowed from memory, one sample per column: what
/// [`batch_view`] and [`batch_view_flat`] make of samples stored row-major.
///
/// Every generated batch method (`forward_batch`, `predict_batch`, `loss_batch`,
/// `backward_batch`, `*_batch_labels`) takes a [`BatchOf`] with any storage: a `&Batch` or a
/// `&BatchView`.
pub type BatchView<'a, T, const N: usize> = MatrixView<'a, T, Const<N>, Dyn>;

/// A matrix of `N` rows and one column per sample, with any storage `S` (owned for [`Batch`],
/// borrowed for [`BatchView`]): the input type of the generated batch methods.
pub type BatchOf<T, const N: usize, S> = Matrix<T, Const<N>, Dyn, S>;

/// The storage of a [`BatchOf`]: implemented for every nalgebra storage of `N` rows and a
/// run-time number of columns.
pub trait BatchStorage<T: Scalar, const N: usize>: Storage<T, Const<N>, Dyn> {}

impl<T: Scalar, const N: usize, S: Storage<T, Const<N>, Dyn>> BatchStorage<T, N> for S {}

/// Views samples stored one after another (`samples[i]` is sample `i`, PyTorch's `[n, N]`
/// layout) as a batch of `n` columns, without copying: row-major `[n, N]` memory is exactly
/// the column-major `N × n` matrix a batch is.
///
/// # Examples
///
/// ```
/// use nn_runtime::{Parameters, batch_view};
///
/// nn_runtime::network! {
///     struct Net { input: 3, h: dense(4, relu), out: dense(2), loss: mse }
/// }
/// let net = Net::<f32>::zeros();
/// let samples = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let x = batch_view(&samples);
/// assert_eq!((x.nrows(), x.ncols()), (3, 2));
/// assert_eq!(x[(2, 1)], 6.0); // feature 2 of sample 1
/// assert_eq!(net.forward_batch(&x).ncols(), 2);
/// ```
pub fn batch_view<T: Real, const N: usize>(samples: &[[T; N]]) -> BatchView<'_, T, N> {
    BatchView::from_slice_generic(samples.as_flattened(), Const::<N>, Dyn(samples.len()))
}

/// Views a flat slice of samples in row-major order (`N` values per sample, sample after
/// sample: a NumPy or PyTorch `[n, N]` array's buffer) as a batch of `n` columns, without
/// copying.
///
/// # Errors
/// [`RaggedSamples`] when the length is not a multiple of `N`.
///
/// # Examples
///
/// ```
/// use nn_runtime::batch_view_flat;
///
/// let pixels: Vec<f32> = (0..12).map(|i| i as f32).collect(); // 3 samples of 4
/// let x = batch_view_flat::<f32, 4>(&pixels)?;
/// assert_eq!(x.ncols(), 3);
/// assert_eq!(x.column(1).as_slice(), &[4.0, 5.0, 6.0, 7.0]);
/// let error = batch_view_flat::<f32, 5>(&pixels).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "12 values are not whole samples of 5 values (2 samples and 2 values left over); \
///      give n × 5 values, sample after sample"
/// );
/// # Ok::<(), nn_runtime::RaggedSamples>(())
/// ```
pub fn batch_view_flat<T: Real, const N: usize>(
    samples: &[T],
) -> Result<BatchView<'_, T, N>, RaggedSamples> {
    let (whole, rest) = samples.as_chunks::<N>();
    if !rest.is_empty() {
        return Err(RaggedSamples {
            len: samples.len(),
            width: N,
        });
    }
    Ok(batch_view(whole))
}

/// [`batch_view_flat`]'s error: the slice does not hold whole samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaggedSamples {
    /// The slice's length.
    pub len: usize,
    /// The values per sample (the network's input width).
    pub width: usize,
}

impl core::fmt::Display for RaggedSamples {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (len, width) = (self.len, self.width);
        write!(
            f,
            "{len} values are not whole samples of {width} values ({} samples and {} values \
             left over); give n × {width} values, sample after sample",
            len / width,
            len % width
        )
    }
}

impl core::error::Error for RaggedSamples {}

/// The column-major storage of a batch, borrowed when its columns are packed one after
/// another (a [`Batch`], a [`BatchView`] of samples), copied once otherwise (a view with other
/// strides, such as every other column of a batch).
pub(crate) fn packed<T: Real, const N: usize, S: BatchStorage<T, N>>(
    x: &BatchOf<T, N, S>,
) -> Cow<'_, [T]> {
    let n = x.ncols();
    let (row_stride, column_stride) = x.strides();
    if row_stride == 1 && (column_stride == N || n <= 1) {
        // SAFETY: with row stride 1 and column stride `N` (or a single column read with row
        // stride 1), the `N × n` elements occupy `N · n` consecutive slots from the first,
        // all within the storage.
        Cow::Borrowed(unsafe { x.data.as_slice_unchecked() })
    } else {
        Cow::Owned(x.iter().copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use crate::{Batch, Classifier, Network, Parameters, one_hot_batch};

    crate::network! {
        /// The input reaches a layer norm, a projection and a residual directly: every
        /// runtime function that reads `x` in the batch passes.
        struct Net {
            input: 4,
            n: layer_norm(tanh),
            h: dense(4, relu) + input,
            p: dense(3, gelu) + project(input),
            out: dense(3),
            loss: softmax_cross_entropy,
        }
    }

    fn net() -> Net<f64> {
        let mut net = Net::<f64>::zeros();
        for index in 0..Net::<f64>::TENSORS.len() {
            for (k, value) in net.tensor_mut(index).iter_mut().enumerate() {
                *value = (((index * 13 + k * 5) % 17) as f64 / 17.0 - 0.5) * 1.2;
            }
        }
        net
    }

    /// Row-major `[5, 4]` samples: sample `i` is `samples[4 i..4 i + 4]`.
    fn samples() -> Vec<f64> {
        (0..20).map(|k| ((k * 7 % 11) as f64 - 5.0) * 0.3).collect()
    }

    /// Every batch method gives the same bits from a view of the rows as from the batch the
    /// rows are copied into.
    #[test]
    fn a_view_of_rows_is_the_copied_batch() {
        let (net, rows) = (net(), samples());
        let view = batch_view_flat::<f64, 4>(&rows).expect("whole samples");
        let owned = Batch::<f64, 4>::from_fn(5, |i, j| rows[4 * j + i]);
        assert_eq!(view, owned);
        assert!(matches!(packed(&view), Cow::Borrowed(_)));
        let labels = [2, 0, 1, 1, 0];
        let targets = one_hot_batch::<f64, 3>(&labels);
        assert_eq!(net.forward_batch(&view), net.forward_batch(&owned));
        assert_eq!(net.predict_batch(&view), net.predict_batch(&owned));
        assert_eq!(
            net.loss_batch(&view, &targets),
            net.loss_batch(&owned, &targets)
        );
        assert_eq!(
            net.loss_batch_labels(&view, &labels),
            Network::loss_batch(&net, &owned, &targets)
        );
        let (mut from_view, mut from_owned) = (Net::<f64>::zeros(), Net::<f64>::zeros());
        let loss = net.backward_batch(&view, &targets, &mut from_view);
        assert_eq!(loss, net.backward_batch(&owned, &targets, &mut from_owned));
        Classifier::backward_batch_labels(&net, &view, &labels, &mut from_view);
        Classifier::backward_batch_labels(&net, &owned, &labels, &mut from_owned);
        for index in 0..Net::<f64>::TENSORS.len() {
            assert_eq!(from_view.tensor(index), from_owned.tensor(index));
            assert!(from_view.tensor(index).iter().any(|&g| g != 0.0));
        }
    }

    /// A view whose columns are not packed (every other sample) is copied once, and computes
    /// what its samples copied into a batch compute.
    #[test]
    fn a_strided_view_is_copied() {
        let (net, rows) = (net(), samples());
        let all = batch_view_flat::<f64, 4>(&rows).expect("whole samples");
        let every_other = all.columns_with_step(0, 3, 1);
        assert!(matches!(packed(&every_other), Cow::Owned(_)));
        let owned = Batch::<f64, 4>::from_fn(3, |i, j| rows[8 * j + i]);
        assert_eq!(every_other, owned);
        assert_eq!(net.forward_batch(&every_other), net.forward_batch(&owned));
        let targets = one_hot_batch::<f64, 3>(&[0, 1, 2]);
        let (mut a, mut b) = (Net::<f64>::zeros(), Net::<f64>::zeros());
        net.backward_batch(&every_other, &targets, &mut a);
        net.backward_batch(&owned, &targets, &mut b);
        assert_eq!(a.p_proj.weight, b.p_proj.weight);
    }

    #[test]
    fn arrays_and_flat_slices_view_the_same_samples() {
        let arrays = [[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let flat = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let view = batch_view(&arrays);
        assert_eq!(
            view,
            batch_view_flat::<f32, 2>(&flat).expect("whole samples")
        );
        assert_eq!(view.column(2).as_slice(), [5.0, 6.0]);
        assert_eq!(view.as_ptr(), arrays.as_flattened().as_ptr()); // no copy
        assert_eq!(batch_view::<f32, 2>(&[]).ncols(), 0);
        assert_eq!(
            batch_view_flat::<f32, 4>(&flat),
            Err(RaggedSamples { len: 6, width: 4 })
        );
    }
}
