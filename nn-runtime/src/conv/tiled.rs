//! The pools whose windows tile their input: kernel = stride, no padding, no dilation (the
//! common `max_pool(2)` of a feature map or a signal, `avg_pool(k)` likewise). One sample at a
//! time, a block of consecutive outputs of one row at a time (8, then 4, then 1), the block's
//! running values in a small array that the compiler keeps in one vector register, each tap
//! of the window one pass over the block. The body is compiled for AVX-512F, AVX2 and the
//! target's baseline and chosen at run time (with `std` on x86-64; the baseline elsewhere).
//!
//! Each output folds the inputs of its window in window order (kernel row, then column), as
//! the general loops of [`pool`](super::pool) do, with the same arithmetic: the results are
//! the same bits (the largest input, the window's last NaN if it holds one; the mean summed
//! from 0 in window order, then scaled).

use super::Window;
use crate::Real;

/// Whether the windows of `window` tile its input (kernel = stride, no padding, no dilation):
/// the pools that [`pool`] computes.
pub(super) fn tiles(window: &Window) -> bool {
    window.kernel == window.stride && window.padding == [0, 0] && window.dilation == [1, 1]
}

/// A pool's arithmetic over one window: `finish(next(…next(first(x₀), x₁)…, xₙ))`, the inputs
/// in window order.
pub(super) trait Reduce<T>: Copy {
    /// The running value after the window's first input.
    fn first(self, v: T) -> T;
    /// The running value after one more input.
    fn next(self, acc: T, v: T) -> T;
    /// The output from the running value after the window's last input.
    fn finish(self, acc: T) -> T;
}

/// Max pooling: the largest input; a NaN when the window holds one (its last, as the general
/// loops leave it).
#[derive(Clone, Copy)]
pub(super) struct Max;

impl<T: Real> Reduce<T> for Max {
    #[inline(always)]
    fn first(self, v: T) -> T {
        v
    }

    #[inline(always)]
    fn next(self, acc: T, v: T) -> T {
        if v > acc || super::pool::is_nan(v) {
            v
        } else {
            acc
        }
    }

    #[inline(always)]
    fn finish(self, acc: T) -> T {
        acc
    }
}

/// Average pooling: the sum from 0 in window order, times `scale = 1 / window size`.
#[derive(Clone, Copy)]
pub(super) struct Mean<T> {
    pub scale: T,
}

impl<T: Real> Reduce<T> for Mean<T> {
    #[inline(always)]
    fn first(self, v: T) -> T {
        T::zero() + v
    }

    #[inline(always)]
    fn next(self, acc: T, v: T) -> T {
        acc + v
    }

    #[inline(always)]
    fn finish(self, acc: T) -> T {
        acc * self.scale
    }
}

/// `y` = `reduce` over each window of the sample `x` (`[C, H, W]` flattened, `y` `[C, oh, ow]`)
/// for a `window` that [`tiles`] its input, on the best instruction set this CPU has.
#[inline]
pub(super) fn pool<T: Real, R: Reduce<T>>(x: &[T], y: &mut [T], window: &Window, reduce: R) {
    debug_assert!(tiles(window));
    // The rows the windows of one output row read lie inside the input (checked once here,
    // so that the loops below index without a check per element).
    let ([height, width], [out_height, out_width]) = (window.input, window.output);
    assert!(
        x.len() == window.input_len()
            && y.len() == window.channels * out_height * out_width
            && out_height * window.kernel[0] <= height
            && out_width * window.kernel[1] <= width,
        "nn-runtime internal error: window {window:?} does not tile its input"
    );
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        #[target_feature(enable = "avx512f,avx2")]
        fn avx512<T: Real, R: Reduce<T>>(x: &[T], y: &mut [T], window: &Window, reduce: R) {
            by_shape(x, y, window, reduce);
        }
        #[target_feature(enable = "avx2")]
        fn avx2<T: Real, R: Reduce<T>>(x: &[T], y: &mut [T], window: &Window, reduce: R) {
            by_shape(x, y, window, reduce);
        }
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX-512F and AVX2 (checked just above).
            return unsafe { avx512(x, y, window, reduce) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { avx2(x, y, window, reduce) };
        }
    }
    by_shape(x, y, window, reduce);
}

/// [`rows`] with the common window shapes (2×2, 1×2 and widths 1 and 2) as constants, so that
/// the taps of a block are fixed lanes of its inputs.
#[inline(always)]
fn by_shape<T: Real, R: Reduce<T>>(x: &[T], y: &mut [T], window: &Window, reduce: R) {
    match window.kernel {
        [2, 2] => rows::<T, R, 2, 2>(x, y, window, reduce),
        [1, 2] => rows::<T, R, 1, 2>(x, y, window, reduce),
        [_, 1] => rows::<T, R, 0, 1>(x, y, window, reduce),
        [_, 2] => rows::<T, R, 0, 2>(x, y, window, reduce),
        _ => rows::<T, R, 0, 0>(x, y, window, reduce),
    }
}

