//! A batch: the input patches of a chunk of samples gathered into one matrix (im2col), then
//! one GEMM per chunk and product.

use alloc::vec::Vec;

use nalgebra::{SMatrix, SVector};

use super::Window;
use crate::Real;
use crate::linalg::{Batch, View, gemm};

/// The most scalars one chunk's patch matrix holds (1 MiB of `f32`): a batch is cut into
/// chunks of samples so that the patches stay in the cache between being written and being
/// packed by the GEMM (and never take the whole batch's `positions · fan-in · columns`).
const CHUNK_SCALARS: usize = 1 << 18;

/// Samples per chunk for `window`: as many as fit in [`CHUNK_SCALARS`], at least one.
fn chunk_len(window: &Window) -> usize {
    (CHUNK_SCALARS / (window.positions() * window.taps()).max(1)).max(1)
}

/// Samples per chunk of an `n`-column batch: at most [`chunk_len`], and the `n` columns cut
/// into a multiple of the pool's threads of nearly equal chunks, so that [`for_each_chunk`]
/// keeps every thread busy to the end.
fn balanced_chunk_len(n: usize, window: &Window) -> usize {
    let threads = pool_threads();
    let chunks = n.div_ceil(chunk_len(window)).div_ceil(threads) * threads;
    n.div_ceil(chunks.max(1)).max(1)
}

/// The threads of the rayon pool the caller runs in, or 1 outside a pool (or without `std`).
fn pool_threads() -> usize {
    #[cfg(feature = "std")]
    if rayon::current_thread_index().is_some() {
        return rayon::current_num_threads();
    }
    1
}

/// `f(columns, out)` for each chunk of `len` columns of a batch whose columns are `width`
/// scalars, `out` the chunk's columns of `output`: on the threads of the caller's rayon pool
/// (each chunk writes only its own columns), or in order on this thread outside one.
fn for_each_chunk<T: Real>(
    output: &mut [T],
    width: usize,
    len: usize,
    f: impl Fn(core::ops::Range<usize>, &mut [T]) + Sync,
) {
    let chunk = |(i, out): (usize, &mut [T])| f(i * len..i * len + out.len() / width, out);
    #[cfg(feature = "std")]
    if pool_threads() > 1 {
        use rayon::prelude::*;
        output
            .par_chunks_mut(len * width)
            .enumerate()
            .for_each(chunk);
        return;
    }
    output.chunks_mut(len * width).enumerate().for_each(chunk);
}

/// The patches of the samples `columns` of `x` (one sample per column, `[C, H, W]` each): the
/// column-major `[samples · positions, C · kh · kw]` matrix whose row `s·positions + p` holds the
/// inputs output position `p` of sample `s` reads (zeros for padding).
fn patches<T: Real>(
    patches: &mut Vec<T>,
    x: &[T],
    columns: core::ops::Range<usize>,
    window: &Window,
) {
    let (len, plane) = (window.input_len(), window.positions());
    let kernel = window.kernel[0] * window.kernel[1];
    let rows = columns.len() * plane;
    let step = window.stride[1];
    // Without padding every entry is written below: only a padded window needs its zeros
    // (the buffer is reused from chunk to chunk, so clearing it would cost a pass).
    if window.padding != [0, 0] {
        patches.clear();
    }
    patches.resize(rows * window.taps(), T::zero());
    for (s, column) in columns.enumerate() {
        let x = &x[column * len..(column + 1) * len];
        for ci in 0..window.channels {
            window.rows(ci, |tap, x_at, z_at, n| {
                let at = (ci * kernel + tap) * rows + s * plane + z_at;
                let to = &mut patches[at..at + n];
                if step == 1 {
                    to.copy_from_slice(&x[x_at..x_at + n]);
                } else {
                    for (j, p) in to.iter_mut().enumerate() {
                        *p = x[x_at + j * step];
                    }
                }
            });
        }
    }
}

/// `Z = W ⋆ X + b` for every column of a batch: per chunk of samples, the patches times the
/// weight `[C·kh·kw, CO]` in one GEMM; no bias when `bias` is `None`.
pub fn conv_batch<
    T: Real,
    const FAN_IN: usize,
    const CO: usize,
    const IN: usize,
    const OUT: usize,
