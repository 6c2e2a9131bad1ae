//! The per-sample `f32` convolution with output positions in the lanes, for stride 1: each
//! tap's weight, broadcast straight from PyTorch's `[CO, taps]` layout, times a run of
//! consecutive input pixels.
//!
//! With stride 1 the outputs of a row read consecutive pixels, and so do the outputs of
//! consecutive rows if the map is read "wide": output `(oh, ow)` sits at wide position
//! `p = oh·W + ow` of the (zero-padded) input's width `W`, and reads, at tap `(c, ky, kx)`,
//! the pixel `x[c·H·W + p + ky·dy·W + kx·dx]`: the same offset for every position. So a
//! convolution is a 1-D one over the `(OH − 1)·W + OW` wide positions, where the columns
//! `ow ≥ OW` of a row are computed and dropped on the store. One block keeps `CB` output
//! channels × `VB` vectors of `N` positions of sums in registers (12 vectors); per tap it
//! loads `CB` weights (broadcast) and `VB` vectors of input for `CB·VB` fused multiply-adds.
//! The sums of each vector go to `z` (`[CO, OH·OW]`) with relu applied, as one store per row
//! they touch: no weight re-lay, no transposed store. The last channel block of a layer whose
//! channel count is not a multiple of `CB` starts `CO − CB` (recomputing a few channels and
//! storing the same values again); the last position block reads up to [`MARGIN`] zeros after
//! the input, never stored.
//!
//! The body is generic over the vector width, but runs only where the CPU has AVX-512F:
//! compiled for AVX2 or the baseline, its sums do not stay in registers. With AVX2 and FMA
//! (no AVX-512F) the same blocks run as [`avx2`]'s intrinsics ([`applies`]).
//!
//! The block shape is chosen per layer ([`Shape::best`]) as the one of the least work on its
//! channel count and wide length (e.g. 6 channels × 2 vectors for the
//! LeNet's `conv1` of 6 channels, 4 × 3 for 32 channels).

// Without `std` on x86-64 nothing runs this body (`applies` is false): compiled, never called.
#![cfg_attr(not(all(feature = "std", target_arch = "x86_64")), allow(dead_code))]

use super::Window;
use super::direct::Args;
use crate::linalg::madd;

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2;

/// The input scalars the last block of positions may read past the input (zeros, never
/// stored): the widest block's positions.
pub(super) const MARGIN: usize = 12 * 16;

/// Whether [`conv`] computes a convolution over `window` (its zero padding already copied into
/// the input): stride 1 on both axes, on a CPU with AVX-512F (this body) or with AVX2 and FMA
/// ([`avx2`]'s intrinsics: compiled for AVX2, the compiler does not keep this generic body's
/// sums in vector registers, measured 1.6–2.2× slower than the channels-in-lanes body on the
/// LeNet's and the GunPoint model's layers of 16 and 32 channels). On the baseline the
/// channels stay in the lanes.
pub(super) fn applies(window: &Window) -> bool {
    window.stride == [1, 1] && window.padding == [0, 0] && (avx512() || avx2())
}

/// Whether the CPU has AVX-512F (and AVX2 and FMA, which [`conv`]'s body is compiled with).
fn avx512() -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    false
}

/// Whether the CPU has AVX2 and FMA, which [`avx2::conv`] is compiled with.
fn avx2() -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    false
}

/// A block's shape: `CB` output channels × `VB` vectors of positions, 12 vectors of sums (of
/// the 32 vector registers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// 6 channels × 2 vectors.
    C6V2,
    /// 4 channels × 3 vectors.
    C4V3,
    /// 3 channels × 4 vectors.
    C3V4,
    /// 2 channels × 6 vectors.
    C2V6,
    /// 1 channel × 12 vectors.
    C1V12,
}

impl Shape {
    /// `(CB, VB)`.
    const fn size(self) -> (usize, usize) {
        match self {
            Self::C6V2 => (6, 2),
            Self::C4V3 => (4, 3),
            Self::C3V4 => (3, 4),
            Self::C2V6 => (2, 6),
            Self::C1V12 => (1, 12),
        }
    }

