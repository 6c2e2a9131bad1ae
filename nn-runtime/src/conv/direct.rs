//! The per-sample convolution in `f32`, written so that its accumulators stay in registers.
//!
//! Two bodies, one chosen per call in [`conv`]: with stride 1 on a CPU with AVX-512F or AVX2 +
//! FMA (the
//! input, padded, fitting a stack buffer) the output positions in the lanes ([`rows`](super::rows): each tap's weight
//! broadcast against a run of consecutive input pixels, weights read in place, sums stored
//! as rows); otherwise the output channels in the lanes, described here.
//!
//! For each block of [`LANES`] output channels, the weights are re-laid into a small block on
//! the stack, tap by tap (`[tap][channel]`, a tap being an input channel, kernel row and
//! kernel column), [`TAPS`] taps at a time. Then every block of `P` output positions (in
//! PyTorch's order, so a block may span output rows) keeps `P × LANES` sums in registers: for
//! each tap, the tap's `LANES` weights times the broadcast input pixel each position reads
//! there, one fused multiply-add per position. Any stride and dilation reads this way (a
//! position reads its pixel wherever it is). Zero padding is copied with the input into a
//! buffer on the stack when it fits ([`PADDED`]), so that every window lies inside its input
//! and reads without bound checks; otherwise a block at the border reads zero outside.
//!
//! The body is compiled for AVX-512F (`P` = 8, one 16-lane register per position), AVX2 + FMA
//! (`P` = 6, two 8-lane registers each) and the target's baseline (`P` = 3), chosen at run
//! time with `std` on x86-64 (the baseline elsewhere). Other scalars (`f64`, duals) take the
//! plain loops of [`sample`](super::sample).

use core::mem::MaybeUninit;

use super::{Window, rows};
use crate::Real;
use crate::linalg::madd;

/// Output channels per block: the lanes of a position's sums (one AVX-512 register of `f32`).
const LANES: usize = 16;

/// Taps per block of re-laid weights: 16 KiB of `f32` on the stack. A layer with more taps (a
/// fan-in above 256) adds each block's sums to the output in turn.
const TAPS: usize = 256;

/// Where a tap reads, relative to a position's window origin: `offset = channel + dy·W + dx`,
/// with `channel = c·H·W` the start of input channel `c`, `dy` and `dx` the kernel row and
/// column times the dilation.
#[derive(Clone, Copy)]
struct Tap {
    offset: usize,
    channel: usize,
    dy: usize,
    dx: usize,
}

/// `s` as `f32`s, when `T` is `f32`.
#[inline(always)]
fn f32s<T: Real>(s: &[T]) -> Option<&[f32]> {
    (core::any::TypeId::of::<T>() == core::any::TypeId::of::<f32>()).then(|| {
        // SAFETY: `T` is `f32`: the same slice, retyped.
        unsafe { core::slice::from_raw_parts(s.as_ptr().cast::<f32>(), s.len()) }
    })
}

/// `s` as `f32`s, when `T` is `f32`.
#[inline(always)]
fn f32s_mut<T: Real>(s: &mut [T]) -> Option<&mut [f32]> {
    (core::any::TypeId::of::<T>() == core::any::TypeId::of::<f32>()).then(|| {
        // SAFETY: `T` is `f32`: the same slice, retyped, borrowed uniquely as `s` was.
        unsafe { core::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<f32>(), s.len()) }
    })
}