>(
    weight: &SMatrix<T, FAN_IN, CO>,
    bias: Option<&SVector<T, CO>>,
    x: &Batch<T, IN>,
    window: &Window,
) -> Batch<T, OUT> {
    conv_act_batch(weight, bias, x, window, false)
}

/// `H = relu(W ⋆ X + b)` for every column of a batch: [`conv_batch`] with relu applied as each
/// output is stored (the convolution of a layer declared with `relu`, whose forward keeps `H`
/// only).
pub fn conv_relu_batch<
    T: Real,
    const FAN_IN: usize,
    const CO: usize,
    const IN: usize,
    const OUT: usize,
>(
    weight: &SMatrix<T, FAN_IN, CO>,
    bias: Option<&SVector<T, CO>>,
    x: &Batch<T, IN>,
    window: &Window,
) -> Batch<T, OUT> {
    conv_act_batch(weight, bias, x, window, true)
}

/// [`conv_batch`], with relu on the store when `relu`.
fn conv_act_batch<
    T: Real,
    const FAN_IN: usize,
    const CO: usize,
    const IN: usize,
    const OUT: usize,
>(
    weight: &SMatrix<T, FAN_IN, CO>,
    bias: Option<&SVector<T, CO>>,
    x: &Batch<T, IN>,
    window: &Window,
    relu: bool,
) -> Batch<T, OUT> {
    window.check(IN, OUT, CO);
    let n = x.ncols();
    let plane = window.positions();
    let mut z = Batch::<T, OUT>::zeros(n);
    let len = balanced_chunk_len(n, window);
    for_each_chunk(z.as_mut_slice(), OUT, len, |columns, z| {
        let rows = columns.len() * plane;
        let mut patches_of = Vec::new();
        patches(&mut patches_of, x.as_slice(), columns.clone(), window);
        let mut product = alloc::vec![T::zero(); rows * CO];
        gemm(
            View::plain(&patches_of, rows, FAN_IN),
            View::plain(weight.as_slice(), FAN_IN, CO),
            T::zero(),
            &mut product,
        );
        // Row `s·plane + p`, column `co` of the product is output `co·plane + p` of sample `s`.
        for (s, z) in z.chunks_exact_mut(OUT).enumerate() {
            for co in 0..CO {
                let b = bias.map_or(T::zero(), |b| b[co]);
                let from = &product[co * rows + s * plane..][..plane];
                let z = &mut z[co * plane..][..plane];
                match relu {
                    false => z.iter_mut().zip(from).for_each(|(z, &v)| *z = v + b),
                    true => z
                        .iter_mut()
                        .zip(from)
                        .for_each(|(z, &v)| *z = super::relu(v + b)),
                }
            }
        }
    });
    z
}

/// The batch's deltas of chunk `columns` as the column-major `[samples · positions, CO]` matrix
/// (the layout of [`conv_batch`]'s product).
fn gather<T: Real>(
    gathered: &mut Vec<T>,
    dz: &[T],
    columns: core::ops::Range<usize>,
    out_channels: usize,
    plane: usize,
) {
    let rows = columns.len() * plane;
    // Every entry is written below.
    gathered.resize(rows * out_channels, T::zero());
    let len = out_channels * plane;
    for (s, column) in columns.enumerate() {
        let dz = &dz[column * len..(column + 1) * len];
        for co in 0..out_channels {
            gathered[co * rows + s * plane..][..plane]
                .copy_from_slice(&dz[co * plane..(co + 1) * plane]);
        }
    }
}

/// `∂L/∂W += Σ_columns dz ⋆ x` (one GEMM per chunk: patchesᵀ · deltas) and `∂L/∂b += Σ dz` over
/// every position and column (the bias when `grad_bias` is given).
pub fn conv_grad_batch<
    T: Real,
    const FAN_IN: usize,
    const CO: usize,
    const IN: usize,
    const OUT: usize,
