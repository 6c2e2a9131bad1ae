//! The streaming advance of the cells in `f32` ([`Cell::advance`](super::Cell::advance), what
//! a generated `step` calls): each cell's step written as one kernel on its parameters'
//! arrays, compiled three times (AVX-512F, AVX2 + FMA, the baseline target) and chosen at run
//! time, as the per-sample products of [`linalg`](crate::linalg) are. `f64` keeps the generic
//! path.
//!
//! The layout is nalgebra's own: `weight_hh_l0` `[G·H, H]` is column-major, column `j` (the
//! weight of `h_j` in every gate row) contiguous, so `W_hh h` is `H` broadcast multiply-adds
//! over all `G·H` gate rows at once, the rows held in vector registers. Even and odd columns
//! go to two accumulators (which halves the chain of dependent multiply-adds), started at
//! `b_ih` and `b_hh` for the RNN and the LSTM (their pre-activation is one sum) and at the
//! bias and `−0` for the GRU's two products (`r` multiplies `W_hn h + b_hn` alone). The gates
//! then run lane-wise over the `H` units on the rational `tanh` of
//! [`Real::tanh_activation`](crate::Real::tanh_activation), with `σ(z) = ½ tanh(z/2) + ½`.
//! Nothing is allocated; without `std` (no feature detection) the baseline copy runs.
//!
//! The values are those of [`Cell::forward_step`](super::Cell::forward_step) up to rounding,
//! not bit for bit: the multiply-adds are fused where the CPU has FMA and the sums run in
//! another order (over 2,000 carried steps the states stay within 1e-5 of each other, relative
//! to their scale: `recurrent::stream::tests::every_isa_follows_the_recorded_forward_pass`).

use core::any::TypeId;

use nalgebra::SVector;

use super::{Gru, Lstm, Rnn, RnnActivation};
use crate::linalg::madd;
use crate::real::tanh_f32_fused;

/// `value` as a `U`, when `T` is `U` (how a generic cell finds that its scalar is `f32`).
#[inline(always)]
pub(super) fn same<T: 'static, U: 'static>(value: &T) -> Option<&U> {
    (TypeId::of::<T>() == TypeId::of::<U>()).then(|| {
        // SAFETY: `T` and `U` are the same type.
        unsafe { &*(value as *const T).cast::<U>() }
    })
}

/// `value` as a `U`, when `T` is `U`, borrowed uniquely as `value` was.
#[inline(always)]
pub(super) fn same_mut<T: 'static, U: 'static>(value: &mut T) -> Option<&mut U> {
    (TypeId::of::<T>() == TypeId::of::<U>()).then(|| {
        // SAFETY: `T` and `U` are the same type.
        unsafe { &mut *(value as *mut T).cast::<U>() }
    })
}

/// The instruction sets the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    /// AVX-512F (with AVX2 and FMA): 16 lanes.
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Avx512,
    /// AVX2 + FMA: 8 lanes.
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Avx2Fma,
    /// The target's baseline (SSE2 on x86-64), no fused multiply-add.
    Baseline,
}

impl Isa {
    /// The best this CPU runs (std caches the detection: a load and a test per call).
    #[inline(always)]
    fn best() -> Self {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return if std::is_x86_feature_detected!("avx512f") {
                Isa::Avx512
            } else {
                Isa::Avx2Fma
            };
        }
        Isa::Baseline
    }

    /// Every instruction set this CPU runs, baseline first.
    #[cfg(test)]
    fn available() -> alloc::vec::Vec<Self> {
        let mut all = alloc::vec![Isa::Baseline];
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            let best = Isa::best();
            if best != Isa::Baseline {
                all.push(Isa::Avx2Fma);
            }
            if best == Isa::Avx512 {
                all.push(Isa::Avx512);
            }
        }
        all
    }
}

