//! Element-wise passes over long parameter slices (an optimizer's update, clearing a
//! gradient) and over a batch's matrices (activations, bias additions and sums), split over
//! the threads of the caller's rayon pool when they are long.
//!
//! Every element is computed by the same expression from the same inputs whichever thread
//! computes it, so the results are bit-identical for every thread count.

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, OMatrix, UninitMatrix};

use crate::Real;

/// Below this many elements an element-wise pass stays on the calling thread even inside a
/// thread pool. A pass over 2¹⁶ `f32` parameters (256 KiB, with a gradient beside it) takes
/// some tens of microseconds on one core, against the few microseconds of a hand-off; the
/// weights of a 512 × 512 layer (2¹⁸) split, its bias and a 64 × 64 layer do not.
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 16;

/// The threads of the rayon pool the caller runs in, or 1 outside a pool (or without `std`).
pub(crate) fn pool_threads() -> usize {
    #[cfg(feature = "std")]
    if rayon::current_thread_index().is_some() {
        return rayon::current_num_threads();
    }
    1
}

/// How many parts an element-wise pass over `len` elements is split into: one per thread of
/// the caller's pool from [`PARALLEL_MIN_ELEMENTS`] on, else 1.
fn parts(len: usize) -> usize {
    if len >= PARALLEL_MIN_ELEMENTS {
        pool_threads()
    } else {
        1
    }
}

/// Runs `f(θᵢ, gᵢ, [s₁ᵢ, …, s_Kᵢ])` for every index `i` of `params`, `grads` and each slice
/// of `state` (all of one length), in parts on the threads of the caller's pool when long.
#[cfg(feature = "std")]
pub(crate) fn zip_apply<T, F, const K: usize>(
    params: &mut [T],
    grads: &[T],
    state: [&mut [T]; K],
    f: &F,
) where
    T: Copy + Send + Sync,
    F: Fn(&mut T, T, [&mut T; K]) + Sync,
{
    assert!(
        grads.len() == params.len() && state.iter().all(|s| s.len() == params.len()),
        "a parameter tensor, its gradient and its optimizer state differ in length"
    );
    zip_apply_parts(params, grads, state, parts(params.len()), f);
}

#[cfg(feature = "std")]
fn zip_apply_parts<T, F, const K: usize>(
    params: &mut [T],
    grads: &[T],
    mut state: [&mut [T]; K],
    parts: usize,
    f: &F,
) where
    T: Copy + Send + Sync,
    F: Fn(&mut T, T, [&mut T; K]) + Sync,
{
    if parts > 1 {
        // `parts / 2` threads take the first `mid` elements, the others the rest.
        let mid = params.len() * (parts / 2) / parts;
        let (p0, p1) = params.split_at_mut(mid);
        let (g0, g1) = grads.split_at(mid);
        let s1 = state.each_mut().map(|s| {
            let (head, tail) = core::mem::take(s).split_at_mut(mid);
            *s = head;
            tail
        });
        rayon::join(
            || zip_apply_parts(p0, g0, state, parts / 2, f),
            || zip_apply_parts(p1, g1, s1, parts - parts / 2, f),
        );
        return;
    }
    for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
        f(p, *g, state.each_mut().map(|s| &mut s[i]));
    }
}

/// Sets every element of `values` to `value`, in parts on the threads of the caller's pool
/// when long.
pub(crate) fn fill<T: Copy + Send + Sync>(values: &mut [T], value: T) {
    fill_parts(values, value, parts(values.len()));
}

#[cfg_attr(not(feature = "std"), allow(unused_variables))]
fn fill_parts<T: Copy + Send + Sync>(values: &mut [T], value: T, parts: usize) {
    #[cfg(feature = "std")]
    if parts > 1 {
        let (head, tail) = values.split_at_mut(values.len() * (parts / 2) / parts);
        rayon::join(
            || fill_parts(head, value, parts / 2),
            || fill_parts(tail, value, parts - parts / 2),
        );
        return;
    }
    values.fill(value);
}

