//! Forward-mode derivatives through generated networks: directional derivatives along
//! parameters and inputs, the input Jacobian against reverse mode, batches and wide layers over
//! duals, and weight files refusing dual networks.
//!
//! The exact gradient check over the whole gradient suite is in `gradients.rs`
//! (`gradients_match_dual_numbers_exactly`) and against JAX in `reference.rs`.

use nn_runtime::dual::{self, Dual, DualN};
use nn_runtime::nalgebra::{SMatrix, SVector};
use nn_runtime::{Batch, Parameters, network};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Two f64 computations of the same derivative in a different order (forward mode against
/// the generated backward): rounding only, a few ulps per operation, relative to `max(1, |v|)`.
const EXACT: f64 = 1e-13;

network! {
    /// Every kind of layer and a residual from the input, on mean squared error (so that a
    /// target selects one output's row of the Jacobian, see `jacobian_matches_reverse_mode`).
    struct Mixed {
        input: 4,
        h1: dense(6, tanh),
        h2: dense(6, gelu) + h1,
        n: layer_norm(silu) + project(input),
        out: dense(3),
        loss: mse,
    }
}

network! {
    /// Softmax cross-entropy, for the loss's derivative along a parameter direction.
    struct Classifier { input: 3, h: dense(5, relu), out: dense(4), loss: softmax_cross_entropy }
}

network! {
    /// 32 × 16 = 512 weights: the per-sample products take the run-time dispatched path.
    struct Wide { input: 32, h: dense(16, sigmoid), out: dense(2), loss: mse }
}

fn random<N: Parameters<f64>>(seed: u64) -> Box<N> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = N::boxed_zeros();
    for i in 0..N::TENSORS.len() {
        for v in net.tensor_mut(i) {
            *v = rng.random_range(-0.8..0.8);
        }
    }
    net
}

fn vector<const N: usize>(rng: &mut StdRng) -> SVector<f64, N> {
    SVector::from_fn(|_, _| rng.random_range(-1.0..1.0))
}

