//! The backward pass `network!` unrolls, against central differences of the loss.
//!
//! Every network below gets random parameters and a random batch from a seeded RNG, then
//! `check_gradient` (each sample alone) and `check_gradient_batch` (the batch's mean loss) compare
//! `backward` with the five-point central difference of the loss in f64, for every parameter.
//! Together the networks cover every activation, every loss and target kind, every residual kind,
//! layer norms, layers without bias, and depths 1 to 6. The remaining tests pin how the batch, prediction,
//! accumulation and f32 paths relate to the per-sample f64 path.
//!
//! `cargo test --test gradients -- --nocapture` prints the table of errors.

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, GradientCheck, Network, Parameters, Real, network, one_hot};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Largest accepted `max_relative_error` of a gradient check.
///
/// A wrong formula (a lost residual, a missing `1/batch`, a transposed weight) errs by O(1).
/// A right one differs from the five-point central difference at `gradcheck::STEP` = 1e-4 by
/// its noise: rounding `ε·|L|/h` ≈ 1e-12 absolutely, truncation `O(h⁴)` ≈ 1e-16. Relative to
/// gradients above the runtime's `RELATIVE_FLOOR` (1e-5; smaller ones are compared absolutely
/// against it) that is at most ~1e-7, so 1e-6 leaves margin while an O(1) mistake fails.
const GRADIENT_TOLERANCE: f64 = 1e-6;

/// Largest accepted difference between two f64 computations of the same quantity in a different
/// order (a GEMM over the batch vs one sample at a time, then a mean), relative to
/// `max(1, |value|)`: a few ulps (~1e-16) per operation over a handful of layers.
const REORDER_TOLERANCE: f64 = 1e-12;

/// Largest accepted difference between the f32 and the f64 network, relative to `max(1, |v|)`.
/// f32 rounds at ~6e-8 per operation; through six layers, a layer norm and the loss that grows
/// to ~1e-6, so 1e-4 leaves margin while catching any real divergence (f32-only code paths).
const F32_TOLERANCE: f64 = 1e-4;

/// Parameters are drawn from `U(−WEIGHT_SCALE, WEIGHT_SCALE)`: with inputs in `(−1, 1)` and widths
/// 4–6, pre-activations spread over about `(−2, 2)`, where every activation is curved.
const WEIGHT_SCALE: f64 = 0.8;

/// Columns of every batch (and the number of samples checked one by one).
const BATCH: usize = 7;

/// The seed of every network's parameters and data. With it, no relu, leaky relu or step
/// pre-activation lands within `STEP` of its kink, where central differences straddle it (a
/// kink would show as a relative error of O(1) on one parameter; then pick another seed).
const SEED: u64 = 7;

network! {
    /// Depth 1: the output layer alone (identity), mean squared error.
    struct D1 { input: 4, out: dense(3), loss: mse }
}

network! {
    /// Depth 2: sigmoid; one binary label.
    struct D2 { input: 4, h1: dense(6, sigmoid), out: dense(1), loss: binary_cross_entropy }
}

