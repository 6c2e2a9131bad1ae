//! Before anything is timed (the bench binary runs the same checks): every implementation of
//! every workload gives nn's outputs, and for training steps nn's loss and nn's updated weights
//! after one step, from the same weights and data (see `nn_bench::workloads`). Run with
//! `--nocapture` to see the differences.

use nn_bench::nets::{self, Large, Small};
use nn_bench::workloads::{self, CheckOnly};
use nn_bench::{BATCH, DATA_SEED, Data, LARGE, Params, SMALL, WEIGHT_SEED};
use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, Parameters};

#[test]
fn every_implementation_agrees_with_nn() {
    workloads::run(&mut CheckOnly);
}

/// The training workloads repeat one step on the same data many times: the weights must stay
/// finite under plain SGD at lr 0.01 (and the loss go down).
#[test]
fn repeated_steps_stay_finite() {
    let data = Data::random(LARGE, BATCH, DATA_SEED);
    let p = Params::random(LARGE, WEIGHT_SEED);
    let mut net: Box<Large<f32>> = nets::load(&p);
    let mut grad = Large::<f32>::boxed_zeros();
    let mut opt = nets::sgd::<Large<f32>>();
    let x = Batch::<f32, 784>::from_column_slice(&data.x);
    let first = nets::large_step_batch(&mut net, &mut grad, &mut opt, &x, &data.labels);
    let mut last = first;
    for _ in 0..200 {
        last = nets::large_step_batch(&mut net, &mut grad, &mut opt, &x, &data.labels);
    }
    assert!(
        last.is_finite() && last < first,
        "B {}: loss {first} → {last}",
        LARGE.name
    );
    assert!(nets::export(&*net, LARGE).is_finite());

    let data = Data::random(SMALL, 1, DATA_SEED);
    let p = Params::random(SMALL, WEIGHT_SEED);
    let mut net: Box<Small<f32>> = nets::load(&p);
    let mut grad = Small::<f32>::boxed_zeros();
    let mut opt = nets::sgd::<Small<f32>>();
    let x = SVector::<f32, 64>::from_column_slice(data.sample(0));
    let first = nets::small_step_sample(&mut net, &mut grad, &mut opt, &x, data.labels[0]);
    let mut last = first;
    for _ in 0..100_000 {
        last = nets::small_step_sample(&mut net, &mut grad, &mut opt, &x, data.labels[0]);
    }
    assert!(
        last.is_finite() && last < first,
        "C {}: loss {first} → {last}",
        SMALL.name
    );
    assert!(nets::export(&*net, SMALL).is_finite());
}