fn assert_close(a: f64, b: f64, tolerance: f64, what: &str) {
    assert!(
        (a - b).abs() <= tolerance * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn loss_along_a_parameter_direction_is_the_gradient_dotted_with_it() {
    let net = random::<Classifier<f64>>(1);
    let direction = random::<Classifier<f64>>(2);
    let mut rng = StdRng::seed_from_u64(3);
    let x = vector::<3>(&mut rng);
    let target = nn_runtime::one_hot::<f64, 4>(2);

    let along = dual::loss_along(&*net, &*direction, &x, &target);
    let mut grad = Classifier::<f64>::boxed_zeros();
    let loss = net.backward(&x, &target, &mut grad);
    let dot: f64 = (0..Classifier::<f64>::TENSORS.len())
        .map(|t| {
            let (g, v) = (grad.tensor(t), direction.tensor(t));
            g.iter().zip(v).map(|(g, v)| g * v).sum::<f64>()
        })
        .sum();
    assert_eq!(along.re, loss);
    assert_close(along.derivative(), dot, EXACT, "⟨∂L/∂θ, v⟩");
}

#[test]
fn outputs_along_a_parameter_direction_match_central_differences() {
    let net = random::<Mixed<f64>>(4);
    let direction = random::<Mixed<f64>>(5);
    let x = vector::<4>(&mut StdRng::seed_from_u64(6));
    let y = dual::output_along(&*net, &*direction, &x);

    // f(θ + t v) by five-point central differences in t.
    let at = |t: f64| {
        let mut moved = net.boxed_copy();
        for i in 0..Mixed::<f64>::TENSORS.len() {
            for (m, v) in moved.tensor_mut(i).iter_mut().zip(direction.tensor(i)) {
                *m += t * v;
            }
        }
        moved.forward(&x)
    };
    let h = 1e-4;
    let numeric = (at(-2.0 * h) - at(2.0 * h) + (at(h) - at(-h)) * 8.0) / (12.0 * h);
    for j in 0..3 {
        assert_eq!(y[j].re, net.forward(&x)[j]);
        // Central differences carry ~1e-11 of noise here (see gradcheck::STEP).
        assert_close(y[j].derivative(), numeric[j], 1e-8, "output along v");
    }
}

#[test]
fn jacobian_matches_reverse_mode() {
    let net = random::<Mixed<f64>>(7);
    let x = vector::<4>(&mut StdRng::seed_from_u64(8));
    let y = net.forward(&x);

    // Forward mode: one tangent (4 passes), two (2 passes), four (1 pass).
    let by_one = dual::input_jacobian(&*dual::lift::<f64, 1, _>(&*net), &x);
    let by_two = dual::input_jacobian(&*dual::lift::<f64, 2, _>(&*net), &x);
    let by_four = dual::input_jacobian(&*dual::lift::<f64, 4, _>(&*net), &x);

    // Reverse mode, one row per pass: with mse over 3 outputs, L = Σ (y − t)² / 3, so the
    // target `t = y − (3/2) e_j` makes `∂L/∂x = J_j`, row j of the Jacobian.
    let reverse = SMatrix::<f64, 3, 4>::from_rows(&[0, 1, 2].map(|j| {
        let mut target = y;
        target[j] -= 1.5;
        net.input_gradient(&x, &target).transpose()
    }));
    for (name, forward) in [("1", by_one), ("2", by_two), ("4", by_four)] {
        for (f, r) in forward.iter().zip(reverse.iter()) {
            assert_close(
                *f,
                *r,
                EXACT,
                &format!("Jacobian, {name} tangents per pass"),
            );
        }
    }
    // And every column is a directional derivative along a unit input.
    let e2 = SVector::<f64, 4>::from_column_slice(&[0.0, 0.0, 1.0, 0.0]);
    let column = dual::output_along_input(&*net, &x, &e2);
    for j in 0..3 {
        assert_eq!(column[j].derivative(), by_one[(j, 2)]);
    }
}

#[test]
fn input_gradient_batch_is_each_sample_over_the_batch_size() {
    let net = random::<Mixed<f64>>(9);
    let mut rng = StdRng::seed_from_u64(10);
    let xs: Vec<SVector<f64, 4>> = (0..5).map(|_| vector(&mut rng)).collect();
    let ys: Vec<SVector<f64, 3>> = (0..5).map(|_| vector(&mut rng)).collect();
    let batch = net.input_gradient_batch(&Batch::from_columns(&xs), &Batch::from_columns(&ys));
    for i in 0..5 {
        let sample = net.input_gradient(&xs[i], &ys[i]);
        let along = dual::loss_along_input(&*net, &xs[i], &sample, &ys[i]);
        // ⟨∂L/∂x, ∂L/∂x⟩ by forward mode along the reverse-mode gradient.
        assert_close(along.derivative(), sample.norm_squared(), EXACT, "|∂L/∂x|²");
        for j in 0..4 {
            assert_close(batch[(j, i)] * 5.0, sample[j], EXACT, "batch column");
        }
    }
}

#[test]
fn batches_over_duals_equal_their_samples() {
    // Batch products of duals take the generic GEMM loop; samples the generic per-sample loops.
    let net = dual::lift_along(
        &*random::<Mixed<f64>>(11),
        [Some(&*random::<Mixed<f64>>(12))],
    );
    let mut rng = StdRng::seed_from_u64(13);
    let xs: Vec<SVector<Dual<f64>, 4>> = (0..3)
        .map(|_| dual::seed(&vector(&mut rng), [&vector(&mut rng)]))
        .collect();
    let ys: Vec<SVector<Dual<f64>, 3>> =
        (0..3).map(|_| dual::constant(&vector(&mut rng))).collect();
    let (xb, yb) = (Batch::from_columns(&xs), Batch::from_columns(&ys));
    let outputs = net.forward_batch(&xb);
    let mut mean = Dual::new(0.0, 0.0);
    for i in 0..3 {
        let y = net.forward(&xs[i]);
        for j in 0..3 {
            assert_close(outputs[(j, i)].re, y[j].re, EXACT, "batch value");
            assert_close(
                outputs[(j, i)].derivative(),
                y[j].derivative(),
                EXACT,
                "batch tangent",
            );
        }
        mean += net.loss(&xs[i], &ys[i]) / Dual::new(3.0, 0.0);
    }
    let batch_loss = net.loss_batch(&xb, &yb);
    assert_close(
        batch_loss.derivative(),
        mean.derivative(),
        EXACT,
        "batch loss tangent",
    );
}

#[test]
fn wide_layers_over_f32_duals_take_the_dispatched_loops() {
    let net = random::<Wide<f64>>(14);
    let x = vector::<32>(&mut StdRng::seed_from_u64(15));
    let dx = vector::<32>(&mut StdRng::seed_from_u64(16));
    let exact = dual::output_along_input(&*net, &x, &dx);

    let mut narrow = Wide::<f32>::boxed_zeros();
    for i in 0..Wide::<f64>::TENSORS.len() {
        for (n, w) in narrow.tensor_mut(i).iter_mut().zip(net.tensor(i)) {
            *n = *w as f32;
        }
    }
    let (x32, dx32) = (x.map(|v| v as f32), dx.map(|v| v as f32));
    let y32 = dual::output_along_input(&*narrow, &x32, &dx32);
    for j in 0..2 {
        // f32 rounding (6e-8) over a 32-term sum and a sigmoid: 1e-5 leaves margin.
        assert_close(
            f64::from(y32[j].derivative()),
            exact[j].derivative(),
            1e-5,
            "f32 dual",
        );
    }
}

#[test]
fn n_tangents_match_one_pass_per_direction() {
    let net = random::<Mixed<f64>>(17);
    let (v, w) = (random::<Mixed<f64>>(18), random::<Mixed<f64>>(19));
    let x = vector::<4>(&mut StdRng::seed_from_u64(20));
    let both = dual::lift_along(&*net, [Some(&*v), Some(&*w)]).forward(&dual::constant(&x));
    let (along_v, along_w) = (
        dual::output_along(&*net, &*v, &x),
        dual::output_along(&*net, &*w, &x),
    );
    for j in 0..3 {
        let expected: DualN<f64, 2> = DualN {
            re: along_v[j].re,
            eps: [along_v[j].derivative(), along_w[j].derivative()],
        };
        assert_eq!(both[j].re, expected.re);
        assert_eq!(both[j].eps, expected.eps);
    }
}

#[test]
fn weight_files_refuse_dual_networks() {
    let bytes = nn_runtime::io::to_bytes(&*random::<Classifier<f64>>(21));
    let mut dual = Classifier::<Dual<f64>>::boxed_zeros();
    let error = nn_runtime::io::load_from_bytes(&mut *dual, &bytes)
        .expect_err("a dual network loads no weight file")
        .to_string();
    assert!(
        error.contains("weight files hold f32 or f64; load the plain network and lift it"),
        "{error}"
    );
}

/// The figures `examples/dual` prints (and README quotes): finite differences reach 3e-8
/// (forward, h = 1e-8) and 7e-11 (central, h = 1e-5) at best, worse at every other step;
/// dual numbers and backward agree with the closed form to rounding.
#[test]
fn the_four_ways_table() {
    use nn::dual::{Method, four_ways};
    let rows = four_ways();
    let best = |central: bool| {
        rows.iter()
            .filter_map(|r| match r.method {
                Method::ForwardDifference(h) if !central => Some((r.max_error, h)),
                Method::CentralDifference(h) if central => Some((r.max_error, h)),
                _ => None,
            })
            .fold((f64::INFINITY, 0.0), |a, b| if b.0 < a.0 { b } else { a })
    };
    let (forward, forward_h) = best(false);
    let (central, central_h) = best(true);
    // Measured: 3.14e-8 at 1e-8 and 7.46e-11 at 1e-5; the margins are for another libm's tanh.
    assert_eq!((forward_h, central_h), (1e-8, 1e-5));
    assert!(
        (1e-8..1e-7).contains(&forward),
        "forward difference {forward:e}"
    );
    assert!(
        (1e-11..1e-10).contains(&central),
        "central difference {central:e}"
    );
    // Truncation at the largest step: h · L''/2 = 0.1 for ∂L/∂c (L'' = 2).
    assert!((rows[0].max_error - 0.1).abs() < 1e-12);
    for row in &rows[rows.len() - 2..] {
        assert!(row.max_error < 1e-15, "{row:?}");
    }
}