/// `z = act(W ⋆ x + b)` (no bias when `bias` is `None`; `act` is relu when `relu`, else the
/// identity) when `T` is `f32`, returning `true`; `false`, with `z` untouched, for another
/// scalar. `weight` is `[CO, taps]` row-major (PyTorch's), `z` is `[CO, positions]`.
#[inline]
pub(super) fn conv<T: Real>(
    weight: &[T],
    bias: Option<&[T]>,
    x: &[T],
    z: &mut [T],
    window: &Window,
    relu: bool,
) -> bool {
    let (Some(weight), Some(x), Some(z)) = (f32s(weight), f32s(x), f32s_mut(z)) else {
        return false;
    };
    let bias = bias.map(|b| f32s(b).expect("the bias is f32 as the weight is"));
    // The unchecked reads rely on these sizes.
    assert!(
        x.len() == window.input_len()
            && weight.len() == z.len() / window.positions().max(1) * window.taps(),
        "nn-runtime internal error: window {window:?} does not fit the convolution's slices"
    );
    // The one choice of body: with stride 1 on AVX-512F or AVX2 + FMA (and an input that fits the stack
    // buffer) the positions in the lanes (`rows`), on a copy of the input with its padding
    // and the margin its last block reads; otherwise the output channels in the lanes
    // (`body`), on a copy with the padding when there is some and it fits, else on the input
    // in place.
    let padded = padded_window(window);
    let by_rows = rows::applies(&padded) && padded.input_len() + rows::MARGIN <= PADDED;
    if by_rows || (window.padding != [0, 0] && padded.input_len() <= PADDED) {
        // Every block then reads inside its input: no bound checks, no branch.
        let mut buffer = MaybeUninit::<[f32; PADDED]>::uninit();
        let margin = if by_rows { rows::MARGIN } else { 0 };
        let x = pad(x, window, &padded, &mut buffer, margin);
        let args = Args {
            weight,
            bias,
            x,
            window: &padded,
            relu,
        };
        if by_rows {
            rows::conv(&args, z);
        } else {
            dispatch(&args, z);
        }
        return true;
    }
    let args = Args {
        weight,
        bias,
        x,
        window,
        relu,
    };
    dispatch(&args, z);
    true
}

/// The largest zero-padded input copied to the stack (64 KiB of `f32`, e.g. 32 channels of
/// 22×22); a larger padded input is read in place, with bound checks at the border.
const PADDED: usize = 16 * 1024;

/// `window` over its input with the zero padding made part of it: the rows and columns the
/// outputs read, padding 0.
fn padded_window(window: &Window) -> Window {
    let reach = |axis: usize| {
        (window.output[axis] - 1) * window.stride[axis]
            + (window.kernel[axis] - 1) * window.dilation[axis]
            + 1
    };
    Window {
        input: [reach(0), reach(1)],
        padding: [0, 0],
        ..*window
    }
}

/// `x` (on `window`) copied into `buffer` as the input of `padded`: zeros, then each input row
/// at its padded place (rows and columns no output reads left out), then `margin` zeros; the
/// initialized part.
fn pad<'b>(
    x: &[f32],
    window: &Window,
    padded: &Window,
    buffer: &'b mut MaybeUninit<[f32; PADDED]>,
    margin: usize,
) -> &'b [f32] {
    let len = padded.input_len() + margin;
    let buffer = buffer.as_mut_ptr().cast::<f32>();
    if padded.input == window.input {
        // Nothing to pad or leave out: the input in one piece, then the margin.
        // SAFETY: `len ≤ PADDED` (the caller checks): inside the buffer; written before it
        // is read.
        let buffer = unsafe {
            core::ptr::write_bytes(buffer.add(x.len()), 0, margin);
            core::slice::from_raw_parts_mut(buffer, len)
        };
        buffer[..x.len()].copy_from_slice(x);
        return buffer;
    }
    // SAFETY: as above.
    let buffer = unsafe {
        core::ptr::write_bytes(buffer, 0, len);
        core::slice::from_raw_parts_mut(buffer, len)
    };
    let ([height, width], [top, left]) = (window.input, window.padding);
    let [padded_height, padded_width] = padded.input;
    let columns = width.min(padded_width.saturating_sub(left));
    for c in 0..window.channels {
        for row in 0..height.min(padded_height.saturating_sub(top)) {
            let from = &x[(c * height + row) * width..][..columns];
            let to = (c * padded_height + row + top) * padded_width + left;
            buffer[to..to + columns].copy_from_slice(from);
        }
    }
    buffer
}