network! {
    /// Depth 3: relu, tanh and an identity residual; one-hot classes.
    struct D3 {
        input: 5,
        h1: dense(6, relu),
        h2: dense(6, tanh) + h1,
        out: dense(4),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// Depth 4: default leaky relu, softplus, a projection 6 → 5, a residual from the input,
    /// exact gelu without bias; several binary labels.
    struct D4 {
        input: 4,
        h1: dense(6, leaky_relu),
        h2: dense(5, softplus) + project(h1),
        h3: dense(4, gelu, bias = false) + input,
        out: dense(3),
        loss: binary_cross_entropy,
    }
}

network! {
    /// Depth 5: three residuals rejoining `h1`, the last on a default layer norm; soft targets.
    struct D5 {
        input: 5,
        h1: dense(6, leaky_relu(0.2)),
        h2: dense(6, gelu(tanh)) + h1,
        h3: dense(6, silu) + h1,
        n: layer_norm + h1,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// Depth 6: a hidden identity layer, layer norms with an epsilon and with an activation
    /// (and a residual), a hidden softmax, a projection of the input.
    struct D6 {
        input: 5,
        h1: dense(6),
        n1: layer_norm(eps = 1e-3),
        h2: dense(6, softmax) + h1,
        h3: dense(4, silu, bias = false) + project(input),
        n2: layer_norm(silu) + h3,
        out: dense(2),
        loss: mse,
    }
}

network! {
    /// The grammar example: a layer norm with an activation, an epsilon and a residual.
    struct Example {
        input: 5,
        h1: dense(6, leaky_relu(0.2)),
        h2: dense(6, gelu(tanh)) + h1,
        h3: dense(4, softplus, bias = false) + project(input),
        n: layer_norm(silu, eps = 1e-3) + h3,
        out: dense(2),
        loss: binary_cross_entropy,
    }
}

network! {
    /// A step layer: nothing before it, nor the step layer itself, gets a gradient.
    struct Step { input: 4, h1: dense(5, tanh), h2: dense(5, step), out: dense(2), loss: mse }
}

network! {
    /// Softmax as the output activation, under mean squared error.
    struct SoftmaxMse { input: 4, h1: dense(5, tanh), out: dense(3, softmax), loss: mse }
}

/// What the targets of a network's samples are.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// Real values in `(−1, 1)` (mse).
    Values,
    /// Hard labels, each 0 or 1 (binary cross-entropy).
    Labels,
    /// One class per sample (softmax cross-entropy).
    OneHot,
    /// A random distribution per sample (softmax cross-entropy, softmax + mse).
    Soft,
}

/// A network with random parameters and `BATCH` random samples.
struct Setup<N, const IN: usize, const OUT: usize> {
    net: Box<N>,
    xs: Vec<SVector<f64, IN>>,
    ys: Vec<SVector<f64, OUT>>,
}

impl<N: Network<f64, IN, OUT>, const IN: usize, const OUT: usize> Setup<N, IN, OUT> {
    fn new(target: Target) -> Self {
        let mut rng = StdRng::seed_from_u64(SEED);
        let mut net = N::boxed_zeros();
        for i in 0..N::TENSORS.len() {
            for v in net.tensor_mut(i) {
                *v = rng.random_range(-WEIGHT_SCALE..WEIGHT_SCALE);
            }
        }
        let xs = (0..BATCH)
            .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
            .collect();
        let ys = (0..BATCH).map(|_| draw_target(target, &mut rng)).collect();
        Setup { net, xs, ys }
    }

    fn x_batch(&self) -> Batch<f64, IN> {
        Batch::from_columns(&self.xs)
    }

    fn y_batch(&self) -> Batch<f64, OUT> {
        Batch::from_columns(&self.ys)
    }
}

fn draw_target<const OUT: usize>(target: Target, rng: &mut StdRng) -> SVector<f64, OUT> {
    match target {
        Target::Values => SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)),
        Target::Labels => SVector::from_fn(|_, _| f64::from(u8::from(rng.random_bool(0.5)))),
        Target::OneHot => one_hot(rng.random_range(0..OUT)),
        Target::Soft => {
            let weights = SVector::<f64, OUT>::from_fn(|_, _| rng.random_range(0.1..1.0));
            weights / weights.sum()
        }
    }
}

/// One line of the table: the worst per-sample check and the batch check of a network.
struct Row {
    name: &'static str,
    depth: usize,
    params: usize,
    sample: GradientCheck,
    batch: GradientCheck,
}

/// NaN compares as the worst error, so a NaN gradient can't pass.
fn error(check: &GradientCheck) -> f64 {
    if check.max_relative_error.is_nan() {
        f64::INFINITY
    } else {
        check.max_relative_error
    }
}