    /// The shape of the least work for `out_channels` channels over `wide` positions in vectors
    /// of `lanes`: the channels in blocks of `CB`, times the whole blocks of `VB` vectors and
    /// the vectors after them (in blocks of 2, then 1). A block of `k` vectors of sums costs
    /// `max(k, 8)`: fewer than 8 independent sums wait on the multiply-add's latency (4
    /// cycles, 2 per cycle). Among equals, the first of 4 × 3, 6 × 2, 3 × 4, 2 × 6, 1 × 12
    /// (the fewer loads per multiply-add first).
    fn best(out_channels: usize, wide: usize, lanes: usize) -> Self {
        let shapes = [Self::C4V3, Self::C6V2, Self::C3V4, Self::C2V6, Self::C1V12];
        Self::best_among(&shapes, out_channels, wide, lanes)
    }

    /// [`Shape::best`] among `shapes` (in their order among equals; 1 × 12 when none fits).
    fn best_among(shapes: &[Self], out_channels: usize, wide: usize, lanes: usize) -> Self {
        let cost = |sums: usize| sums.max(8);
        let work = |shape: Self| {
            let (cb, vb) = shape.size();
            let vectors = wide.div_ceil(lanes);
            let (whole, rest) = (vectors / vb, vectors % vb);
            let per_block = whole * cost(cb * vb) + rest / 2 * cost(cb * 2) + rest % 2 * cost(cb);
            out_channels.div_ceil(cb) * per_block
        };
        shapes
            .iter()
            .copied()
            .filter(|shape| shape.size().0 <= out_channels)
            .min_by_key(|&shape| work(shape))
            .unwrap_or(Self::C1V12)
    }
}

/// `z = act(W ⋆ x + b)` over `args.window` ([`applies`]), `args.x` followed by [`MARGIN`]
/// readable scalars.
#[inline(never)]
pub(super) fn conv(args: &Args<'_>, z: &mut [f32]) {
    assert!(
        applies(args.window) && args.x.len() >= args.window.input_len() + MARGIN,
        "nn-runtime internal error: a convolution by rows over {:?} without AVX2 and FMA or \
         the input's margin",
        args.window
    );
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn with_avx512(args: &Args<'_>, z: &mut [f32]) {
            shaped::<16, true, true>(args, z);
        }
        if avx512() {
            // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
            unsafe { with_avx512(args, z) }
        } else {
            // SAFETY: the CPU has AVX2 and FMA (`applies`, asserted above).
            unsafe { avx2::conv(args, z) }
        }
    }
    // Elsewhere `applies` is false: the assertion above has already failed.
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    let _ = z;
}

/// The output channels of `z` and the wide positions of `args.window` (output `(oh, ow)` at
/// `oh·W + ow`, `W` the input's width): the extent [`walk`] covers.
#[inline(always)]
fn extent(args: &Args<'_>, z: &[f32]) -> (usize, usize) {
    let window = args.window;
    let [out_height, out_width] = window.output;
    let wide = (out_height - 1) * window.input[1] + out_width;
    (z.len() / window.positions().max(1), wide)
}

/// The generic body in the [`Shape::best`] block shape for vectors of `N` lanes.
#[inline(always)]
fn shaped<const N: usize, const FMA: bool, const AVX512: bool>(args: &Args<'_>, z: &mut [f32]) {
    let (out_channels, wide) = extent(args, z);
    in_shape::<Generic<N, FMA, AVX512>>(Shape::best(out_channels, wide, N), args, z);
}

/// A body's unit of work: the block of output channels `first_channel..first_channel + CB` ×
/// wide positions `first..first + VB·N` (those below `wide` stored), which [`walk`] covers the
/// map with. The generic body ([`Generic`]) and the AVX2 intrinsics one implement it.
pub(super) trait Block {
    /// Positions per vector.
    const N: usize;
    /// Computes and stores one block.
    fn block<const CB: usize, const VB: usize>(
        args: &Args<'_>,
        z: &mut [f32],
        first_channel: usize,
        first: usize,
    );
}

