//! Convolution and pooling over channels-first samples, for the layers `network!` generates
//! (`conv1d`, `conv2d`, `max_pool`, `avg_pool`, `global_avg_pool`).
//!
//! # Layout
//!
//! A sample of shape `[C, H, W]` (or `[C, L]`) travels as an `SVector<T, {C·H·W}>` in PyTorch's
//! contiguous order: channel, then row, then column, so element `(c, h, w)` sits at
//! `(c·H + h)·W + w`. A batch is a [`Batch`](crate::Batch), one such vector per column. A 1-D
//! signal `[C, L]` is the image `[C, 1, L]`: one code path serves both.
//!
//! A convolution's weight is PyTorch's `[out, in, kh, kw]` (`[out, in, k]` in 1-D), row-major.
//! nalgebra stores the matrix `[in·kh·kw, out]` column-major, which is the same bytes: the
//! parameter is an `SMatrix<T, FAN_IN, OUT>` whose column `o` is output channel `o`'s kernel.
//!
//! # Per sample and per batch
//!
//! One sample runs direct loops ([`conv`], [`conv_backward_input`], …), which allocate nothing;
//! a batch gathers the input patches (im2col) and runs one GEMM per chunk of samples
//! ([`conv_batch`], [`conv_grad_batch`], [`conv_backward_input_batch`]), on the same
//! `matrixmultiply` path as the dense layers' batch products (threads included).

#[cfg(feature = "alloc")]
mod batch;
mod direct;
mod pool;
mod rows;
mod sample;
#[cfg(test)]
mod tests;
mod tiled;

use nalgebra::{SMatrix, SVector};

use crate::Real;
use crate::layer::Zeroable;

#[cfg(feature = "alloc")]
pub use batch::{conv_backward_input_batch, conv_batch, conv_grad_batch, conv_relu_batch};
pub use pool::{
    avg_pool, avg_pool_backward, global_avg_pool, global_avg_pool_backward, max_pool,
    max_pool_backward,
};
pub use sample::{conv, conv_backward_input, conv_descend, conv_grad, conv_relu};

/// `max(z, 0)`, computed as [`relu`](crate::activation::relu) computes it (a NaN gives 0), for
/// the convolutions that apply relu as they store ([`conv_relu`]).
#[inline(always)]
fn relu<T: Real>(z: T) -> T {
    if z > T::zero() { z } else { T::zero() }
}

/// A sample already laid out as the network reads it (for a feature map, PyTorch's contiguous
/// C×H×W order) viewed as the `SVector` that `forward`, `predict` and `backward` take, without
/// copying. From a slice, convert to an array reference first; a slice of another length is
/// an error there, never a wrong read:
///
/// ```
/// use nn_runtime::conv::as_sample;
///
/// let pixels: Vec<f32> = (0..2 * 3 * 4).map(|i| i as f32).collect(); // [2, 3, 4], C×H×W
/// let x = as_sample::<f32, 24>(pixels.as_slice().try_into().unwrap());
/// assert_eq!(x[(1 * 3 + 2) * 4 + 3], 23.0); // element (c = 1, h = 2, w = 3)
/// assert!(<&[f32; 24]>::try_from(&pixels[1..]).is_err());
/// ```
pub fn as_sample<T: Real, const N: usize>(values: &[T; N]) -> &SVector<T, N> {
    // SAFETY: `SVector<T, N>` is `Matrix<T, Const<N>, Const<1>, ArrayStorage<T, N, 1>>`;
    // `Matrix` is `repr(C)` with its storage first and only zero-sized markers after it, and
    // `ArrayStorage` is `repr(transparent)` over `[[T; N]; 1]`: the same size, alignment and
    // bytes as `[T; N]`. The lifetime and immutability carry over.
    unsafe { &*(values as *const [T; N]).cast::<SVector<T, N>>() }
}

/// A convolution's parameters: `z[o] = b[o] + Σ_{i,kh,kw} W[o, i, kh, kw] · x[i, ·, ·]`, weight
/// `[out, in, kh, kw]` (PyTorch's `nn.Conv2d`; `[out, in, k]` for `nn.Conv1d`), bias `[out]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv<T, const FAN_IN: usize, const OUT: usize> {
    /// `W`, PyTorch's `[out, in, kh, kw]` row-major, stored as nalgebra's `[in·kh·kw, out]`
    /// column-major (the same bytes).
    pub weight: SMatrix<T, FAN_IN, OUT>,
    /// `b`, `[out]`.
    pub bias: SVector<T, OUT>,
}