>(
    grad_weight: &mut SMatrix<T, FAN_IN, CO>,
    grad_bias: Option<&mut SVector<T, CO>>,
    dz: &Batch<T, OUT>,
    x: &Batch<T, IN>,
    window: &Window,
) {
    window.check(IN, OUT, CO);
    let n = x.ncols();
    crate::network::check_batch_columns(n, dz.ncols());
    let plane = window.positions();
    let len = balanced_chunk_len(n, window);
    // Each chunk's `[∂W | ∂b]`, summed over the chunks (on the pool's threads).
    let chunk = |i: usize| {
        let columns = i * len..((i + 1) * len).min(n);
        let rows = columns.len() * plane;
        let (mut patches_of, mut deltas) = (Vec::new(), Vec::new());
        patches(&mut patches_of, x.as_slice(), columns.clone(), window);
        gather(&mut deltas, dz.as_slice(), columns, CO, plane);
        let mut sums = alloc::vec![T::zero(); FAN_IN * CO + CO];
        let (weight_sums, bias_sums) = sums.split_at_mut(FAN_IN * CO);
        gemm(
            View::transposed(&patches_of, rows, FAN_IN),
            View::plain(&deltas, rows, CO),
            T::zero(),
            weight_sums,
        );
        for (b, column) in bias_sums.iter_mut().zip(deltas.chunks_exact(rows)) {
            *b = column.iter().fold(T::zero(), |sum, &d| sum + d);
        }
        sums
    };
    let add = |mut sums: Vec<T>, more: Vec<T>| {
        sums.iter_mut().zip(&more).for_each(|(s, &m)| *s += m);
        sums
    };
    let chunks = 0..n.div_ceil(len);
    #[cfg(feature = "std")]
    let sums = if pool_threads() > 1 {
        use rayon::prelude::*;
        chunks.into_par_iter().map(chunk).reduce_with(add)
    } else {
        chunks.map(chunk).reduce(add)
    };
    #[cfg(not(feature = "std"))]
    let sums = chunks.map(chunk).reduce(add);
    let sums = sums.expect("nn-runtime internal error: a batch without columns");
    let (weight_sums, bias_sums) = sums.split_at(FAN_IN * CO);
    for (g, &s) in grad_weight.as_mut_slice().iter_mut().zip(weight_sums) {
        *g += s;
    }
    if let Some(grad_bias) = grad_bias {
        for (g, &s) in grad_bias.iter_mut().zip(bias_sums) {
            *g += s;
        }
    }
}

/// `∂L/∂X = Wᵀ ⋆ dZ` for every column of a batch: per chunk, deltas times the weight's
/// transpose (one GEMM), then each patch gradient added back where the patch was read
/// (col2im).
pub fn conv_backward_input_batch<
    T: Real,
    const FAN_IN: usize,
    const CO: usize,
    const IN: usize,
    const OUT: usize,
>(
    weight: &SMatrix<T, FAN_IN, CO>,
    dz: &Batch<T, OUT>,
    window: &Window,
) -> Batch<T, IN> {
    window.check(IN, OUT, CO);
    let n = dz.ncols();
    let (plane, len) = (window.positions(), window.input_len());
    let kernel = window.kernel[0] * window.kernel[1];
    let step = window.stride[1];
    let mut dx = Batch::<T, IN>::zeros(n);
    let chunk_len = balanced_chunk_len(n, window);
    for_each_chunk(dx.as_mut_slice(), IN, chunk_len, |columns, dx| {
        let rows = columns.len() * plane;
        let mut deltas = Vec::new();
        gather(&mut deltas, dz.as_slice(), columns, CO, plane);
        let mut dpatches = alloc::vec![T::zero(); rows * FAN_IN];
        gemm(
            View::plain(&deltas, rows, CO),
            View::transposed(weight.as_slice(), FAN_IN, CO),
            T::zero(),
            &mut dpatches,
        );
        for (s, dx) in dx.chunks_exact_mut(len).enumerate() {
            for ci in 0..window.channels {
                window.rows(ci, |tap, x_at, z_at, n| {
                    let at = (ci * kernel + tap) * rows + s * plane + z_at;
                    let from = &dpatches[at..at + n];
                    if step == 1 {
                        for (dx, &d) in dx[x_at..x_at + n].iter_mut().zip(from) {
                            *dx += d;
                        }
                    } else {
                        for (j, &d) in from.iter().enumerate() {
                            dx[x_at + j * step] += d;
                        }
                    }
                });
            }
        }
    });
    dx
}