/// The inputs of one convolution.
pub(super) struct Args<'a> {
    /// `W`, `[CO, taps]` row-major.
    pub(super) weight: &'a [f32],
    /// `b`, `[CO]`, if any.
    pub(super) bias: Option<&'a [f32]>,
    /// The input, `[C, H, W]` of `window`.
    pub(super) x: &'a [f32],
    /// The geometry.
    pub(super) window: &'a Window,
    /// Whether relu follows.
    pub(super) relu: bool,
}

/// [`body`] on the best instruction set this CPU has.
#[inline(never)]
fn dispatch(args: &Args<'_>, z: &mut [f32]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn avx512(args: &Args<'_>, z: &mut [f32]) {
            body::<8, true>(args, z);
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2(args: &Args<'_>, z: &mut [f32]) {
            body::<6, true>(args, z);
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
                return unsafe { avx512(args, z) };
            }
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { avx2(args, z) };
        }
    }
    body::<3, false>(args, z);
}

/// The convolution, `P` output positions per block.
#[inline(always)]
fn body<const P: usize, const FMA: bool>(args: &Args<'_>, z: &mut [f32]) {
    let window = args.window;
    let (taps, plane) = (window.taps(), window.positions());
    let out_channels = z.len() / plane.max(1);
    let mut weights = MaybeUninit::<[[f32; LANES]; TAPS]>::uninit();
    let mut offsets = MaybeUninit::<[Tap; TAPS]>::uninit();
    for first_channel in (0..out_channels).step_by(LANES) {
        let lanes = LANES.min(out_channels - first_channel);
        for first_tap in (0..taps).step_by(TAPS) {
            let count = TAPS.min(taps - first_tap);
            let (block, tap_at) = relay(
                args,
                [first_channel, lanes],
                [first_tap, count],
                &mut weights,
                &mut offsets,
            );
            let first = first_tap == 0;
            let last = first_tap + count == taps;
            let bias: [f32; LANES] = core::array::from_fn(|l| match args.bias {
                Some(b) if first && l < lanes => b[first_channel + l],
                _ => 0.0,
            });
            let z = &mut z[first_channel * plane..(first_channel + lanes) * plane];
            for first_position in (0..plane).step_by(P) {
                let sums = positions::<P, FMA>(args, block, tap_at, first_position, bias);
                let count = P.min(plane - first_position);
                for (l, z) in z.chunks_exact_mut(plane).enumerate() {
                    let z = &mut z[first_position..first_position + count];
                    for (z, sums) in z.iter_mut().zip(&sums) {
                        let v = if first { sums[l] } else { *z + sums[l] };
                        *z = if last && args.relu { v.max(0.0) } else { v };
                    }
                }
            }
        }
    }
}