/// A convolution without bias: `conv1d(.., bias = false)`, `conv2d(.., bias = false)`, and the
/// learned 1×1 projection of a residual between feature maps of different channel counts.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvNoBias<T, const FAN_IN: usize, const OUT: usize> {
    /// `W`, as [`Conv::weight`].
    pub weight: SMatrix<T, FAN_IN, OUT>,
}

/// Every parameter 0, as `Parameters::zeros` leaves them.
impl<T: Real, const FAN_IN: usize, const OUT: usize> Default for Conv<T, FAN_IN, OUT> {
    fn default() -> Self {
        Self {
            weight: SMatrix::zeros(),
            bias: SVector::zeros(),
        }
    }
}

/// Every parameter 0, as `Parameters::zeros` leaves them.
impl<T: Real, const FAN_IN: usize, const OUT: usize> Default for ConvNoBias<T, FAN_IN, OUT> {
    fn default() -> Self {
        Self {
            weight: SMatrix::zeros(),
        }
    }
}

// SAFETY: structs of nalgebra `ArrayStorage`s of a `Real` scalar, i.e. plain floats.
unsafe impl<T: Real, const FAN_IN: usize, const OUT: usize> Zeroable for Conv<T, FAN_IN, OUT> {}
// SAFETY: as above.
unsafe impl<T: Real, const FAN_IN: usize, const OUT: usize> Zeroable
    for ConvNoBias<T, FAN_IN, OUT>
{
}

/// The geometry of a convolution or pooling window over one channels-first sample: the input
/// `[channels, height, width]`, the kernel, stride, zero padding before each axis (top, left),
/// dilation, and the output's `[height, width]`. A 1-D signal `[C, L]` has height 1 and a
/// kernel of height 1.
///
/// Padding after each axis is implied by the output size: `same` padding with an even kernel
/// pads one more at the end, as PyTorch does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Input channels.
    pub channels: usize,
    /// Input `[height, width]`.
    pub input: [usize; 2],
    /// Kernel `[height, width]`.
    pub kernel: [usize; 2],
    /// Stride `[vertical, horizontal]`.
    pub stride: [usize; 2],
    /// Zeros before the first row and column.
    pub padding: [usize; 2],
    /// Dilation `[vertical, horizontal]`: taps `dilation` apart.
    pub dilation: [usize; 2],
    /// Output `[height, width]`.
    pub output: [usize; 2],
}

impl Window {
    /// Scalars of one input sample: `channels · height · width`.
    pub const fn input_len(&self) -> usize {
        self.channels * self.input[0] * self.input[1]
    }