/// Runs `f(start, part)` on consecutive parts of `out` that cover it, `start` the index of
/// `part`'s first element in `out`: one part per thread of the caller's pool when the pass does
/// `work` element operations, at least [`PARALLEL_MIN_ELEMENTS`], else the whole of `out` here.
/// Every cut falls on a multiple of `unit` (a column's length, to hand out whole columns).
///
/// The element-wise passes of a batch (an activation, its backward pass, a bias added to every
/// column, a bias gradient summed over the columns) go through here: each computes every
/// element of `out` by the same expression from the same inputs whichever part holds it, so
/// the result is bit for bit that of one thread.
pub(crate) fn for_parts<T, F>(out: &mut [T], unit: usize, work: usize, f: &F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    for_parts_of(out, 0, unit.max(1), parts(work), f);
}

#[cfg_attr(not(feature = "std"), allow(unused_variables))]
fn for_parts_of<T, F>(out: &mut [T], start: usize, unit: usize, parts: usize, f: &F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    #[cfg(feature = "std")]
    if parts > 1 {
        // `parts / 2` threads take the first `mid` elements (whole units), the others the rest.
        let mid = (out.len() / unit * (parts / 2) / parts) * unit;
        if mid > 0 && mid < out.len() {
            let (head, tail) = out.split_at_mut(mid);
            rayon::join(
                || for_parts_of(head, start, unit, parts / 2, f),
                || for_parts_of(tail, start + mid, unit, parts - parts / 2, f),
            );
            return;
        }
    }
    f(start, out);
}

/// Whether an element-wise pass over `len` values splits over the caller's pool: inside a pool
/// of more than one thread, from [`PARALLEL_MIN_ELEMENTS`] values on. (A single sample's pass
/// never does; its callers keep their own plain loop for it, so that its code, and in debug
/// builds its stack frame, stays that of the loop.)
#[inline]
pub(crate) fn splits(len: usize) -> bool {
    parts(len) > 1
}

/// `f(z)` for every element of `z`, in parts on the threads of the caller's pool (see
/// [`splits`]; on one thread, one part).
pub(crate) fn map<T, R, C, F>(z: &OMatrix<T, R, C>, f: F) -> OMatrix<T, R, C>
where
    T: Real,
    R: Dim,
    C: Dim,
    F: Fn(T) -> T + Sync,
    DefaultAllocator: Allocator<R, C>,
{
    let (rows, cols) = z.shape_generic();
    let mut out = UninitMatrix::<T, R, C>::uninit(rows, cols);
    let z = z.as_slice();
    for_parts(out.as_mut_slice(), 1, z.len(), &|start, part| {
        for (out, &z) in part.iter_mut().zip(&z[start..]) {
            out.write(f(z));
        }
    });
    // SAFETY: the parts cover `out`, and each wrote every element of its part.
    unsafe { out.assume_init() }
}