/// `pub(super) fn $name<..>(..)`: `$body::<.., FMA>` on the best [`Isa`] of this CPU, and
/// `$name_on`, the same on a given one (for the tests). The body is `#[inline(always)]`, so
/// each copy is compiled whole under its target features.
macro_rules! kernel {
    (
        $(#[$doc:meta])*
        fn $name:ident, $on:ident [$($generic:tt)*] ($($arg:ident: $ty:ty),*)
        => $body:ident[$($use:tt)*]
    ) => {
        $(#[$doc])*
        #[inline]
        pub(super) fn $name<$($generic)*>($($arg: $ty),*) {
            $on::<$($use)*>(Isa::best(), $($arg),*)
        }

        /// The kernel on `isa`, which the CPU must run.
        #[inline]
        fn $on<$($generic)*>(isa: Isa, $($arg: $ty),*) {
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512<$($generic)*>($($arg: $ty),*) {
                    $body::<$($use)*, true>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2<$($generic)*>($($arg: $ty),*) {
                    $body::<$($use)*, true>($($arg),*)
                }
                match isa {
                    // SAFETY: `isa` is one the CPU runs (`Isa::best`, `Isa::available`).
                    Isa::Avx512 => return unsafe { avx512::<$($use)*>($($arg),*) },
                    // SAFETY: as above.
                    Isa::Avx2Fma => return unsafe { avx2::<$($use)*>($($arg),*) },
                    Isa::Baseline => {}
                }
            }
            let _ = isa;
            $body::<$($use)*, false>($($arg),*)
        }
    };
}

kernel! {
    /// One GRU step, `h` replaced by `h'` (see [`Gru`] for the equations).
    fn gru, gru_on[const IN: usize, const H: usize, const G3: usize]
        (cell: &Gru<f32, IN, H, G3>, x: &SVector<f32, IN>, h: &mut SVector<f32, H>)
        => gru_body[IN, H, G3]
}

kernel! {
    /// One LSTM step, `(h, c)` replaced by `(h', c')` (see [`Lstm`] for the equations).
    fn lstm, lstm_on[const IN: usize, const H: usize, const G4: usize]
        (cell: &Lstm<f32, IN, H, G4>, x: &SVector<f32, IN>, h: &mut SVector<f32, H>,
         c: &mut SVector<f32, H>)
        => lstm_body[IN, H, G4]
}

kernel! {
    /// One Elman step, `h` replaced by `h'` (see [`Rnn`]).
    fn rnn, rnn_on[A: RnnActivation, const IN: usize, const H: usize]
        (cell: &Rnn<f32, IN, H, A>, x: &SVector<f32, IN>, h: &mut SVector<f32, H>)
        => rnn_body[A, IN, H]
}

/// `tanh(z)`, the rational approximation of [`Real::tanh_activation`](crate::Real).
#[inline(always)]
fn tanh<const FMA: bool>(z: f32) -> f32 {
    tanh_f32_fused::<FMA>(z)
}

/// `σ(z) = ½ tanh(z/2) + ½`.
#[inline(always)]
fn sigmoid<const FMA: bool>(z: f32) -> f32 {
    madd::<f32, FMA>(0.5, tanh::<FMA>(0.5 * z), 0.5)
}

/// `[even, odd] += W v` with `W` `[G, K]` column-major (`[[f32; G]; K]`, column `j`
/// contiguous): column `j` times `v_j` added over all `G` rows, even columns into `even`, odd
/// ones into `odd`.
#[inline(always)]
fn add_columns<const G: usize, const K: usize, const FMA: bool>(
    even: &mut [f32; G],
    odd: &mut [f32; G],
    w: &[[f32; G]; K],
    v: &[f32; K],
) {
    let (pairs, last) = w.as_chunks::<2>();
    let (v_pairs, v_last) = v.as_chunks::<2>();
    for ([w0, w1], [v0, v1]) in pairs.iter().zip(v_pairs) {
        for (a, &w) in even.iter_mut().zip(w0) {
            *a = madd::<f32, FMA>(w, *v0, *a);
        }
        for (a, &w) in odd.iter_mut().zip(w1) {
            *a = madd::<f32, FMA>(w, *v1, *a);
        }
    }
    for (col, &vj) in last.iter().zip(v_last) {
        for (a, &w) in even.iter_mut().zip(col) {
            *a = madd::<f32, FMA>(w, vj, *a);
        }
    }
}

/// `even + odd`, lane by lane.
#[inline(always)]
fn sum<const G: usize>(even: [f32; G], odd: &[f32; G]) -> [f32; G] {
    let mut total = even;
    for (t, &o) in total.iter_mut().zip(odd) {
        *t += o;
    }
    total
}

/// `W v + b`, `W` `[G, K]` column-major. The odd accumulator starts at `−0`, the identity of
/// `+`, so a one-column product adds nothing after its multiply-add.
#[inline(always)]
fn affine<const G: usize, const K: usize, const FMA: bool>(
    w: &[[f32; G]; K],
    b: &[f32; G],
    v: &[f32; K],
) -> [f32; G] {
    let (mut even, mut odd) = (*b, [-0.0; G]);
    add_columns::<G, K, FMA>(&mut even, &mut odd, w, v);
    sum(even, &odd)
}

/// `gi = W_ih x + b_ih`, `gh = W_hh h + b_hh`; `r = σ(gi_r + gh_r)`, `z = σ(gi_z + gh_z)`,
/// `n = tanh(gi_n + r gh_n)`, `h' = n + z (h − n)`.
#[inline(always)]
fn gru_body<const IN: usize, const H: usize, const G3: usize, const FMA: bool>(
    cell: &Gru<f32, IN, H, G3>,
    x: &SVector<f32, IN>,
    h: &mut SVector<f32, H>,
) {
    let gi = affine::<G3, IN, FMA>(
        &cell.weight_ih_l0.data.0,
        &cell.bias_ih_l0.data.0[0],
        &x.data.0[0],
    );
    let h = &mut h.data.0[0];
    let gh = affine::<G3, H, FMA>(&cell.weight_hh_l0.data.0, &cell.bias_hh_l0.data.0[0], h);
    for (k, h) in h.iter_mut().enumerate() {
        let r = sigmoid::<FMA>(gi[k] + gh[k]);
        let z = sigmoid::<FMA>(gi[H + k] + gh[H + k]);
        let n = tanh::<FMA>(madd::<f32, FMA>(r, gh[2 * H + k], gi[2 * H + k]));
        *h = madd::<f32, FMA>(z, *h - n, n);
    }
}

/// `a = W_ih x + b_ih + W_hh h + b_hh`; `c' = σ(a_f) c + σ(a_i) tanh(a_g)`,
/// `h' = σ(a_o) tanh(c')`.
#[inline(always)]
fn lstm_body<const IN: usize, const H: usize, const G4: usize, const FMA: bool>(
    cell: &Lstm<f32, IN, H, G4>,
    x: &SVector<f32, IN>,
    h: &mut SVector<f32, H>,
    c: &mut SVector<f32, H>,
) {
    let (h, c) = (&mut h.data.0[0], &mut c.data.0[0]);
    let (mut even, mut odd) = (cell.bias_ih_l0.data.0[0], cell.bias_hh_l0.data.0[0]);
    add_columns::<G4, IN, FMA>(&mut even, &mut odd, &cell.weight_ih_l0.data.0, &x.data.0[0]);
    add_columns::<G4, H, FMA>(&mut even, &mut odd, &cell.weight_hh_l0.data.0, h);
    let a = sum(even, &odd);
    for (k, (h, c)) in h.iter_mut().zip(c.iter_mut()).enumerate() {
        let i = sigmoid::<FMA>(a[k]);
        let f = sigmoid::<FMA>(a[H + k]);
        let g = tanh::<FMA>(a[2 * H + k]);
        let o = sigmoid::<FMA>(a[3 * H + k]);
        *c = madd::<f32, FMA>(f, *c, i * g);
        *h = o * tanh::<FMA>(*c);
    }
}

/// `h' = σ(W_ih x + b_ih + W_hh h + b_hh)`.
#[inline(always)]
fn rnn_body<A: RnnActivation, const IN: usize, const H: usize, const FMA: bool>(
    cell: &Rnn<f32, IN, H, A>,
    x: &SVector<f32, IN>,
    h: &mut SVector<f32, H>,
) {
    let h = &mut h.data.0[0];
    let (mut even, mut odd) = (cell.bias_ih_l0.data.0[0], cell.bias_hh_l0.data.0[0]);
    add_columns::<H, IN, FMA>(&mut even, &mut odd, &cell.weight_ih_l0.data.0, &x.data.0[0]);
    add_columns::<H, H, FMA>(&mut even, &mut odd, &cell.weight_hh_l0.data.0, h);
    for (h, z) in h.iter_mut().zip(sum(even, &odd)) {
        *h = A::apply(z);
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use alloc::vec::Vec;

    use nalgebra::{SMatrix, SVector};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::recurrent::{Cell, LstmState, Relu, Tanh, forward_sequence};

    /// Carried steps per run.
    const STEPS: usize = 2000;

    /// Largest difference allowed between the kernels' states and those of the recorded
    /// forward pass (`forward_step` in generic `f32`), relative to the largest state value of
    /// the run: each step rounds differently (fused multiply-adds, another order of the sums)
    /// by a few units of `f32`'s 6e-8, and the recurrence carries the differences along.
    const TOLERANCE: f32 = 1e-5;

    /// PyTorch's default initialization of a recurrent layer of `H` units, `U(±1/√H)`.
    fn uniform<const R: usize, const C: usize, const H: usize>(
        rng: &mut ChaCha8Rng,
    ) -> SMatrix<f32, R, C> {
        let bound = 1.0 / (H as f32).sqrt();
        SMatrix::from_fn(|_, _| rng.random_range(-bound..bound))
    }

    fn gru<const IN: usize, const H: usize, const G3: usize>(
        rng: &mut ChaCha8Rng,
    ) -> Gru<f32, IN, H, G3> {
        Gru {
            weight_ih_l0: uniform::<G3, IN, H>(rng),
            weight_hh_l0: uniform::<G3, H, H>(rng),
            bias_ih_l0: uniform::<G3, 1, H>(rng),
            bias_hh_l0: uniform::<G3, 1, H>(rng),
        }
    }

    fn lstm<const IN: usize, const H: usize, const G4: usize>(
        rng: &mut ChaCha8Rng,
    ) -> Lstm<f32, IN, H, G4> {
        Lstm {
            weight_ih_l0: uniform::<G4, IN, H>(rng),
            weight_hh_l0: uniform::<G4, H, H>(rng),
            bias_ih_l0: uniform::<G4, 1, H>(rng),
            bias_hh_l0: uniform::<G4, 1, H>(rng),
        }
    }

    fn rnn<A, const IN: usize, const H: usize>(rng: &mut ChaCha8Rng) -> Rnn<f32, IN, H, A> {
        Rnn {
            weight_ih_l0: uniform::<H, IN, H>(rng),
            weight_hh_l0: uniform::<H, H, H>(rng),
            bias_ih_l0: uniform::<H, 1, H>(rng),
            bias_hh_l0: uniform::<H, 1, H>(rng),
            activation: core::marker::PhantomData,
        }
    }

    /// [`STEPS`] inputs in `[-1, 1)`, `IN` features each.
    fn inputs<const IN: usize>(rng: &mut ChaCha8Rng) -> Vec<SVector<f32, IN>> {
        (0..STEPS)
            .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
            .collect()
    }

    /// Every number of an `h` state.
    fn hidden<const H: usize>(h: &SVector<f32, H>) -> Vec<f32> {
        h.as_slice().to_vec()
    }

    /// Every number of an LSTM state, `h` then `c`.
    fn hidden_and_cell<const H: usize>(state: &LstmState<f32, H>) -> Vec<f32> {
        state.h.iter().chain(&state.c).copied().collect()
    }

    /// The largest difference, over `xs` carried from the zero state, between the states
    /// `advance` reaches and those of the recorded forward pass, relative to the largest
    /// state value (`values`: every number of a state).
    fn drift<C: Cell<f32, IN, H>, const IN: usize, const H: usize>(
        cell: &C,
        xs: &[SVector<f32, IN>],
        mut advance: impl FnMut(&SVector<f32, IN>, &mut C::State),
        values: impl Fn(&C::State) -> Vec<f32>,
    ) -> f32 {
        let mut steps = Vec::new();
        forward_sequence(cell, xs, &C::zero_state(), &mut steps);
        let mut state = C::zero_state();
        let (mut worst, mut scale) = (0f32, 0f32);
        for (x, step) in xs.iter().zip(&steps) {
            advance(x, &mut state);
            for (got, want) in values(&state).into_iter().zip(values(C::state(step))) {
                worst = worst.max((got - want).abs());
                scale = scale.max(want.abs());
            }
        }
        assert!(scale > 0.1, "the states move");
        worst / scale
    }

    /// [`lstm_on`] on a whole state.
    fn lstm_state_on<const IN: usize, const H: usize, const G4: usize>(
        isa: Isa,
        cell: &Lstm<f32, IN, H, G4>,
        x: &SVector<f32, IN>,
        state: &mut LstmState<f32, H>,
    ) {
        lstm_on(isa, cell, x, &mut state.h, &mut state.c);
    }

    fn assert_follows(isa: Isa, what: &str, drift: f32) {
        assert!(
            drift <= TOLERANCE,
            "{what} on {isa:?} drifts {drift:e} from the recorded forward pass"
        );
    }

    /// Every kernel on every instruction set this CPU runs follows `forward_step` over 2,000
    /// carried steps, at sizes that reach each vector tail (5 to 40 units, 15 to 160 gate
    /// rows; 1 to 3 inputs, odd and even column counts).
    #[test]
    fn every_isa_follows_the_recorded_forward_pass() {
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let (xs1, xs2, xs3) = (inputs(&mut rng), inputs(&mut rng), inputs(&mut rng));
        let gru8: Gru<f32, 1, 8, 24> = gru(&mut rng);
        let gru5: Gru<f32, 2, 5, 15> = gru(&mut rng);
        let gru16: Gru<f32, 3, 16, 48> = gru(&mut rng);
        let lstm5: Lstm<f32, 2, 5, 20> = lstm(&mut rng);
        let lstm40: Lstm<f32, 1, 40, 160> = lstm(&mut rng);
        let tanh5: Rnn<f32, 2, 5, Tanh> = rnn(&mut rng);
        let relu20: Rnn<f32, 3, 20, Relu> = rnn(&mut rng);
        for isa in Isa::available() {
            let d = drift(&gru8, &xs1, |x, h| gru_on(isa, &gru8, x, h), hidden);
            assert_follows(isa, "gru 1→8", d);
            let d = drift(&gru5, &xs2, |x, h| gru_on(isa, &gru5, x, h), hidden);
            assert_follows(isa, "gru 2→5", d);
            let d = drift(&gru16, &xs3, |x, h| gru_on(isa, &gru16, x, h), hidden);
            assert_follows(isa, "gru 3→16", d);
            let d = drift(
                &lstm5,
                &xs2,
                |x, s| lstm_state_on(isa, &lstm5, x, s),
                hidden_and_cell,
            );
            assert_follows(isa, "lstm 2→5", d);
            let d = drift(
                &lstm40,
                &xs1,
                |x, s| lstm_state_on(isa, &lstm40, x, s),
                hidden_and_cell,
            );
            assert_follows(isa, "lstm 1→40", d);
            let d = drift(&tanh5, &xs2, |x, h| rnn_on(isa, &tanh5, x, h), hidden);
            assert_follows(isa, "rnn 2→5 (tanh)", d);
            let d = drift(&relu20, &xs3, |x, h| rnn_on(isa, &relu20, x, h), hidden);
            assert_follows(isa, "rnn 3→20 (relu)", d);
        }
    }

    /// `Cell::advance` in `f32` is the kernel on the best instruction set of this CPU, bit for
    /// bit (and so follows `forward_step` as above).
    #[test]
    fn advance_in_f32_runs_the_kernel_of_the_best_isa() {
        let mut rng = ChaCha8Rng::seed_from_u64(14);
        let xs: Vec<SVector<f32, 2>> = inputs(&mut rng);
        let (gru, lstm, rnn) = (
            gru::<2, 8, 24>(&mut rng),
            lstm::<2, 8, 32>(&mut rng),
            rnn::<Tanh, 2, 8>(&mut rng),
        );
        let (mut h_gru, mut h_rnn) = (SVector::zeros(), SVector::zeros());
        let mut state = LstmState::default();
        let (mut k_gru, mut k_rnn) = (SVector::zeros(), SVector::zeros());
        let mut k_state = LstmState::default();
        for x in &xs[..100] {
            gru.advance(x, &mut h_gru);
            lstm.advance(x, &mut state);
            rnn.advance(x, &mut h_rnn);
            gru_on(Isa::best(), &gru, x, &mut k_gru);
            lstm_state_on(Isa::best(), &lstm, x, &mut k_state);
            rnn_on(Isa::best(), &rnn, x, &mut k_rnn);
        }
        assert_eq!((h_gru, h_rnn), (k_gru, k_rnn));
        assert_eq!(state, k_state);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_best_isa_is_what_the_cpu_has() {
        let fma = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        let expected = match (fma, std::is_x86_feature_detected!("avx512f")) {
            (true, true) => Isa::Avx512,
            (true, false) => Isa::Avx2Fma,
            (false, _) => Isa::Baseline,
        };
        assert_eq!(Isa::best(), expected);
    }
}