/// The weights of `lanes` output channels from `first_channel`, taps `first_tap` to
/// `first_tap + count`, laid `[tap][channel]` into `weights` (channels beyond `lanes` 0), and
/// where each tap reads into `offsets`; the initialized parts.
#[inline(always)]
fn relay<'b>(
    args: &Args<'_>,
    [first_channel, lanes]: [usize; 2],
    [first_tap, count]: [usize; 2],
    weights: &'b mut MaybeUninit<[[f32; LANES]; TAPS]>,
    offsets: &'b mut MaybeUninit<[Tap; TAPS]>,
) -> (&'b [[f32; LANES]], &'b [Tap]) {
    let window = args.window;
    let [height, width] = window.input;
    let [kernel_h, kernel_w] = window.kernel;
    let taps = window.taps();
    let (weights, offsets) = (
        weights.as_mut_ptr().cast::<[f32; LANES]>(),
        offsets.as_mut_ptr().cast::<Tap>(),
    );
    // The first tap's input channel, kernel row and column, then counted up tap by tap.
    let kernel = kernel_h * kernel_w;
    let (mut c, mut ky, mut kx) = (
        first_tap / kernel,
        first_tap % kernel / kernel_w,
        first_tap % kernel_w,
    );
    for t in 0..count {
        let (dy, dx) = (ky * window.dilation[0], kx * window.dilation[1]);
        let channel = c * height * width;
        let at = Tap {
            offset: channel + dy * width + dx,
            channel,
            dy,
            dx,
        };
        // SAFETY: `t < count ≤ TAPS`: inside the array.
        unsafe { offsets.add(t).write(at) };
        (kx, ky) = (kx + 1, ky);
        if kx == kernel_w {
            (kx, ky) = (0, ky + 1);
        }
        if ky == kernel_h {
            (ky, c) = (0, c + 1);
        }
    }
    // The weights, one output channel (a row of PyTorch's `[out, taps]`) at a time.
    for t in 0..count {
        // SAFETY: as above.
        unsafe { weights.add(t).write([0.0; LANES]) };
    }
    for l in 0..lanes {
        let row = &args.weight[(first_channel + l) * taps + first_tap..][..count];
        for (t, &w) in row.iter().enumerate() {
            // SAFETY: `t < count ≤ TAPS`, written (zeros) above, `l < lanes ≤ LANES`.
            unsafe { (*weights.add(t))[l] = w };
        }
    }
    // SAFETY: the first `count` elements of each were written just above.
    unsafe {
        (
            core::slice::from_raw_parts(weights, count),
            core::slice::from_raw_parts(offsets, count),
        )
    }
}

