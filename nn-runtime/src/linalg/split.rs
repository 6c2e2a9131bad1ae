//! Element-wise passes over long parameter slices (an optimizer's update, clearing a
//! gradient), split over the threads of the caller's rayon pool when they are long.
//!
//! Every element is computed by the same expression from the same inputs whichever thread
//! computes it, so the results are bit-identical for every thread count.

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
