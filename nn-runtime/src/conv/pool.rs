//! Pooling, for one sample (`SVector`) or a batch (`Batch`, one sample per column): each column
//! is pooled alone, with direct loops.

use nalgebra::allocator::Allocator;
use nalgebra::{Const, DefaultAllocator, Dim, OMatrix};

use super::Window;
use crate::Real;

/// A sample or a batch of `N`-wide samples, one per column.
type Columns<T, const N: usize, C> = OMatrix<T, Const<N>, C>;

/// `y = f(x)` column by column, `f` writing one output column from one input column.
#[inline]
fn map_columns<T: Real, const IN: usize, const OUT: usize, C: Dim>(
    x: &Columns<T, IN, C>,
    f: impl Fn(&[T], &mut [T]),
) -> Columns<T, OUT, C>
where
    DefaultAllocator: Allocator<Const<IN>, C> + Allocator<Const<OUT>, C>,
{
    let columns = x.shape_generic().1;
    let mut y = Columns::<T, OUT, C>::zeros_generic(Const::<OUT>, columns);
    for (x, y) in x
        .as_slice()
        .chunks_exact(IN.max(1))
        .zip(y.as_mut_slice().chunks_exact_mut(OUT.max(1)))
    {
        f(x, y);
    }
    y
}

/// The input of each window position, in window order: `f(out_at, x_at)` for every output
/// position `out_at` of channel `c` and every input `x_at` its window covers (no padding, no
/// dilation: pooling windows lie inside the input, which `network!` checks).
#[inline]
fn for_each_tap(window: &Window, c: usize, mut f: impl FnMut(usize, usize)) {
    let [height, width] = window.input;
    let [out_height, out_width] = window.output;
    for oh in 0..out_height {
        for ow in 0..out_width {
            let out_at = (c * out_height + oh) * out_width + ow;
            for kh in 0..window.kernel[0] {
                let ih = oh * window.stride[0] + kh;
                for kw in 0..window.kernel[1] {
                    let iw = ow * window.stride[1] + kw;
                    f(out_at, (c * height + ih) * width + iw);
                }
            }
        }
    }
}

/// Max pooling (PyTorch's `nn.MaxPool1d/2d`, no padding): each output is the largest input of
/// its window, per channel; NaN if the window holds a NaN (as PyTorch).
#[inline]
pub fn max_pool<T: Real, const IN: usize, const OUT: usize, C: Dim>(
    x: &Columns<T, IN, C>,
    window: &Window,
) -> Columns<T, OUT, C>
where
    DefaultAllocator: Allocator<Const<IN>, C> + Allocator<Const<OUT>, C>,
{
    window.check(IN, OUT, window.channels);
    map_columns(x, |x, y| match super::tiled::tiles(window) {
        true => super::tiled::pool(x, y, window, super::tiled::Max),
        false => max_pool_slices(x, y, window),
    })
}