/// `f(a, b)` for every pair of elements of `a` and `b` (of one shape), in parts on the threads
/// of the caller's pool, as [`map`].
pub(crate) fn zip_map<T, R, C, F>(
    a: &OMatrix<T, R, C>,
    b: &OMatrix<T, R, C>,
    f: F,
) -> OMatrix<T, R, C>
where
    T: Real,
    R: Dim,
    C: Dim,
    F: Fn(T, T) -> T + Sync,
    DefaultAllocator: Allocator<R, C>,
{
    assert_eq!(
        a.shape(),
        b.shape(),
        "zip_map: the operands differ in shape"
    );
    let (rows, cols) = a.shape_generic();
    let mut out = UninitMatrix::<T, R, C>::uninit(rows, cols);
    let (a, b) = (a.as_slice(), b.as_slice());
    for_parts(out.as_mut_slice(), 1, a.len(), &|start, part| {
        for ((out, &a), &b) in part.iter_mut().zip(&a[start..]).zip(&b[start..]) {
            out.write(f(a, b));
        }
    });
    // SAFETY: the parts cover `out`, and each wrote every element of its part.
    unsafe { out.assume_init() }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn passes_split_over_a_pool_equal_the_serial_ones() {
        let n = PARALLEL_MIN_ELEMENTS * 3 + 7;
        let params: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let grads: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
        let step = |p: &mut f32, g: f32, [v]: [&mut f32; 1]| {
            *v = 0.9 * *v + g;
            *p -= 0.01 * *v;
        };
        let run = |pool: Option<&rayon::ThreadPool>| {
            let (mut p, mut v) = (params.clone(), vec![0.5f32; n]);
            let mut zeros = vec![1.0f32; n];
            let mut pass = || {
                zip_apply(&mut p, &grads, [&mut v], &step);
                fill(&mut zeros, 0.0);
                parts(n)
            };
            let parts = match pool {
                Some(pool) => pool.install(pass),
                None => pass(),
            };
            (parts, p, v, zeros)
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("a 3-thread pool");
        let (serial_parts, p1, v1, z1) = run(None);
        let (pool_parts, p3, v3, z3) = run(Some(&pool));
        assert_eq!((serial_parts, pool_parts), (1, 3));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p1), bits(&p3));
        assert_eq!(bits(&v1), bits(&v3));
        assert!(z1.iter().chain(&z3).all(|&z| z == 0.0));
    }

    #[test]
    fn parts_cover_the_output_once_on_whole_units() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("a 3-thread pool");
        // 7 units of 10 elements, plus a ragged end of 3: every element visited once, cuts on
        // multiples of 10, three parts inside the pool and one outside it.
        let run = || {
            let mut seen = vec![0u32; 73];
            let cuts = std::sync::Mutex::new(Vec::new());
            for_parts(&mut seen, 10, PARALLEL_MIN_ELEMENTS, &|start, part| {
                cuts.lock().unwrap().push((start, part.len()));
                part.iter_mut().for_each(|v| *v += 1);
            });
            let mut cuts = cuts.into_inner().unwrap();
            cuts.sort_unstable();
            (seen, cuts)
        };
        let (seen, cuts) = pool.install(run);
        assert!(seen.iter().all(|&v| v == 1));
        assert_eq!(cuts, [(0, 20), (20, 20), (40, 33)]);
        let (seen, cuts) = run();
        assert!(seen.iter().all(|&v| v == 1));
        assert_eq!(cuts, [(0, 73)]);
        pool.install(|| {
            let mut short = [0u8; 4];
            for_parts(&mut short, 1, PARALLEL_MIN_ELEMENTS - 1, &|start, part| {
                assert_eq!((start, part.len()), (0, 4), "below the threshold: one part");
            });
        });
    }

    #[test]
    fn long_maps_split_and_equal_nalgebras() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a 2-thread pool");
        // 2¹⁶ values: the threshold, where a batch's activation starts to split. (Which
        // thread runs a part is rayon's choice: an idle pool's second thread may not steal it.)
        let z =
            crate::Batch::<f32, 256>::from_fn(256, |i, j| ((i * 7 + j * 13) % 29) as f32 - 14.5);
        let d = crate::Batch::<f32, 256>::from_fn(256, |i, j| ((i * 3 + j) % 17) as f32 * 0.25);
        assert!(!splits(z.len()), "outside a pool");
        let (split, h, dz) = pool.install(|| {
            let h = map(&z, |z| z.max(0.0) * 0.5);
            let dz = zip_map(&z, &d, |z, d| if z > 0.0 { d } else { -d });
            (splits(z.len()), h, dz)
        });
        assert!(split, "inside a 2-thread pool");
        assert_eq!(h, z.map(|z| z.max(0.0) * 0.5));
        assert_eq!(dz, z.zip_map(&d, |z, d| if z > 0.0 { d } else { -d }));
    }

    #[test]
    fn short_passes_stay_on_the_calling_thread() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a 2-thread pool");
        pool.install(|| {
            assert_eq!(parts(PARALLEL_MIN_ELEMENTS - 1), 1);
            assert_eq!(parts(PARALLEL_MIN_ELEMENTS), 2);
        });
        assert_eq!(parts(PARALLEL_MIN_ELEMENTS), 1, "outside a pool");
    }
}
