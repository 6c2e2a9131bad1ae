//! The positions-in-lanes convolution of [`rows`](super) written with AVX2 + FMA intrinsics,
//! 8 positions per `__m256`.
//!
//! The generic body of [`rows`](super), compiled for AVX2, does not keep its sums in
//! registers; this one names its registers. A block of `CB` channels × `VB` vectors keeps
//! `CB·VB ≤ 12` sums in ymm registers and, per tap, the operands of the smaller side: with
//! `VB ≤ CB` the `VB` input vectors (`_mm256_loadu_ps`), each channel's weight broadcast in
//! turn; otherwise the `CB` broadcast weights (`_mm256_broadcast_ss` from PyTorch's `[CO,
//! taps]` layout), each input vector loaded in turn ([`SHAPES`]). Relu is a `_mm256_max_ps`
//! with zero; a vector's run of lanes inside one output row is one `_mm256_storeu_ps`, or one
//! `_mm256_maskstore_ps` when it is not all 8 (a row's end, the last position). Same blocks,
//! channel overlap and [`MARGIN`](super::MARGIN) as the generic body; the block shape the one
//! of the least work ([`Shape::best`] at 8 lanes) among [`SHAPES`].

use core::arch::x86_64::{
    __m256, _mm256_andnot_si256, _mm256_broadcast_ss, _mm256_cmpgt_epi32, _mm256_fmadd_ps,
    _mm256_loadu_ps, _mm256_maskstore_ps, _mm256_max_ps, _mm256_set1_epi32, _mm256_set1_ps,
    _mm256_setr_epi32, _mm256_setzero_ps, _mm256_storeu_ps,
};

use super::super::direct::Args;
use super::{Block, Shape};

/// The `f32` lanes of a `__m256`.
const LANES: usize = 8;

/// The block shapes [`conv`] chooses among: those the compiler keeps in the 16 ymm registers
/// (`objdump` of the release build: broadcasts, loads and fused multiply-adds on registers
/// only). 6 × 2 and 2 × 6 take 15 (12 sums, 2 operands of the smaller side, 1 of the other),
/// 3 × 4 all 16 (12 sums, 3 weights, 1 input vector), 1 × 12 reads its input vectors as
/// memory operands. Not 4 × 3: with all 16 taken too (12 sums, 3 input vectors, 1 weight) the
/// compiler moves sums between registers and through the stack on every tap (measured 1.8×
/// the time of 3 × 4 on the GunPoint model's `c2`, 2.1× that of 2 × 6 on the LeNet's `conv2`).
const SHAPES: [Shape; 4] = [Shape::C6V2, Shape::C3V4, Shape::C2V6, Shape::C1V12];

/// `z = act(W ⋆ x + b)` over `args.window` (stride 1, padding already copied into the input),
/// `args.x` followed by [`MARGIN`](super::MARGIN) readable scalars, in the block shape of the
/// least work among [`SHAPES`].
#[target_feature(enable = "avx2,fma")]
pub(in super::super) fn conv(args: &Args<'_>, z: &mut [f32]) {
    let (out_channels, wide) = super::extent(args, z);
    in_shape(
        Shape::best_among(&SHAPES, out_channels, wide, LANES),
        args,
        z,
    );
}

/// [`conv`] in block shape `shape`.
#[target_feature(enable = "avx2,fma")]
pub(super) fn in_shape(shape: Shape, args: &Args<'_>, z: &mut [f32]) {
    assert!(
        args.window.stride == [1, 1]
            && args.window.padding == [0, 0]
            && args.x.len() >= args.window.input_len() + super::MARGIN,
        "nn-runtime internal error: an AVX2 convolution by rows over {:?} without stride 1, \
         its padding copied or the input's margin",
        args.window
    );
    super::in_shape::<Avx2>(shape, args, z);
}

/// The intrinsics body's blocks, walked over the map by [`rows`](super)'s walk.
struct Avx2;

impl Block for Avx2 {
    const N: usize = LANES;

    #[inline(always)]
    fn block<const CB: usize, const VB: usize>(
        args: &Args<'_>,
        z: &mut [f32],
        first_channel: usize,
        first: usize,
    ) {
        block::<CB, VB>(args, z, first_channel, first);
    }
}

