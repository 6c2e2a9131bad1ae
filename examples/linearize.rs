//! Linearizing a learned dynamics model: a network learns a damped, driven pendulum
//! `x' = f(x, u)` (state `x = (θ, ω)`, torque `u`) from samples, and its input Jacobian, by
//! dual numbers, gives the linear model `δx' ≈ A δx + B δu` around any operating point — what a
//! controller design (LQR, MPC) or a stability analysis starts from.
//!
//! The true dynamics are `θ' = ω`, `ω' = −(g/l) sin θ − c ω + u`, so the true linearization at
//! `(θ₀, ω₀, u₀)` is `A = [[0, 1], [−(g/l) cos θ₀, −c]]`, `B = [[0], [1]]`. The example prints
//! the learned `A` and `B` beside the true ones at six equilibria (the pendulum held at `θ₀` by
//! the constant torque `u₀ = (g/l) sin θ₀`) and reads stability from the learned `A`'s
//! eigenvalues: below the horizontal the equilibrium is a stable focus, above it a saddle.
//!
//! ```sh
//! cargo run --release --example linearize
//! ```

use std::f64::consts::PI;

use nn_runtime::data::Dataset;
use nn_runtime::dual;
use nn_runtime::init::Init;
use nn_runtime::nalgebra::{Matrix2, SMatrix, SVector};
use nn_runtime::optim::{Adam, AdamConfig, Schedule};
use nn_runtime::train::{self, TrainConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

nn_runtime::network! {
    /// `(θ, ω, u) ↦ (θ', ω')`: the pendulum's vector field, learned.
    struct Dynamics {
        input: 3,
        h1: dense(48, tanh),
        h2: dense(48, tanh),
        out: dense(2),
        loss: mse,
    }
}

/// `g / l` of the pendulum, in 1/s².
const GRAVITY: f64 = 4.0;
/// Damping `c`, in 1/s.
const DAMPING: f64 = 0.3;
/// Training samples, drawn uniformly from θ ∈ [−3.6, 3.6], ω ∈ [−3, 3], u ∈ [−4, 4].
const SAMPLES: usize = 4096;
/// Passes over the samples (Adam, batches of 64, cosine-annealed from 3e-3).
const EPOCHS: usize = 200;
/// Seed of the samples, the initialization and the shuffles.
const SEED: u64 = 1;

/// The true vector field.
fn pendulum(x: &SVector<f64, 3>) -> SVector<f64, 2> {
    let (theta, omega, u) = (x[0], x[1], x[2]);
    SVector::from([omega, -GRAVITY * theta.sin() - DAMPING * omega + u])
}

/// The true Jacobian `[A | B]` at `x`.
fn true_jacobian(x: &SVector<f64, 3>) -> SMatrix<f64, 2, 3> {
    SMatrix::from_row_slice(&[0.0, 1.0, 0.0, -GRAVITY * x[0].cos(), -DAMPING, 1.0])
}

/// The eigenvalues of a 2 × 2 matrix as `(re, im)` pairs.
fn eigenvalues(a: &Matrix2<f64>) -> [(f64, f64); 2] {
    let (half_trace, det) = (a.trace() / 2.0, a.determinant());
    let disc = half_trace * half_trace - det;
    if disc >= 0.0 {
        [
            (half_trace + disc.sqrt(), 0.0),
            (half_trace - disc.sqrt(), 0.0),
        ]
    } else {
        [(half_trace, (-disc).sqrt()), (half_trace, -(-disc).sqrt())]
    }
}

fn kind(eigenvalues: &[(f64, f64); 2]) -> &'static str {
    let ((r0, i0), (r1, _)) = (eigenvalues[0], eigenvalues[1]);
    match (r0 < 0.0 && r1 < 0.0, i0 != 0.0) {
        (true, true) => "stable focus",
        (true, false) => "stable node",
        (false, _) if r0 * r1 < 0.0 => "saddle (unstable)",
        _ => "unstable",
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let inputs: Vec<[f64; 3]> = (0..SAMPLES)
        .map(|_| {
            [
                rng.random_range(-3.6..3.6),
                rng.random_range(-3.0..3.0),
                rng.random_range(-4.0..4.0),
            ]
        })
        .collect();
    let targets: Vec<[f64; 2]> = inputs
        .iter()
        .map(|x| pendulum(&SVector::from(*x)).into())
        .collect();
    let data = Dataset::regression(&inputs, &targets)?;

    let mut net: Box<Dynamics<f64>> = Init::new(SEED).build()?;
    let steps = (SAMPLES.div_ceil(64) * EPOCHS) as u64;
    let mut adam = Adam::new(AdamConfig {
        lr: 3e-3,
        schedule: Schedule::Cosine {
            steps,
            min_lr: 1e-5,
        },
        ..AdamConfig::default()
    })?;
    let config = TrainConfig {
        epochs: EPOCHS,
        batch_size: 64,
        seed: SEED,
        early_stopping: None,
        progress: false,
        threads: 1,
    };
    let history = train::fit(&mut *net, &mut adam, &data, None, &config)?;
    let last = history.epochs.last().map_or(f64::NAN, |e| e.train.loss);
    println!(
        "learned x' = f(x, u) from {SAMPLES} samples, {EPOCHS} epochs: training mse {last:.2e}"
    );

    // Lift once (three tangents: one pass per Jacobian), then linearize anywhere.
    let lifted = dual::lift::<f64, 3, _>(&*net);
    println!(
        "\n  θ₀     learned [A | B]                    true [A | B]                 max |error|  learned eigenvalues → stability (true)"
    );
    for theta in [0.0, PI / 6.0, PI / 3.0, 2.0 * PI / 3.0, 5.0 * PI / 6.0, PI] {
        let point = SVector::from([theta, 0.0, GRAVITY * theta.sin()]);
        let learned = dual::input_jacobian(&*lifted, &point);
        let exact = true_jacobian(&point);
        let error = (learned - exact).amax();
        let row = |m: &SMatrix<f64, 2, 3>| {
            format!(
                "[{:>5.2} {:>5.2} | {:>4.2}; {:>5.2} {:>5.2} | {:>4.2}]",
                m[(0, 0)],
                m[(0, 1)],
                m[(0, 2)],
                m[(1, 0)],
                m[(1, 1)],
                m[(1, 2)]
            )
        };
        let a: Matrix2<f64> = learned.fixed_view::<2, 2>(0, 0).into();
        let true_a: Matrix2<f64> = exact.fixed_view::<2, 2>(0, 0).into();
        let (learned_eig, true_eig) = (eigenvalues(&a), eigenvalues(&true_a));
        println!(
            "  {theta:>4.2}  {}  {}  {error:>9.3}    {:>5.2}{:+.2}i, {:>5.2}{:+.2}i → {} ({})",
            row(&learned),
            row(&exact),
            learned_eig[0].0,
            learned_eig[0].1,
            learned_eig[1].0,
            learned_eig[1].1,
            kind(&learned_eig),
            kind(&true_eig)
        );
    }

    // The linear model in use: x' near the equilibrium at θ₀ = π/6 for a small perturbation,
    // against the network and the truth.
    let point = SVector::from([PI / 6.0, 0.0, GRAVITY * 0.5]);
    let jacobian = dual::input_jacobian(&*lifted, &point);
    let step = SVector::from([0.05, -0.1, 0.2]);
    let linear = net.forward(&point) + jacobian * step;
    println!(
        "\nat the equilibrium θ₀ = π/6, perturbed by δ(θ, ω, u) = (0.05, −0.1, 0.2): x' linear model {:.4?}, network {:.4?}, true {:.4?}",
        linear.as_slice(),
        net.forward(&(point + step)).as_slice(),
        pendulum(&(point + step)).as_slice()
    );
    Ok(())
}