    /// Positions of the output: `height · width`.
    pub const fn positions(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// Taps of one output channel: `channels · kh · kw` (a convolution's fan-in).
    pub const fn taps(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// Checks that the sizes a kernel is instantiated with fit the window (a bug in the
    /// generated code otherwise, never a user's mistake: `network!` computes both).
    #[inline]
    fn check(&self, input: usize, output: usize, out_channels: usize) {
        assert!(
            input == self.input_len() && output == out_channels * self.positions(),
            "nn-runtime internal error: window {self:?} does not fit {input} inputs and \
             {output} outputs"
        );
    }

    /// The outputs `o` along axis `axis` whose tap at kernel offset `k` reads a row or column
    /// inside the input (`0 ≤ o·stride + k·dilation − padding < input`).
    #[inline]
    fn valid(&self, axis: usize, k: usize) -> core::ops::Range<usize> {
        let (stride, offset) = (self.stride[axis], k * self.dilation[axis]);
        let (padding, input) = (self.padding[axis], self.input[axis]);
        let first = padding.saturating_sub(offset).div_ceil(stride);
        let end = if input + padding > offset {
            ((input + padding - offset - 1) / stride + 1).min(self.output[axis])
        } else {
            0
        };
        first.min(end)..end
    }

    /// Calls `f(tap, x_at, z_at, n)` for every kernel tap of input channel `ci` and every output
    /// row it reaches: the `n` consecutive outputs of one row from `z_at` (within one output
    /// channel's plane) read the inputs from `x_at`, `stride[1]` apart. `tap` is
    /// `(kh·kw_len + kw)`, the tap's index within the channel's kernel.
    #[inline]
    fn rows(&self, ci: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
        let [height, width] = self.input;
        let out_width = self.output[1];
        for kh in 0..self.kernel[0] {
            let rows = self.valid(0, kh);
            for kw in 0..self.kernel[1] {
                let cols = self.valid(1, kw);
                if cols.is_empty() {
                    continue;
                }
                let tap = kh * self.kernel[1] + kw;
                for oh in rows.clone() {
                    let ih = oh * self.stride[0] + kh * self.dilation[0] - self.padding[0];
                    let iw = cols.start * self.stride[1] + kw * self.dilation[1] - self.padding[1];
                    let x_at = (ci * height + ih) * width + iw;
                    f(tap, x_at, oh * out_width + cols.start, cols.len());
                }
            }
        }
    }
}

impl<T: Real, const FAN_IN: usize, const OUT: usize> Conv<T, FAN_IN, OUT> {
    /// The convolution from the tensors `weight` (`shape`, PyTorch's) and `bias` (`[OUT]`) of
    /// `source`; panics at compile time if either is missing or misshapen.
    #[doc(hidden)]
    #[track_caller]
    pub const fn embedded(
        source: &crate::embed::EmbedSource,
        weight: &str,
        shape: &[usize],
        bias: &str,
    ) -> Self {
        Self {
            weight: source.matrix::<T, FAN_IN, OUT>(weight, shape),
            bias: source.matrix::<T, OUT, 1>(bias, &[OUT]),
        }
    }
}

impl<T: Real, const FAN_IN: usize, const OUT: usize> ConvNoBias<T, FAN_IN, OUT> {
    /// The convolution from the tensor `weight` (`shape`, PyTorch's) of `source`; panics at
    /// compile time if it is missing or misshapen.
    #[doc(hidden)]
    #[track_caller]
    pub const fn embedded(
        source: &crate::embed::EmbedSource,
        weight: &str,
        shape: &[usize],
    ) -> Self {
        Self {
            weight: source.matrix::<T, FAN_IN, OUT>(weight, shape),
        }
    }
}

/// What a convolution or pooling layer computes, as
/// [`LayerKind::Spatial`](crate::LayerKind::Spatial) records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Spatial {
    /// `conv1d` or `conv2d`: `z = W ⋆ x + b` over `window` (`nn.Conv1d`/`nn.Conv2d`).
    Conv {
        /// 1 for `conv1d` (PyTorch's `[out, in, k]` weight), 2 for `conv2d`.
        dims: usize,
        /// Output channels.
        out_channels: usize,
        /// The input, kernel, stride, padding, dilation and output.
        window: Window,
        /// Whether the layer has a bias.
        bias: bool,
    },
    /// `max_pool`: the largest input of each window, per channel.
    MaxPool(Window),
    /// `avg_pool`: the mean of each window, per channel.
    AvgPool(Window),
    /// `global_avg_pool`: each channel's mean, `[C, ..] → [C]`.
    GlobalAvgPool {
        /// Channels (the output's width).
        channels: usize,
    },
}

/// Columns per piece of [`in_column_chunks`]: a LeNet's feature maps for 64 samples fit in a
/// few MiB of cache, where a whole evaluation batch (a thousand samples) would not.
pub const FORWARD_CHUNK: usize = 64;

#[cfg(feature = "alloc")]
/// `f` on the columns of `x`, [`FORWARD_CHUNK`] at a time, the outputs side by side: what the
/// `forward_batch` of a network with feature maps does, so that a large batch runs in
/// cache-sized pieces (with `std`, on the threads of the caller's rayon pool, one piece each).
pub fn in_column_chunks<T: Real, const IN: usize, const OUT: usize>(
    x: &crate::Batch<T, IN>,
    f: impl Fn(&crate::Batch<T, IN>) -> crate::Batch<T, OUT> + Sync,
) -> crate::Batch<T, OUT> {
    let n = x.ncols();
    if n <= FORWARD_CHUNK {
        return f(x);
    }
    let piece = |start: usize| f(&x.columns(start, FORWARD_CHUNK.min(n - start)).into_owned());
    let starts: alloc::vec::Vec<usize> = (0..n).step_by(FORWARD_CHUNK).collect();
    // Threads only inside a pool, as the batch products (outside one, the calling thread).
    #[cfg(feature = "std")]
    let pieces: alloc::vec::Vec<crate::Batch<T, OUT>> = if rayon::current_thread_index().is_some() {
        use rayon::prelude::*;
        starts.par_iter().map(|&start| piece(start)).collect()
    } else {
        starts.iter().map(|&start| piece(start)).collect()
    };
    #[cfg(not(feature = "std"))]
    let pieces: alloc::vec::Vec<crate::Batch<T, OUT>> =
        starts.iter().map(|&start| piece(start)).collect();
    let mut y = crate::Batch::<T, OUT>::zeros(n);
    for (start, piece) in starts.iter().zip(&pieces) {
        y.columns_mut(*start, piece.ncols()).copy_from(piece);
    }
    y
}
