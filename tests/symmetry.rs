//! The symmetry problem: hidden units that start identical stay identical under gradient
//! descent, so a constant initialization makes a layer worth one unit; a zero one leaves the
//! hidden layer dead. Random initialization (the default) breaks the symmetry.

use nn_runtime::init::{Init, Scheme};
use nn_runtime::nalgebra::DMatrix;
use nn_runtime::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use nn_runtime::{Batch, Parameters};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

nn_runtime::network! {
    /// Two hidden layers of several units each: any asymmetry would show between rows.
    pub struct Net {
        input: 3,
        h1: dense(6, tanh),
        h2: dense(5, relu),
        out: dense(2),
        loss: mse,
    }
}

/// Training steps: enough for the weights to move far from their start (checked below).
const STEPS: usize = 200;

/// Largest accepted difference between two hidden units that should be identical. Each unit's
/// weights go through exactly the same arithmetic; the batch products may group the sums of
/// different rows differently (GEMM micro-kernels and their edges), which costs a few ulps of
/// f64 per step (~1e-16 relative), far below any real asymmetry (O(1) after training from a
/// random start).
const SAME_UNIT_TOLERANCE: f64 = 1e-12;

/// A fixed regression batch: 32 random inputs in (−1, 1) and targets from a fixed nonlinear map.
fn data() -> (Batch<f64, 3>, Batch<f64, 2>) {
    let mut rng = StdRng::seed_from_u64(11);
    let x = DMatrix::from_fn(3, 32, |_, _| rng.random_range(-1.0..1.0));
    let x = Batch::<f64, 3>::from_column_slice(x.as_slice());
    let y = Batch::<f64, 2>::from_fn(32, |r, c| {
        if r == 0 {
            (x[(0, c)] * x[(1, c)]).sin()
        } else {
            x[(2, c)].powi(2)
        }
    });
    (x, y)
}

/// Trains `net` for `STEPS` steps of `opt` on the batch; returns the first and last loss.
fn train(net: &mut Net<f64>, opt: &mut dyn Optimizer<f64, Net<f64>>) -> (f64, f64) {
    let (x, y) = data();
    let mut grad = Net::<f64>::boxed_zeros();
    let mut losses = Vec::new();
    for _ in 0..STEPS {
        grad.fill(0.0);
        losses.push(net.backward_batch(&x, &y, &mut grad));
        opt.step(net, &grad);
    }
    (losses[0], losses[STEPS - 1])
}

/// The largest difference between any two rows of a weight: how far the layer's units are
/// from being copies of each other.
fn row_spread(w: &[f64], rows: usize) -> f64 {
    let cols = w.len() / rows;
    let mut spread = 0.0f64;
    for c in 0..cols {
        let column = &w[c * rows..(c + 1) * rows];
        let (lo, hi) = column
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        spread = spread.max(hi - lo);
    }
    spread
}

fn constant() -> Init {
    Init::default()
        .weights(Scheme::Constant(0.3))
        .biases(Scheme::Constant(0.1))
}

#[test]
fn constant_init_keeps_hidden_units_identical() {
    for (name, mut opt) in [
        (
            "sgd",
            Box::new(
                Sgd::new(SgdConfig {
                    lr: 0.05,
                    momentum: 0.9,
                    ..Default::default()
                })
                .expect("a valid config"),
            ) as Box<dyn Optimizer<f64, Net<f64>>>,
        ),
        (
            "adam",
            Box::new(
                Adam::new(AdamConfig {
                    lr: 0.01,
                    ..Default::default()
                })
                .expect("a valid config"),
            ),
        ),
    ] {
        let mut net: Box<Net<f64>> = constant().build().unwrap();
        let start = net.h1.weight[(0, 0)];
        let (first, last) = train(&mut net, &mut *opt);
        assert!(
            last < first,
            "{name}: training made progress ({first} → {last})"
        );
        assert!(
            (net.h1.weight[(0, 0)] - start).abs() > 0.01,
            "{name}: the weights moved"
        );
        // Every unit of h1 and h2 is still a copy of the first: same incoming weights, same
        // bias, and the same outgoing weights in the next layer (columns of its weight).
        assert!(
            row_spread(net.h1.weight.as_slice(), 6) < SAME_UNIT_TOLERANCE,
            "{name}: h1 rows"
        );
        assert!(
            row_spread(net.h1.bias.as_slice(), 6) < SAME_UNIT_TOLERANCE,
            "{name}: h1 bias"
        );
        assert!(
            row_spread(net.h2.weight.as_slice(), 5) < SAME_UNIT_TOLERANCE,
            "{name}: h2 rows"
        );
        assert!(
            row_spread(net.h2.bias.as_slice(), 5) < SAME_UNIT_TOLERANCE,
            "{name}: h2 bias"
        );
        let h2_columns = net.h2.weight.transpose();
        assert!(
            row_spread(h2_columns.as_slice(), 6) < SAME_UNIT_TOLERANCE,
            "{name}: h2 columns"
        );
        let out_columns = net.out.weight.transpose();
        assert!(
            row_spread(out_columns.as_slice(), 5) < SAME_UNIT_TOLERANCE,
            "{name}: out columns"
        );
    }
}

#[test]
fn zero_init_leaves_the_hidden_layers_dead() {
    // With every weight 0, h2's output is relu(0) = 0 and every gradient reaching h1 and h2
    // goes through a zero weight: only the output bias learns.
    let mut net: Box<Net<f64>> = Init::default().weights(Scheme::Zeros).build().unwrap();
    let mut opt = Adam::new(AdamConfig {
        lr: 0.01,
        ..Default::default()
    })
    .expect("a valid config");
    train(&mut net, &mut opt);
    for index in 0..Net::<f64>::TENSORS.len() {
        let name = Net::<f64>::TENSORS[index].name;
        let all_zero = net.tensor(index).iter().all(|v| *v == 0.0);
        assert_eq!(all_zero, name != "out.bias", "{name}");
    }
}

#[test]
fn random_init_breaks_the_symmetry() {
    let mut net: Box<Net<f64>> = Init::new(3).build().unwrap();
    let mut opt = Adam::new(AdamConfig {
        lr: 0.01,
        ..Default::default()
    })
    .expect("a valid config");
    let (first, last) = train(&mut net, &mut opt);
    assert!(last < first);
    assert!(row_spread(net.h1.weight.as_slice(), 6) > 0.1);
    assert!(row_spread(net.h2.weight.as_slice(), 5) > 0.1);
}