/// The generic body's blocks: `N`-lane vectors as arrays the compiler vectorizes.
struct Generic<const N: usize, const FMA: bool, const AVX512: bool>;

impl<const N: usize, const FMA: bool, const AVX512: bool> Block for Generic<N, FMA, AVX512> {
    const N: usize = N;

    #[inline(always)]
    fn block<const CB: usize, const VB: usize>(
        args: &Args<'_>,
        z: &mut [f32],
        first_channel: usize,
        first: usize,
    ) {
        block::<N, CB, VB, FMA, AVX512>(args, z, first_channel, first);
    }
}

/// [`walk`] in block shape `shape`.
#[inline(always)]
fn in_shape<B: Block>(shape: Shape, args: &Args<'_>, z: &mut [f32]) {
    match shape {
        Shape::C6V2 => walk::<B, 6, 2>(args, z),
        Shape::C4V3 => walk::<B, 4, 3>(args, z),
        Shape::C3V4 => walk::<B, 3, 4>(args, z),
        Shape::C2V6 => walk::<B, 2, 6>(args, z),
        Shape::C1V12 => walk::<B, 1, 12>(args, z),
    }
}

/// The convolution in blocks of `CB` output channels × `VB` vectors of `B::N` wide positions;
/// the vectors after the last whole block two, then one at a time.
#[inline(always)]
fn walk<B: Block, const CB: usize, const VB: usize>(args: &Args<'_>, z: &mut [f32]) {
    let n = B::N;
    let (out_channels, wide) = extent(args, z);
    // `Shape::best` takes no more channels per block than there are.
    assert!(CB <= out_channels || out_channels == 0);
    // The whole blocks' end (the last one may reach past `wide`).
    let whole = wide.div_ceil(n) / VB * VB * n;
    let mut next_channel = 0;
    while next_channel < out_channels {
        // The last block ends at the last channel (overlapping the one before if need be).
        let first_channel = next_channel.min(out_channels - CB);
        next_channel = first_channel + CB;
        for first in (0..whole).step_by(n * VB) {
            B::block::<CB, VB>(args, z, first_channel, first);
        }
        // The vectors after them: two at a time (still 8 sums for 4 channels), then one.
        let rest = wide.saturating_sub(whole).div_ceil(n);
        let pairs = whole + rest / 2 * 2 * n;
        for first in (whole..pairs).step_by(2 * n) {
            B::block::<CB, 2>(args, z, first_channel, first);
        }
        if rest % 2 == 1 {
            B::block::<CB, 1>(args, z, first_channel, pairs);
        }
    }
}