/// Checks every sample alone and the whole batch of network `N`.
fn check<N, const IN: usize, const OUT: usize>(name: &'static str, target: Target) -> Row
where
    N: Network<f64, IN, OUT>,
{
    let mut s = Setup::<N, IN, OUT>::new(target);
    let sample = (0..BATCH)
        .map(|i| nn_runtime::check_gradient(&mut *s.net, &s.xs[i], &s.ys[i]))
        .max_by(|a, b| error(a).total_cmp(&error(b)))
        .expect("BATCH > 0");
    let (xb, yb) = (s.x_batch(), s.y_batch());
    let batch = nn_runtime::check_gradient_batch(&mut *s.net, &xb, &yb);
    let mut layers: Vec<&str> = N::TENSORS.iter().map(|t| t.layer).collect();
    layers.dedup();
    Row {
        name,
        depth: layers.len(),
        params: N::PARAM_COUNT,
        sample,
        batch,
    }
}

#[test]
fn gradients_match_central_differences() {
    let rows = [
        check::<D1<f64>, _, _>("d1", Target::Values),
        check::<D2<f64>, _, _>("d2", Target::Labels),
        check::<D3<f64>, _, _>("d3", Target::OneHot),
        check::<D4<f64>, _, _>("d4", Target::Labels),
        check::<D5<f64>, _, _>("d5", Target::Soft),
        check::<D6<f64>, _, _>("d6", Target::Values),
        check::<Example<f64>, _, _>("example", Target::Labels),
        check::<Step<f64>, _, _>("step", Target::Values),
        check::<SoftmaxMse<f64>, _, _>("softmax_mse", Target::Soft),
    ];
    println!("network      depth params  per sample   per batch  max abs error  worst (sample)");
    for r in &rows {
        let abs = r.sample.max_absolute_error.max(r.batch.max_absolute_error);
        let (sample, batch) = (r.sample.max_relative_error, r.batch.max_relative_error);
        let worst = r.sample.worst.unwrap_or_default();
        println!(
            "{:<12} {:>5} {:>6} {sample:>11.2e} {batch:>11.2e} {abs:>14.2e}  {}[{}]",
            r.name, r.depth, r.params, worst.0, worst.1,
        );
    }
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| {
            !(error(&r.sample) < GRADIENT_TOLERANCE && error(&r.batch) < GRADIENT_TOLERANCE)
        })
        .map(|r| r.name)
        .collect();
    assert!(
        failed.is_empty(),
        "gradient checks above {GRADIENT_TOLERANCE:e}: {failed:?}"
    );
    let depths: Vec<usize> = rows[..6].iter().map(|r| r.depth).collect();
    assert_eq!(depths, [1, 2, 3, 4, 5, 6]);
}

/// `|a − b| ≤ tolerance · max(1, |b|)` for every parameter of two networks.
fn assert_params_close<T: Real, N: Parameters<T>>(a: &N, b: &N, tolerance: f64, what: &str) {
    for (t, info) in N::TENSORS.iter().enumerate() {
        for (i, (x, y)) in a.tensor(t).iter().zip(b.tensor(t)).enumerate() {
            let (x, y) = (x.to_f64(), y.to_f64());
            assert!(
                (x - y).abs() <= tolerance * y.abs().max(1.0),
                "{what}: {}[{i}]: {x} vs {y}",
                info.name
            );
        }
    }
}