/// [`max_pool`] of one sample, row by row: each output row takes the running maximum over the
/// window's taps, one pass over the row per tap (no data-dependent branch). Any window; those
/// that tile their input take [`tiled`](super::tiled), which gives the same bits.
pub(super) fn max_pool_slices<T: Real>(x: &[T], y: &mut [T], window: &Window) {
    let ([height, width], [out_height, out_width]) = (window.input, window.output);
    let ([kernel_h, kernel_w], [stride_h, stride_w]) = (window.kernel, window.stride);
    for (x, y) in x
        .chunks_exact(height * width)
        .zip(y.chunks_exact_mut(out_height * out_width))
    {
        for (oh, y) in y.chunks_exact_mut(out_width).enumerate() {
            let mut nan = false;
            for kh in 0..kernel_h {
                let row = &x[(oh * stride_h + kh) * width..][..width];
                for kw in 0..kernel_w {
                    let first = kh == 0 && kw == 0;
                    // The common strides as constants, so that the pass vectorizes.
                    nan |= match stride_w {
                        1 => max_pass::<T, 1>(y, &row[kw..], 1, first),
                        2 => max_pass::<T, 2>(y, &row[kw..], 2, first),
                        _ => max_pass::<T, 0>(y, &row[kw..], stride_w, first),
                    };
                }
            }
            if nan {
                // Rare: find the windows that hold a NaN and make their output NaN.
                for (ow, y) in y.iter_mut().enumerate() {
                    for kh in 0..kernel_h {
                        let row = &x[(oh * stride_h + kh) * width..][..width];
                        for kw in 0..kernel_w {
                            if is_nan(row[ow * stride_w + kw]) {
                                *y = row[ow * stride_w + kw];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `y[j] = max(y[j], row[j·stride])` for every output `j` of a row (`y[j] = row[j·stride]` when
/// `first`), `stride` being `S` when `S` is not 0; whether a NaN was read.
#[inline(always)]
fn max_pass<T: Real, const S: usize>(y: &mut [T], row: &[T], stride: usize, first: bool) -> bool {
    let stride = if S == 0 { stride } else { S };
    // Once here, so that the loop reads without a check per element.
    assert!(y.is_empty() || (y.len() - 1) * stride < row.len());
    let mut nan = false;
    for (j, y) in y.iter_mut().enumerate() {
        let v = row[j * stride];
        *y = if first || v > *y { v } else { *y };
        nan |= is_nan(v);
    }
    nan
}

/// `∂L/∂x` of [`max_pool`]: each output's gradient goes to the first largest input of its window
/// (the one PyTorch picks), found again in `x`.
#[inline]
pub fn max_pool_backward<T: Real, const IN: usize, const OUT: usize, C: Dim>(
    x: &Columns<T, IN, C>,
    dy: &Columns<T, OUT, C>,
    window: &Window,
) -> Columns<T, IN, C>
where
    DefaultAllocator: Allocator<Const<IN>, C> + Allocator<Const<OUT>, C>,
{
    window.check(IN, OUT, window.channels);
    let mut dx = Columns::<T, IN, C>::zeros_generic(Const::<IN>, x.shape_generic().1);
    let ([height, width], [out_height, out_width]) = (window.input, window.output);
    let ([kernel_h, kernel_w], [stride_h, stride_w]) = (window.kernel, window.stride);
    let (plane, out_plane) = (height * width, out_height * out_width);
    let planes = x
        .as_slice()
        .chunks_exact(plane)
        .zip(dy.as_slice().chunks_exact(out_plane))
        .zip(dx.as_mut_slice().chunks_exact_mut(plane));
    for ((x, dy), dx) in planes {
        for (oh, dy) in dy.chunks_exact(out_width).enumerate() {
            let top = oh * stride_h * width;
            for (ow, &dy) in dy.iter().enumerate() {
                // The window's first largest input, found without a data-dependent branch
                // (which the processor would mispredict about every other window).
                let corner = top + ow * stride_w;
                let (mut best, mut best_at) = (x[corner], corner);
                for kh in 0..kernel_h {
                    let row = &x[corner + kh * width..][..kernel_w];
                    for (kw, &v) in row.iter().enumerate() {
                        let take = v > best || (is_nan(v) & !is_nan(best));
                        best = if take { v } else { best };
                        best_at = if take {
                            corner + kh * width + kw
                        } else {
                            best_at
                        };
                    }
                }
                dx[best_at] += dy;
            }
        }
    }
    dx
}

/// Average pooling (PyTorch's `nn.AvgPool1d/2d`, no padding): each output is the mean of its
/// window, per channel.
#[inline]
pub fn avg_pool<T: Real, const IN: usize, const OUT: usize, C: Dim>(
    x: &Columns<T, IN, C>,
    window: &Window,
) -> Columns<T, OUT, C>
where
    DefaultAllocator: Allocator<Const<IN>, C> + Allocator<Const<OUT>, C>,
{
    window.check(IN, OUT, window.channels);
    let mean = super::tiled::Mean {
        scale: scale(window),
    };
    map_columns(x, |x, y| match super::tiled::tiles(window) {
        true => super::tiled::pool(x, y, window, mean),
        false => avg_pool_slices(x, y, window),
    })
}

/// `1 / window size`: what [`avg_pool`] scales each window's sum by.
fn scale<T: Real>(window: &Window) -> T {
    T::one() / T::constant((window.kernel[0] * window.kernel[1]) as f64)
}

/// [`avg_pool`] of one sample into `y` (zeroed by the caller): each window summed in window
/// order, then scaled. Any window; those that tile their input take
/// [`tiled`](super::tiled), which gives the same bits.
pub(super) fn avg_pool_slices<T: Real>(x: &[T], y: &mut [T], window: &Window) {
    let scale = scale::<T>(window);
    for c in 0..window.channels {
        for_each_tap(window, c, |out_at, x_at| y[out_at] += x[x_at]);
    }
    y.iter_mut().for_each(|y| *y *= scale);
}

/// `∂L/∂x` of [`avg_pool`]: each output's gradient spread evenly over its window.
#[inline]
pub fn avg_pool_backward<T: Real, const IN: usize, const OUT: usize, C: Dim>(
    dy: &Columns<T, OUT, C>,
    window: &Window,
) -> Columns<T, IN, C>
where
    DefaultAllocator: Allocator<Const<IN>, C> + Allocator<Const<OUT>, C>,
{
    window.check(IN, OUT, window.channels);
    let scale = T::one() / T::constant((window.kernel[0] * window.kernel[1]) as f64);
    map_columns(dy, |dy, dx| {
        for c in 0..window.channels {
            for_each_tap(window, c, |out_at, x_at| dx[x_at] += dy[out_at] * scale);
        }
    })
}

/// Global average pooling: `[C, H, W]` (or `[C, L]`) → `[C]`, each channel's mean (PyTorch's
/// `nn.AdaptiveAvgPool2d(1)` then flatten).
#[inline]
pub fn global_avg_pool<T: Real, const IN: usize, const OUT: usize, C: Dim>(
    x: &Columns<T, IN, C>,
) -> Columns<T, OUT, C>
where
    DefaultAllocator: Allocator<Const<IN>, C> + Allocator<Const<OUT>, C>,
{
    let plane = plane::<IN, OUT>();
    let scale = T::one() / T::constant(plane as f64);
    map_columns(x, |x, y| {
        for (y, x) in y.iter_mut().zip(x.chunks_exact(plane)) {
            *y = x.iter().fold(T::zero(), |sum, &v| sum + v) * scale;
        }
    })
}

/// `∂L/∂x` of [`global_avg_pool`]: each channel's gradient spread evenly over its positions.
#[inline]
pub fn global_avg_pool_backward<T: Real, const IN: usize, const OUT: usize, C: Dim>(
    dy: &Columns<T, OUT, C>,
) -> Columns<T, IN, C>
where
    DefaultAllocator: Allocator<Const<IN>, C> + Allocator<Const<OUT>, C>,
{
    let plane = plane::<IN, OUT>();
    let scale = T::one() / T::constant(plane as f64);
    map_columns(dy, |dy, dx| {
        for (dx, &dy) in dx.chunks_exact_mut(plane).zip(dy) {
            dx.iter_mut().for_each(|dx| *dx = dy * scale);
        }
    })
}

/// Positions per channel of a global pool from `IN` inputs to `OUT` channels.
fn plane<const IN: usize, const OUT: usize>() -> usize {
    assert!(
        OUT > 0 && IN.is_multiple_of(OUT) && IN > 0,
        "nn-runtime internal error: global pool of {IN} inputs into {OUT} channels"
    );
    IN / OUT
}

/// Whether `x` is NaN (`Real` has no `is_nan`): NaN is the one value unequal to itself.
#[allow(clippy::eq_op)]
pub(super) fn is_nan<T: Real>(x: T) -> bool {
    x != x
}
