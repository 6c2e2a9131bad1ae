//! Workload C's target: nn's per-sample SGD step (`nets::small_step_sample`: clear the
//! gradient, `backward_label`, `Sgd::step`; and the fused `nets::small_sgd_step`) allocates
//! nothing on the heap.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;
use nn_bench::nets::{self, Small};
use nn_bench::{DATA_SEED, Data, Params, SMALL, WEIGHT_SEED};
use nn_runtime::Parameters;
use nn_runtime::nalgebra::SVector;

#[test]
fn per_sample_step_allocates_nothing() {
    let p = Params::random(SMALL, WEIGHT_SEED);
    let data = Data::random(SMALL, 4, DATA_SEED);
    let mut net: Box<Small<f32>> = nets::load(&p);
    let mut grad = Small::<f32>::boxed_zeros();
    let mut opt = nets::sgd::<Small<f32>>();
    let samples: Vec<(SVector<f32, 64>, usize)> = (0..data.n)
        .map(|s| (SVector::from_column_slice(data.sample(s)), data.labels[s]))
        .collect();
    // One step first, for anything set up lazily on first use.
    nets::small_step_sample(&mut net, &mut grad, &mut opt, &samples[0].0, samples[0].1);
    let mut loss = 0.0;
    let n = allocations(|| {
        for _ in 0..25 {
            for (x, label) in &samples {
                loss += nets::small_step_sample(&mut net, &mut grad, &mut opt, x, *label);
            }
        }
    });
    assert!(loss.is_finite());
    assert_eq!(
        n, 0,
        "nn's per-sample SGD step allocated {n} times in 100 steps"
    );
}

#[test]
fn fused_per_sample_step_allocates_nothing() {
    let p = Params::random(SMALL, WEIGHT_SEED);
    let data = Data::random(SMALL, 4, DATA_SEED);
    let mut net: Box<Small<f32>> = nets::load(&p);
    let samples: Vec<(SVector<f32, 64>, usize)> = (0..data.n)
        .map(|s| (SVector::from_column_slice(data.sample(s)), data.labels[s]))
        .collect();
    nets::small_sgd_step(&mut net, &samples[0].0, samples[0].1);
    let mut loss = 0.0;
    let n = allocations(|| {
        for _ in 0..25 {
            for (x, label) in &samples {
                loss += nets::small_sgd_step(&mut net, x, *label);
            }
        }
    });
    assert!(loss.is_finite());
    assert_eq!(
        n, 0,
        "nn's fused per-sample step allocated {n} times in 100 steps"
    );
}