/// Every output row of every channel, in blocks of 8, 4 and 1 outputs; the window is `KH`
/// rows and `KW` columns, each when it is not 0.
#[inline(always)]
fn rows<T: Real, R: Reduce<T>, const KH: usize, const KW: usize>(
    x: &[T],
    y: &mut [T],
    window: &Window,
    reduce: R,
) {
    let ([height, width], [out_height, out_width]) = (window.input, window.output);
    let kernel = [
        if KH == 0 { window.kernel[0] } else { KH },
        if KW == 0 { window.kernel[1] } else { KW },
    ];
    let planes = x
        .chunks_exact(height * width)
        .zip(y.chunks_exact_mut(out_height * out_width));
    for (x, y) in planes {
        for (oh, y) in y.chunks_exact_mut(out_width).enumerate() {
            // The `kernel[0]` input rows that this output row's windows cover.
            let rows = Rows {
                x: &x[oh * kernel[0] * width..][..kernel[0] * width],
                width,
                kernel,
            };
            let done = rows.blocks::<R, 8>(y, 0, reduce);
            let done = rows.blocks::<R, 4>(y, done, reduce);
            rows.blocks::<R, 1>(y, done, reduce);
        }
    }
}

/// The input rows under one output row: `kernel[0]` rows of `width`, each window `kernel[1]`
/// wide.
struct Rows<'a, T> {
    x: &'a [T],
    width: usize,
    kernel: [usize; 2],
}

impl<T: Real> Rows<'_, T> {
    /// The outputs `y[start..]` in blocks of `N`, while a whole block fits; the first output
    /// not written.
    #[inline(always)]
    fn blocks<R: Reduce<T>, const N: usize>(&self, y: &mut [T], start: usize, reduce: R) -> usize {
        let [kernel_h, kernel_w] = self.kernel;
        let mut j = start;
        while j + N <= y.len() {
            // The block's windows in kernel row `kh`: `N · kernel_w` consecutive inputs.
            let row = |kh: usize| &self.x[kh * self.width + j * kernel_w..][..N * kernel_w];
            let first = row(0);
            let mut acc: [T; N] = core::array::from_fn(|lane| reduce.first(first[lane * kernel_w]));
            for kh in 0..kernel_h {
                let row = row(kh);
                // The window's first input started the block.
                for kw in usize::from(kh == 0)..kernel_w {
                    for (lane, acc) in acc.iter_mut().enumerate() {
                        *acc = reduce.next(*acc, row[lane * kernel_w + kw]);
                    }
                }
            }
            for (y, acc) in y[j..j + N].iter_mut().zip(acc) {
                *y = reduce.finish(acc);
            }
            j += N;
        }
        j
    }
}

#[cfg(test)]
mod tests {
    //! The tiled pools against the general loops, bit for bit, NaN included.

    use super::*;

    /// Values with ties, signed zeros and NaNs (every 7th value when `nan`).
    fn sample(len: usize, nan: bool) -> Vec<f32> {
        (0..len)
            .map(|i| match i % 7 {
                3 if nan => f32::NAN,
                5 => -0.0,
                _ => ((i * 37 % 11) as f32 - 5.0) * 0.25,
            })
            .collect()
    }

    /// Windows that tile: 2×2 on a map (even and odd sizes), 2 and 3 on a signal, 3×1, 3×2, 1×1.
    fn windows() -> Vec<Window> {
        let tile = |channels, input: [usize; 2], kernel: [usize; 2]| Window {
            channels,
            input,
            kernel,
            stride: kernel,
            padding: [0, 0],
            dilation: [1, 1],
            output: [input[0] / kernel[0], input[1] / kernel[1]],
        };
        vec![
            tile(6, [24, 24], [2, 2]),
            tile(3, [9, 27], [2, 2]),
            tile(16, [1, 150], [1, 2]),
            tile(5, [1, 75], [1, 2]),
            tile(2, [1, 40], [1, 3]),
            tile(2, [12, 7], [3, 1]),
            tile(2, [9, 8], [3, 2]),
            tile(2, [5, 5], [1, 1]),
        ]
    }

    #[test]
    fn tiled_pools_equal_the_general_loops_bit_for_bit() {
        for window in windows() {
            assert!(tiles(&window));
            for nan in [false, true] {
                let x = sample(window.input_len(), nan);
                let len = window.channels * window.positions();
                let (mut fast, mut general) = (vec![0.0; len], vec![0.0; len]);
                pool(&x, &mut fast, &window, Max);
                super::super::pool::max_pool_slices(&x, &mut general, &window);
                let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&general), "max, {window:?}, nan {nan}");
                // The baseline body too (the CPU's best one ran above).
                let mut baseline = vec![0.0; len];
                by_shape(&x, &mut baseline, &window, Max);
                assert_eq!(
                    bits(&baseline),
                    bits(&general),
                    "max, {window:?}, nan {nan}"
                );
                if nan {
                    assert!(fast.iter().any(|v| v.is_nan()), "{window:?}: a NaN window");
                }
                let scale = 1.0 / (window.kernel[0] * window.kernel[1]) as f32;
                let mut fast = vec![0.0; len];
                pool(&x, &mut fast, &window, Mean { scale });
                let mut general = vec![0.0; len];
                super::super::pool::avg_pool_slices(&x, &mut general, &window);
                assert_eq!(bits(&fast), bits(&general), "avg, {window:?}, nan {nan}");
            }
        }
    }

    #[test]
    fn overlapping_and_dilated_windows_do_not_tile() {
        let mut window = windows()[0];
        window.stride = [1, 1];
        assert!(!tiles(&window));
        let mut window = windows()[0];
        window.dilation = [2, 2];
        assert!(!tiles(&window));
    }
}