/// The sums of `P` output positions from `first` (positions past the end repeat the last one)
/// over the taps of `block`, starting from `init`: `sums[p][l] = init[l] + Σ_tap w[tap][l] ·
/// x[position p's pixel at tap]`.
#[inline(always)]
fn positions<const P: usize, const FMA: bool>(
    args: &Args<'_>,
    block: &[[f32; LANES]],
    tap_at: &[Tap],
    first: usize,
    init: [f32; LANES],
) -> [[f32; LANES]; P] {
    let window = args.window;
    let ([height, width], [out_height, out_width]) = (window.input, window.output);
    let last = out_height * out_width - 1;
    // Each position's window origin (row, column), padding subtracted.
    let origin: [[isize; 2]; P] = core::array::from_fn(|p| {
        let position = (first + p).min(last);
        let (oh, ow) = (position / out_width, position % out_width);
        [
            (oh * window.stride[0]) as isize - window.padding[0] as isize,
            (ow * window.stride[1]) as isize - window.padding[1] as isize,
        ]
    });
    let reach = [
        (window.kernel[0] - 1) * window.dilation[0],
        (window.kernel[1] - 1) * window.dilation[1],
    ];
    let inside = origin.iter().all(|&[r, c]| {
        r >= 0 && c >= 0 && r as usize + reach[0] < height && c as usize + reach[1] < width
    });
    let mut sums = [init; P];
    let x = args.x;
    if inside {
        let base: [usize; P] = core::array::from_fn(|p| {
            let [r, c] = origin[p];
            r as usize * width + c as usize
        });
        for (w, at) in block.iter().zip(tap_at) {
            for (sums, &base) in sums.iter_mut().zip(&base) {
                // SAFETY: the window of every position lies inside the input (`inside`), and
                // `at.offset` is a tap of it: `base + offset < C·H·W = x.len()` (checked by
                // `Window::check` against the sizes the caller passes).
                let v = unsafe { *x.get_unchecked(base + at.offset) };
                for (s, &w) in sums.iter_mut().zip(w) {
                    *s = madd::<f32, FMA>(w, v, *s);
                }
            }
        }
    } else {
        for (w, at) in block.iter().zip(tap_at) {
            for (sums, &[r, c]) in sums.iter_mut().zip(&origin) {
                let (r, c) = (r + at.dy as isize, c + at.dx as isize);
                let inside = r >= 0 && c >= 0 && (r as usize) < height && (c as usize) < width;
                // Zero outside the input, without a branch the processor would mispredict.
                let at = if inside {
                    at.channel + r as usize * width + c as usize
                } else {
                    0
                };
                let v = if inside { x[at] } else { 0.0 };
                for (s, &w) in sums.iter_mut().zip(w) {
                    *s = madd::<f32, FMA>(w, v, *s);
                }
            }
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    /// A body compiled for one instruction set.
    type Body = fn(&Args<'_>, &mut [f32]);

    /// Every body this CPU runs: `(name, body)`.
    fn bodies() -> Vec<(&'static str, Body)> {
        let mut all: Vec<(&'static str, Body)> = alloc::vec![("baseline", body::<3, false>)];
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                #[target_feature(enable = "avx2,fma")]
                fn avx2(args: &Args<'_>, z: &mut [f32]) {
                    body::<6, true>(args, z);
                }
                // SAFETY: the CPU has AVX2 and FMA (checked above).
                all.push(("avx2", |a, z| unsafe { avx2(a, z) }));
            }
            if std::is_x86_feature_detected!("avx512f") {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512(args: &Args<'_>, z: &mut [f32]) {
                    body::<8, true>(args, z);
                }
                // SAFETY: the CPU has AVX-512F (checked above), hence AVX2 and FMA.
                all.push(("avx512", |a, z| unsafe { avx512(a, z) }));
            }
        }
        all
    }

    fn value(i: usize, salt: f64) -> f64 {
        ((i as f64 + salt) * 0.731).sin()
    }

    /// The window of `channels` × `input` through `kernel`, `stride`, `padding`, `dilation`.
    fn window(
        channels: usize,
        input: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
    ) -> Window {
        let out = |a: usize| {
            (input[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) / stride[a] + 1
        };
        Window {
            channels,
            input,
            kernel,
            stride,
            padding,
            dilation,
            output: [out(0), out(1)],
        }
    }

    /// Windows that take every branch: several channel blocks and a partial one, more than one
    /// block of taps, border blocks (padding, `same` with an even kernel), strides that leave
    /// the last padded column unread, dilations, 1-D signals, a padded input too large for the
    /// stack buffer.
    fn cases() -> [(usize, Window); 16] {
        [
            (6, window(1, [28, 28], [5, 5], [1, 1], [0, 0], [1, 1])),
            (16, window(6, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1])),
            (37, window(3, [9, 11], [3, 2], [2, 1], [1, 0], [1, 2])),
            (20, window(12, [7, 7], [5, 5], [1, 2], [2, 2], [1, 1])),
            (16, window(1, [1, 150], [1, 9], [1, 1], [0, 4], [1, 1])),
            (32, window(16, [1, 37], [1, 7], [1, 1], [0, 3], [1, 1])),
            (5, window(2, [1, 40], [1, 3], [1, 3], [0, 1], [1, 4])),
            (
                3,
                window(2, [10, 10], [4, 4], [1, 1], [1, 1], [1, 1]).with_output([10, 10]),
            ),
            (4, window(3, [10, 10], [3, 3], [2, 2], [1, 1], [1, 1])),
            (2, window(40, [21, 21], [3, 3], [1, 1], [1, 1], [1, 1])),
            // For the positions in the lanes: 48 channels over rows of 20 (above 16), rows of
            // 7 with a vertical dilation (a vector spans three rows), a 1×1 kernel on 33
            // channels (the last block overlapping), one output position, a dilated 1-D
            // signal, 9 channels over 4 vectors.
            (48, window(3, [9, 20], [3, 3], [1, 1], [1, 1], [1, 1])),
            (7, window(2, [9, 7], [3, 3], [1, 1], [0, 0], [2, 1])),
            (33, window(5, [6, 6], [1, 1], [1, 1], [0, 0], [1, 1])),
            (1, window(3, [1, 3], [1, 3], [1, 1], [0, 0], [1, 1])),
            (5, window(4, [1, 200], [1, 5], [1, 1], [0, 6], [1, 3])),
            (9, window(2, [8, 10], [2, 3], [1, 1], [0, 1], [1, 1])),
        ]
    }

    impl Window {
        /// The window with output `output` (`same` padding with an even kernel pads one more
        /// at the end).
        fn with_output(self, output: [usize; 2]) -> Self {
            Self { output, ..self }
        }
    }

    /// `run(args, z)` against the plain loops in f64, with and without bias and relu, on every
    /// case that `take`s.
    fn check(
        name: &str,
        take: &dyn Fn(usize, &Window) -> bool,
        run: &dyn Fn(&Args<'_>, &mut [f32]),
    ) {
        for (out_channels, window) in cases() {
            if !take(out_channels, &window) {
                continue;
            }
            let taps = window.taps();
            let w: Vec<f64> = (0..out_channels * taps).map(|i| value(i, 0.5)).collect();
            let b: Vec<f64> = (0..out_channels).map(|i| value(i, 9.0)).collect();
            let x: Vec<f64> = (0..window.input_len()).map(|i| value(i, 2.0)).collect();
            let len = out_channels * window.positions();
            let f32s = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
            let (w32, b32, x32) = (f32s(&w), f32s(&b), f32s(&x));
            for bias in [true, false] {
                for relu in [false, true] {
                    let mut want = alloc::vec![0.0; len];
                    let b = bias.then_some(b.as_slice());
                    super::super::sample::conv_slices(&w, b, &x, &mut want, &window);
                    if relu {
                        want.iter_mut().for_each(|v| *v = v.max(0.0));
                    }
                    let args = Args {
                        weight: &w32,
                        bias: bias.then_some(b32.as_slice()),
                        x: &x32,
                        window: &window,
                        relu,
                    };
                    let mut got = alloc::vec![f32::NAN; len];
                    run(&args, &mut got);
                    for (i, (&g, &e)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (f64::from(g) - e).abs() <= 1e-6 * taps as f64,
                            "{name}, {window:?}, bias {bias}, relu {relu}: z[{i}] = {g}, \
                             expected {e}"
                        );
                    }
                }
            }
        }
    }

    /// Every body reading the input in place (bound checks at the border).
    #[test]
    fn every_body_matches_the_plain_loops() {
        for (name, body) in bodies() {
            check(name, &|_, _| true, &|args, z| body(args, z));
        }
    }

    /// Every body with the positions in the lanes, in every block shape, on every case of
    /// stride 1 with at least as many channels as a block takes (padding copied into the
    /// input, which the margin's zeros follow, whatever its size).
    #[test]
    fn every_rows_body_matches_the_plain_loops() {
        let stride_one = cases().iter().filter(|(_, w)| w.stride == [1, 1]).count();
        assert!(
            stride_one >= 12,
            "the cases cover the positions in the lanes"
        );
        for (name, channels, body) in rows::tests::bodies() {
            let take = |out_channels: usize, window: &Window| {
                window.stride == [1, 1] && channels <= out_channels
            };
            check(name, &take, &|args, z| {
                let padded = padded_window(args.window);
                let ([height, width], [top, left]) = (args.window.input, args.window.padding);
                let [padded_height, padded_width] = padded.input;
                let mut x = alloc::vec![0.0; padded.input_len() + rows::MARGIN];
                for c in 0..args.window.channels {
                    for row in 0..height.min(padded_height.saturating_sub(top)) {
                        for column in 0..width.min(padded_width.saturating_sub(left)) {
                            x[(c * padded_height + row + top) * padded_width + column + left] =
                                args.x[(c * height + row) * width + column];
                        }
                    }
                }
                let args = Args {
                    x: &x,
                    window: &padded,
                    ..*args
                };
                body(&args, z);
            });
        }
    }

    /// The entry point, which copies a padded input that fits into a buffer first.
    #[test]
    fn padded_inputs_match_the_plain_loops() {
        let padded = cases()
            .iter()
            .filter(|(_, w)| w.padding != [0, 0] && padded_window(w).input_len() <= PADDED)
            .count();
        assert!(padded >= 5, "the cases pad in the buffer");
        check("conv", &|_, _| true, &|args, z| {
            assert!(conv(
                args.weight,
                args.bias,
                args.x,
                z,
                args.window,
                args.relu
            ));
        });
    }
}

#[cfg(all(test, feature = "std"))]
mod timing {
    use alloc::vec::Vec;

    use super::*;

    /// The fastest of 30 rounds of 300 calls of `f`, in nanoseconds per call.
    fn fastest(mut f: impl FnMut()) -> f64 {
        (0..30)
            .map(|_| {
                let start = std::time::Instant::now();
                for _ in 0..300 {
                    f();
                }
                start.elapsed().as_nanos() as f64 / 300.0
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// The layers of the LeNet and GunPoint benchmarks (L and G), each through [`conv`], the
    /// channels-in-lanes body and the positions-in-lanes body: `cargo test --release -p
    /// nn-runtime --lib conv::direct::timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "a timing, not a test: run it in release"]
    fn layers() {
        let w = |c, i: [usize; 2], k: [usize; 2], p: [usize; 2]| {
            let out = |a: usize| i[a] + 2 * p[a] - k[a] + 1;
            Window {
                channels: c,
                input: i,
                kernel: k,
                stride: [1, 1],
                padding: p,
                dilation: [1, 1],
                output: [out(0), out(1)],
            }
        };
        let layers = [
            ("L conv1", 6, w(1, [28, 28], [5, 5], [0, 0])),
            ("L conv2", 16, w(6, [12, 12], [5, 5], [0, 0])),
            ("G c1", 16, w(1, [1, 150], [1, 9], [0, 4])),
            ("G c2", 32, w(16, [1, 75], [1, 7], [0, 3])),
            ("G c3", 32, w(32, [1, 37], [1, 5], [0, 2])),
        ];
        for (name, out_channels, window) in layers {
            let weight: Vec<f32> = (0..out_channels * window.taps())
                .map(|i| (i as f32 * 0.37).sin())
                .collect();
            let bias: Vec<f32> = (0..out_channels).map(|i| i as f32 * 0.1).collect();
            let x: Vec<f32> = (0..window.input_len())
                .map(|i| (i as f32 * 0.11).cos())
                .collect();
            let mut z = alloc::vec![0f32; out_channels * window.positions()];
            let entry = fastest(|| {
                conv(&weight, Some(&bias), &x, &mut z, &window, true);
            });
            let padded = padded_window(&window);
            let mut buffer = MaybeUninit::<[f32; PADDED]>::uninit();
            let xp = pad(&x, &window, &padded, &mut buffer, rows::MARGIN);
            let args = Args {
                weight: &weight,
                bias: Some(&bias),
                x: xp,
                window: &padded,
                relu: true,
            };
            let channels = fastest(|| dispatch(&args, &mut z));
            let positions = fastest(|| rows::conv(&args, &mut z));
            #[target_feature(enable = "avx2,fma")]
            fn avx2(args: &Args<'_>, z: &mut [f32]) {
                body::<6, true>(args, z);
            }
            // SAFETY: this test runs on a CPU with AVX2 and FMA (`rows::tests::avx2` asserts).
            let channels_avx2 = fastest(|| unsafe { avx2(&args, &mut z) });
            let positions_avx2 = fastest(|| rows::tests::avx2(&args, &mut z));
            // SAFETY: as above.
            let intrinsics_avx2 = fastest(|| unsafe { rows::avx2::conv(&args, &mut z) });
            std::println!(
                "{name} (AVX2 + FMA): channels in lanes {channels_avx2:.0} ns, positions in \
                 lanes {positions_avx2:.0} ns, positions in lanes (intrinsics) \
                 {intrinsics_avx2:.0} ns"
            );
            std::println!(
                "{name}: conv {entry:.0} ns, channels in lanes {channels:.0} ns, positions in \
                 lanes {positions:.0} ns"
            );
        }
    }
}