/// The block of output channels `first_channel..first_channel + CB` × wide positions `first..
/// first + VB·N` (those below `wide` stored).
#[inline(always)]
fn block<const N: usize, const CB: usize, const VB: usize, const FMA: bool, const AVX512: bool>(
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
    let (x, weight) = (args.x.as_ptr(), args.weight);
    // Plain loops rather than `array::from_fn`, whose closures the compiler may leave out of
    // line (without the body's target features).
    let weight = &weight[first_channel * taps..][..CB * taps];
    let mut rows: [&[f32]; CB] = [&[]; CB];
    let mut sums = [[[0.0; N]; VB]; CB];
    for (i, (row, sums)) in rows.iter_mut().zip(&mut sums).enumerate() {
        *row = &weight[i * taps..][..taps];
        if let Some(bias) = args.bias {
            *sums = [[bias[first_channel + i]; N]; VB];
        }
    }
    let mut tap = 0;
    for c in 0..window.channels {
        for ky in 0..kernel_h {
            let row = c * height * width + ky * dy + first;
            for kx in 0..kernel_w {
                let at = row + kx * dx;
                let mut v = [[0.0; N]; VB];
                for (j, v) in v.iter_mut().enumerate() {
                    // SAFETY: `at + j·N + N ≤ input_len + MARGIN ≤ x.len()` (checked in
                    // `conv`): `first + VB·N < wide + MARGIN` and the tap's offset plus `wide`
                    // is at most the input's length.
                    *v = unsafe { x.add(at + j * N).cast::<[f32; N]>().read_unaligned() };
                }
                for (sums, row) in sums.iter_mut().zip(&rows) {
                    // SAFETY: `tap < taps = row.len()`.
                    let w = unsafe { *row.get_unchecked(tap) };
                    for (sums, v) in sums.iter_mut().zip(&v) {
                        for (s, &v) in sums.iter_mut().zip(v) {
                            *s = madd::<f32, FMA>(w, v, *s);
                        }
                    }
                }
                tap += 1;
            }
        }
    }
    // Where each vector starts: wide position, output row and column (shared by the channels).
    let mut starts = [[0; 3]; VB];
    for (v, start) in starts.iter_mut().enumerate() {
        let at = first + v * N;
        *start = [at, at / width, at % width];
    }
    for (i, sums) in sums.iter().enumerate() {
        let z = &mut z[(first_channel + i) * plane..][..plane];
        for (sums, &start) in sums.iter().zip(&starts) {
            if start[0] >= wide {
                break;
            }
            let sums = if args.relu {
                sums.map(|s| s.max(0.0))
            } else {
                *sums
            };
            store::<N, AVX512>(z, &sums, start, [wide, width, out_width]);
        }
    }
}

/// The sums of the wide positions `from..from + N` (`from` in output row `row`, column
/// `column`) stored into `z` (`[OH·OW]`): each run of lanes within one row's `OW` columns (and
/// below `wide`) at its place `oh·OW + ow`.
#[inline(always)]
fn store<const N: usize, const AVX512: bool>(
    z: &mut [f32],
    sums: &[f32; N],
    [from, mut row, mut column]: [usize; 3],
    [wide, width, out_width]: [usize; 3],
) {
    let end = wide.min(from + N);
    let mut at = from;
    while at < end {
        if column < out_width {
            let stop = end.min(at + out_width - column);
            let (lanes, to) = (at - from..stop - from, row * out_width + column);
            store_lanes::<N, AVX512>(&mut z[to..to + lanes.len()], sums, lanes);
        }
        (at, row, column) = (at + width - column, row + 1, 0);
    }
}