fn assert_close(a: f64, b: f64, tolerance: f64, what: &str) {
    assert!(
        (a - b).abs() <= tolerance * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn step_blocks_every_gradient_before_it() {
    let s = Setup::<Step<f64>, 4, 2>::new(Target::Values);
    let mut grad = Step::<f64>::boxed_zeros();
    s.net.backward(&s.xs[0], &s.ys[0], &mut grad);
    s.net.backward_batch(&s.x_batch(), &s.y_batch(), &mut grad);
    for (t, info) in Step::<f64>::TENSORS.iter().enumerate() {
        let zero = grad.tensor(t).iter().all(|&g| g == 0.0);
        // `h1` feeds the step, `h2` is the step layer: both are exactly zero, `out` is not.
        assert_eq!(
            zero,
            info.layer != "out",
            "{}: {:?}",
            info.name,
            grad.tensor(t)
        );
    }
}

#[test]
fn batch_is_the_mean_of_its_samples() {
    let s = Setup::<D5<f64>, 5, 3>::new(Target::Soft);
    let (xb, yb) = (s.x_batch(), s.y_batch());
    let mut mean_grad = D5::<f64>::boxed_zeros();
    let mut mean_loss = 0.0;
    for (x, y) in s.xs.iter().zip(&s.ys) {
        mean_loss += s.net.backward(x, y, &mut mean_grad) / BATCH as f64;
    }
    for t in 0..D5::<f64>::TENSORS.len() {
        mean_grad
            .tensor_mut(t)
            .iter_mut()
            .for_each(|g| *g /= BATCH as f64);
    }
    let mut batch_grad = D5::<f64>::boxed_zeros();
    let batch_loss = s.net.backward_batch(&xb, &yb, &mut batch_grad);
    assert_params_close(
        &*batch_grad,
        &*mean_grad,
        REORDER_TOLERANCE,
        "batch gradient",
    );
    assert_close(
        batch_loss,
        mean_loss,
        REORDER_TOLERANCE,
        "backward_batch loss",
    );
    assert_close(
        s.net.loss_batch(&xb, &yb),
        mean_loss,
        REORDER_TOLERANCE,
        "loss_batch",
    );
    let per_sample: f64 = s.xs.iter().zip(&s.ys).map(|(x, y)| s.net.loss(x, y)).sum();
    assert_close(
        per_sample / BATCH as f64,
        mean_loss,
        REORDER_TOLERANCE,
        "loss",
    );
}

/// `forward_batch` and `predict_batch` columns equal `forward` and `predict` of each sample.
fn assert_batch_columns<N, const IN: usize, const OUT: usize>(target: Target)
where
    N: Network<f64, IN, OUT>,
{
    let s = Setup::<N, IN, OUT>::new(target);
    let (out, pred) = (
        s.net.forward_batch(&s.x_batch()),
        s.net.predict_batch(&s.x_batch()),
    );
    for (j, x) in s.xs.iter().enumerate() {
        let (f, p) = (s.net.forward(x), s.net.predict(x));
        for i in 0..OUT {
            assert_close(out[(i, j)], f[i], REORDER_TOLERANCE, "forward_batch");
            assert_close(pred[(i, j)], p[i], REORDER_TOLERANCE, "predict_batch");
        }
    }
}

#[test]
fn forward_batch_columns_are_forward_of_each_sample() {
    assert_batch_columns::<D4<f64>, _, _>(Target::Labels);
    assert_batch_columns::<D5<f64>, _, _>(Target::Soft);
    assert_batch_columns::<D6<f64>, _, _>(Target::Values);
    assert_batch_columns::<SoftmaxMse<f64>, _, _>(Target::Soft);
}

#[test]
fn predict_applies_the_link_of_the_loss() {
    // softmax_cross_entropy: softmax of the logits, a distribution.
    let s = Setup::<D3<f64>, 5, 4>::new(Target::OneHot);
    for x in &s.xs {
        let (logits, p) = (s.net.forward(x), s.net.predict(x));
        let expected = logits.map(f64::exp) / logits.map(f64::exp).sum();
        assert!(
            (p - expected).amax() < REORDER_TOLERANCE,
            "{p} vs {expected}"
        );
        assert!(
            (p.sum() - 1.0).abs() < REORDER_TOLERANCE && p.min() > 0.0,
            "{p}"
        );
    }
    // binary_cross_entropy: a sigmoid per output, each in (0, 1).
    let s = Setup::<D4<f64>, 4, 3>::new(Target::Labels);
    for x in &s.xs {
        let (logits, p) = (s.net.forward(x), s.net.predict(x));
        let expected = logits.map(|z| 1.0 / (1.0 + (-z).exp()));
        assert!(
            (p - expected).amax() < REORDER_TOLERANCE,
            "{p} vs {expected}"
        );
        assert!(p.iter().all(|&v| v > 0.0 && v < 1.0), "{p}");
    }
    // mse: the output itself.
    let s = Setup::<D1<f64>, 4, 3>::new(Target::Values);
    for x in &s.xs {
        assert_eq!(s.net.predict(x), s.net.forward(x));
    }
}

#[test]
fn backward_accumulates_into_the_gradient() {
    let s = Setup::<D6<f64>, 5, 2>::new(Target::Values);
    let (xb, yb) = (s.x_batch(), s.y_batch());
    let (mut once, mut twice) = (D6::<f64>::boxed_zeros(), D6::<f64>::boxed_zeros());
    s.net.backward(&s.xs[0], &s.ys[0], &mut once);
    s.net.backward_batch(&xb, &yb, &mut once);
    for _ in 0..2 {
        s.net.backward(&s.xs[0], &s.ys[0], &mut twice);
        s.net.backward_batch(&xb, &yb, &mut twice);
    }
    for t in 0..D6::<f64>::TENSORS.len() {
        once.tensor_mut(t).iter_mut().for_each(|g| *g *= 2.0);
    }
    assert_params_close(&*twice, &*once, REORDER_TOLERANCE, "twice vs 2 × once");
}

#[test]
fn f32_agrees_with_f64() {
    let s = Setup::<D6<f64>, 5, 2>::new(Target::Values);
    let mut net32 = D6::<f32>::boxed_zeros();
    for t in 0..D6::<f32>::TENSORS.len() {
        for (a, &b) in net32.tensor_mut(t).iter_mut().zip(s.net.tensor(t)) {
            *a = b as f32;
        }
    }
    let xs32: Vec<SVector<f32, 5>> = s.xs.iter().map(|x| x.cast()).collect();
    let ys32: Vec<SVector<f32, 2>> = s.ys.iter().map(|y| y.cast()).collect();
    let (mut grad64, mut grad32) = (D6::<f64>::boxed_zeros(), D6::<f32>::boxed_zeros());
    for j in 0..BATCH {
        let (out64, out32) = (s.net.forward(&s.xs[j]), net32.forward(&xs32[j]));
        for i in 0..2 {
            assert_close(f64::from(out32[i]), out64[i], F32_TOLERANCE, "forward");
        }
        let loss64 = s.net.backward(&s.xs[j], &s.ys[j], &mut grad64);
        let loss32 = net32.backward(&xs32[j], &ys32[j], &mut grad32);
        assert_close(f64::from(loss32), loss64, F32_TOLERANCE, "loss");
    }
    let (xb, yb) = (s.x_batch(), s.y_batch());
    let loss64 = s.net.backward_batch(&xb, &yb, &mut grad64);
    let loss32 = net32.backward_batch(&xb.cast(), &yb.cast(), &mut grad32);
    assert_close(f64::from(loss32), loss64, F32_TOLERANCE, "batch loss");
    for (t, info) in D6::<f64>::TENSORS.iter().enumerate() {
        for (i, (&a, &b)) in grad32.tensor(t).iter().zip(grad64.tensor(t)).enumerate() {
            assert_close(
                f64::from(a),
                b,
                F32_TOLERANCE,
                &format!("gradient {}[{i}]", info.name),
            );
        }
    }
}

/// `sgd_step` (the fused step) against `backward` into a cleared gradient and an `Sgd` step,
/// on every sample of network `N` in turn, so later samples see weights the fused step moved.
fn assert_sgd_step_matches<N, const IN: usize, const OUT: usize>(name: &str, target: Target)
where
    N: Network<f64, IN, OUT>,
{
    use nn_runtime::optim::{Optimizer, Sgd, SgdConfig};
    const LR: f64 = 0.3;
    let s = Setup::<N, IN, OUT>::new(target);
    let mut fused = s.net.boxed_copy();
    let mut reference = s.net.boxed_copy();
    let mut grad = N::boxed_zeros();
    let mut sgd = Sgd::<f64, N>::new(SgdConfig {
        lr: LR,
        ..SgdConfig::default()
    })
    .expect("a valid config");
    for (i, (x, y)) in s.xs.iter().zip(&s.ys).enumerate() {
        grad.fill(0.0);
        let expected_loss = reference.backward(x, y, &mut grad);
        sgd.step(&mut reference, &grad);
        let loss = fused.sgd_step(x, y, LR);
        let what = format!("{name}, sample {i}");
        assert_close(loss, expected_loss, REORDER_TOLERANCE, &what);
        assert_params_close(&*fused, &*reference, REORDER_TOLERANCE, &what);
    }
    // The steps moved the weights (a no-op `sgd_step` would fail here unless backward is zero).
    assert!((0..N::TENSORS.len()).any(|t| fused.tensor(t) != s.net.tensor(t)));
}

network! {
    /// A layer norm straight on the input (no `∂L/∂x` behind it).
    struct NormFirst { input: 4, n: layer_norm(tanh), out: dense(2), loss: mse }
}

#[test]
fn sgd_step_is_backward_then_an_sgd_step() {
    assert_sgd_step_matches::<NormFirst<f64>, _, _>("norm_first", Target::Values);
    assert_sgd_step_matches::<D1<f64>, _, _>("d1", Target::Values);
    assert_sgd_step_matches::<D2<f64>, _, _>("d2", Target::Labels);
    assert_sgd_step_matches::<D3<f64>, _, _>("d3", Target::OneHot);
    assert_sgd_step_matches::<D4<f64>, _, _>("d4", Target::Labels);
    assert_sgd_step_matches::<D5<f64>, _, _>("d5", Target::Soft);
    assert_sgd_step_matches::<D6<f64>, _, _>("d6", Target::Values);
    assert_sgd_step_matches::<Example<f64>, _, _>("example", Target::Labels);
    assert_sgd_step_matches::<SoftmaxMse<f64>, _, _>("softmax_mse", Target::Soft);
}

/// Largest accepted `max_relative_error` of the exact check (`check_gradient_dual`): backward
/// and forward mode compute the same derivative in a different order, so they differ by
/// rounding, a few ulps (~1e-16) per operation over a handful of layers.
const DUAL_TOLERANCE: f64 = 1e-12;

/// Below this, derivatives are compared absolutely (see the runtime's constant).
const DUAL_RELATIVE_FLOOR: f64 = nn_runtime::gradcheck::DUAL_RELATIVE_FLOOR;

/// Every sample alone and the whole batch of network `N`, by `check_gradient_dual`; and the
/// generated `input_gradient` (reverse mode) against the forward-mode input Jacobian of the
/// loss. Returns the worst relative error of each.
fn check_dual<N, const IN: usize, const OUT: usize>(target: Target) -> [f64; 3]
where
    N: nn_runtime::gradcheck::DualCheckable<IN, OUT>
        + nn_runtime::dual::WithScalar<nn_runtime::dual::Dual<f64>>,
    <N as nn_runtime::dual::WithScalar<nn_runtime::dual::Dual<f64>>>::Net:
        Network<nn_runtime::dual::Dual<f64>, IN, OUT>,
{
    let s = Setup::<N, IN, OUT>::new(target);
    let sample = (0..BATCH)
        .map(|i| {
            error(&nn_runtime::check_gradient_dual(
                &*s.net, &s.xs[i], &s.ys[i],
            ))
        })
        .fold(0.0, f64::max);
    let batch = error(&nn_runtime::check_gradient_dual_batch(
        &*s.net,
        &s.x_batch(),
        &s.y_batch(),
    ));
    let mut input = 0.0f64;
    let gradients = s.net.input_gradient_batch(&s.x_batch(), &s.y_batch());
    for i in 0..BATCH {
        let reverse = s.net.input_gradient(&s.xs[i], &s.ys[i]);
        let batch_column = gradients.column(i) * BATCH as f64;
        for j in 0..IN {
            let forward = nn_runtime::dual::loss_along_input(
                &*s.net,
                &s.xs[i],
                &SVector::from_fn(|i, _| f64::from(u8::from(i == j))),
                &s.ys[i],
            )
            .derivative();
            for value in [reverse[j], batch_column[j]] {
                let relative = (value - forward).abs()
                    / value.abs().max(forward.abs()).max(DUAL_RELATIVE_FLOOR);
                input = input.max(if relative.is_nan() {
                    f64::INFINITY
                } else {
                    relative
                });
            }
        }
    }
    [sample, batch, input]
}

#[test]
fn gradients_match_dual_numbers_exactly() {
    let rows = [
        ("d1", check_dual::<D1<f64>, _, _>(Target::Values)),
        ("d2", check_dual::<D2<f64>, _, _>(Target::Labels)),
        ("d3", check_dual::<D3<f64>, _, _>(Target::OneHot)),
        ("d4", check_dual::<D4<f64>, _, _>(Target::Labels)),
        ("d5", check_dual::<D5<f64>, _, _>(Target::Soft)),
        ("d6", check_dual::<D6<f64>, _, _>(Target::Values)),
        ("example", check_dual::<Example<f64>, _, _>(Target::Labels)),
        ("step", check_dual::<Step<f64>, _, _>(Target::Values)),
        (
            "softmax_mse",
            check_dual::<SoftmaxMse<f64>, _, _>(Target::Soft),
        ),
        (
            "norm_first",
            check_dual::<NormFirst<f64>, _, _>(Target::Values),
        ),
    ];
    println!("network      per sample   per batch  input gradient (exact checks)");
    for (name, [sample, batch, input]) in &rows {
        println!("{name:<12} {sample:>11.2e} {batch:>11.2e} {input:>15.2e}");
    }
    let worst = rows
        .iter()
        .flat_map(|(_, r)| r)
        .fold(0.0f64, |a, &b| a.max(b));
    println!("worst: {worst:.2e}");
    assert!(
        worst < DUAL_TOLERANCE,
        "exact checks above {DUAL_TOLERANCE:e}: worst {worst:e}"
    );
}