/// The block of output channels `first_channel..first_channel + CB` × wide positions `first..
/// first + 8·VB` (those below `wide` stored).
#[inline(always)]
fn block<const CB: usize, const VB: usize>(
    args: &Args<'_>,
    z: &mut [f32],
    first_channel: usize,
    first: usize,
) {
    let window = args.window;
    let ([height, width], [out_height, out_width]) = (window.input, window.output);
    let [kernel_h, kernel_w] = window.kernel;
    let [dy, dx] = [window.dilation[0] * width, window.dilation[1]];
    let (taps, plane) = (window.taps(), window.positions());
    let wide = (out_height - 1) * width + out_width;
    let x = args.x.as_ptr();
    let weight = args.weight[first_channel * taps..][..CB * taps].as_ptr();
    // SAFETY: this body runs only inside `in_shape`, compiled for and called on a CPU with AVX2
    // and FMA. The weight reads are at `i·taps + tap < CB·taps` of the block's channels' slice
    // (`tap < taps`). The input reads are at `c·H·W + ky·dy + kx·dx + first + j·8` up to 8
    // scalars on, `j < VB`: the tap's offset plus `wide` is at most the input's length, and
    // `first + 8·VB ≤ wide + 8·12`, within the `MARGIN` after the input (asserted in
    // `in_shape`).
    let sums = unsafe {
        let mut sums = [[_mm256_setzero_ps(); VB]; CB];
        if let Some(bias) = args.bias {
            for (sums, &b) in sums.iter_mut().zip(&bias[first_channel..][..CB]) {
                *sums = [_mm256_set1_ps(b); VB];
            }
        }
        let mut tap = 0;
        for c in 0..window.channels {
            for ky in 0..kernel_h {
                let row = c * height * width + ky * dy + first;
                for kx in 0..kernel_w {
                    let at = x.add(row + kx * dx);
                    if VB <= CB {
                        // The input vectors in registers, one broadcast weight at a time.
                        let mut v = [_mm256_setzero_ps(); VB];
                        for (j, v) in v.iter_mut().enumerate() {
                            *v = _mm256_loadu_ps(at.add(j * LANES));
                        }
                        for (i, sums) in sums.iter_mut().enumerate() {
                            let w = _mm256_broadcast_ss(&*weight.add(i * taps + tap));
                            for (s, &v) in sums.iter_mut().zip(&v) {
                                *s = _mm256_fmadd_ps(w, v, *s);
                            }
                        }
                    } else {
                        // The broadcast weights in registers, one input vector at a time.
                        let mut w = [_mm256_setzero_ps(); CB];
                        for (i, w) in w.iter_mut().enumerate() {
                            *w = _mm256_broadcast_ss(&*weight.add(i * taps + tap));
                        }
                        for j in 0..VB {
                            let v = _mm256_loadu_ps(at.add(j * LANES));
                            for (sums, &w) in sums.iter_mut().zip(&w) {
                                sums[j] = _mm256_fmadd_ps(w, v, sums[j]);
                            }
                        }
                    }
                    tap += 1;
                }
            }
        }
        sums
    };
    for (i, sums) in sums.iter().enumerate() {
        let z = &mut z[(first_channel + i) * plane..][..plane];
        for (j, &s) in sums.iter().enumerate() {
            let at = first + j * LANES;
            if at >= wide {
                break;
            }
            store_vector(z, s, args.relu, [at, width, out_width, wide]);
        }
    }
}

/// The sums `s` of the 8 wide positions from `at` stored into `z` (`[OH·OW]`), relu applied when
/// `relu`: each run of lanes within one output row's `OW` columns (and below `wide`) at its
/// place `oh·OW + ow`, in one store (masked unless it is all 8 lanes).
#[inline(always)]
fn store_vector(z: &mut [f32], s: __m256, relu: bool, [at, width, out_width, wide]: [usize; 4]) {
    let end = wide.min(at + LANES);
    let (mut from, mut row, mut column) = (at, at / width, at % width);
    // SAFETY: run only inside `in_shape` (AVX2 and FMA, see `block`). Each store writes the
    // lanes `from − at..stop − at` to `z[to..][..stop − from]` with `to = row·OW + column`:
    // `row < OH` (`from < wide`) and `column + stop − from ≤ OW`, inside `z`. The masked
    // store's base is `to − (from − at)`, of which it writes only those lanes.
    unsafe {
        let s = if relu {
            _mm256_max_ps(s, _mm256_setzero_ps())
        } else {
            s
        };
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        while from < end {
            if column < out_width {
                let stop = end.min(from + out_width - column);
                let to = z.as_mut_ptr().add(row * out_width + column);
                let (first, last) = (from - at, stop - at);
                if first == 0 && last == LANES {
                    _mm256_storeu_ps(to, s);
                } else {
                    // The lanes `first <= lane < last`.
                    let mask = _mm256_andnot_si256(
                        _mm256_cmpgt_epi32(_mm256_set1_epi32(first as i32), lane),
                        _mm256_cmpgt_epi32(_mm256_set1_epi32(last as i32), lane),
                    );
                    _mm256_maskstore_ps(to.wrapping_sub(first), mask, s);
                }
            }
            (from, row, column) = (from + width - column, row + 1, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shapes the LeNet's and the GunPoint model's layers take with 8 lanes: never 4 × 3.
    #[test]
    fn the_avx2_shapes_leave_a_register_spare() {
        // LeNet conv1: 6 channels over 668 wide positions.
        assert_eq!(Shape::best_among(&SHAPES, 6, 668, LANES), Shape::C6V2);
        // LeNet conv2: 16 channels over 7·12 + 8 = 92 positions (12 vectors), 4 × 3 on AVX-512.
        assert_eq!(Shape::best_among(&SHAPES, 16, 92, LANES), Shape::C2V6);
        // GunPoint c2: 32 channels over 75 positions (10 vectors).
        assert_eq!(Shape::best_among(&SHAPES, 32, 75, LANES), Shape::C3V4);
        assert!(!SHAPES.contains(&Shape::C4V3));
    }
}