/// `to = sums[lanes]`.
#[inline(always)]
fn store_lanes<const N: usize, const AVX512: bool>(
    to: &mut [f32],
    sums: &[f32; N],
    lanes: core::ops::Range<usize>,
) {
    if lanes.len() == N {
        to.copy_from_slice(sums);
        return;
    }
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if AVX512 && N == 16 {
        use core::arch::x86_64::{__m512, _mm512_loadu_ps, _mm512_mask_storeu_ps};
        let mask = ((1u32 << lanes.len()) - 1) << lanes.start;
        // SAFETY: `AVX512` is set only in the body compiled for AVX-512F, run only where the
        // CPU has it; the load reads the 16 `f32`s of `sums`; the store writes lanes
        // `lanes` (the mask) at `to − lanes.start + lane`, i.e. exactly `to`.
        unsafe {
            let v: __m512 = _mm512_loadu_ps(sums.as_ptr());
            let base = to.as_mut_ptr().wrapping_sub(lanes.start);
            _mm512_mask_storeu_ps(base, mask as u16, v);
        }
        return;
    }
    for (to, &s) in to.iter_mut().zip(&sums[lanes]) {
        *to = s;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use alloc::vec::Vec;

    use super::*;

    /// A body compiled for one instruction set, in one block shape.
    pub(crate) type Body = fn(&Args<'_>, &mut [f32]);

    /// Every body this CPU runs in every block shape: `(name, CB, body)`. Only AVX-512's and
    /// the AVX2 intrinsics run outside the tests ([`applies`]); the others keep the generic
    /// body correct at 4 and 8 lanes.
    pub(crate) fn bodies() -> Vec<(&'static str, usize, Body)> {
        let mut all: Vec<(&'static str, usize, Body)> = Vec::new();
        macro_rules! shapes {
            ($isa:literal, $run:ident) => {
                all.push(($isa, 6, |a, z| $run(Shape::C6V2, a, z)));
                all.push(($isa, 4, |a, z| $run(Shape::C4V3, a, z)));
                all.push(($isa, 3, |a, z| $run(Shape::C3V4, a, z)));
                all.push(($isa, 2, |a, z| $run(Shape::C2V6, a, z)));
                all.push(($isa, 1, |a, z| $run(Shape::C1V12, a, z)));
            };
        }
        fn baseline(shape: Shape, args: &Args<'_>, z: &mut [f32]) {
            in_shape::<Generic<4, false, false>>(shape, args, z);
        }
        shapes!("baseline", baseline);
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            #[target_feature(enable = "avx2,fma")]
            fn avx2_body(shape: Shape, args: &Args<'_>, z: &mut [f32]) {
                in_shape::<Generic<8, true, false>>(shape, args, z);
            }
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn avx512_body(shape: Shape, args: &Args<'_>, z: &mut [f32]) {
                in_shape::<Generic<16, true, true>>(shape, args, z);
            }
            fn avx2(shape: Shape, args: &Args<'_>, z: &mut [f32]) {
                // SAFETY: listed only where the CPU has AVX2 and FMA (checked below).
                unsafe { avx2_body(shape, args, z) }
            }
            fn avx512(shape: Shape, args: &Args<'_>, z: &mut [f32]) {
                // SAFETY: listed only where the CPU has AVX-512F (checked below), hence AVX2
                // and FMA.
                unsafe { avx512_body(shape, args, z) }
            }
            fn intrinsics(shape: Shape, args: &Args<'_>, z: &mut [f32]) {
                // SAFETY: listed only where the CPU has AVX2 and FMA (checked below).
                unsafe { avx2::in_shape(shape, args, z) }
            }
            fn best_intrinsics(args: &Args<'_>, z: &mut [f32]) {
                // SAFETY: listed only where the CPU has AVX2 and FMA (checked below).
                unsafe { avx2::conv(args, z) }
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                shapes!("avx2", avx2);
                shapes!("avx2 intrinsics", intrinsics);
                all.push(("avx2 intrinsics, best shape", 1, best_intrinsics));
            }
            if std::is_x86_feature_detected!("avx512f") {
                shapes!("avx512", avx512);
            }
        }
        all
    }

    /// [`shaped`] on the AVX2 + FMA body, whatever the CPU has beyond it (for timings).
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    pub(crate) fn avx2(args: &Args<'_>, z: &mut [f32]) {
        #[target_feature(enable = "avx2,fma")]
        fn run(args: &Args<'_>, z: &mut [f32]) {
            shaped::<8, true, false>(args, z);
        }
        assert!(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"));
        // SAFETY: the CPU has AVX2 and FMA (asserted just above).
        unsafe { run(args, z) }
    }

    /// The shapes the LeNet's and the GunPoint model's layers take on AVX-512, and a few more.
    #[test]
    fn the_best_shape_does_the_least_work() {
        // LeNet conv1: 6 channels over 23·28 + 24 wide positions: 6 × 2, no channel wasted.
        assert_eq!(Shape::best(6, 668, 16), Shape::C6V2);
        // GunPoint c2: 32 channels, 75 positions = 5 vectors: 4 × 3 then a pair.
        assert_eq!(Shape::best(32, 75, 16), Shape::C4V3);
        // 2 channels: never a block of more channels than there are.
        assert_eq!(Shape::best(2, 500, 16), Shape::C2V6);
        assert_eq!(Shape::best(1, 30, 16), Shape::C1V12);
        // 9 channels over 4 vectors: 3 × 4 wastes nothing.
        assert_eq!(Shape::best(9, 64, 16), Shape::C3V4);
    }
}
