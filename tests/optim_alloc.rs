//! `Optimizer::step` never touches the heap: every optimizer allocates its state in its
//! constructor, and a step (with clipping, weight decay and a schedule switched on) is
//! straight-line arithmetic over the network's tensors.
//!
//! Allocations are counted per thread (a thread-local flag and counter), so the harness and
//! other test threads allocating at the same time do not disturb the count.

use nn_runtime::Parameters;
use nn_runtime::init::Init;
use nn_runtime::optim::{
    AdaGrad, AdaGradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, RmsProp,
    RmsPropConfig, Schedule, Sgd, SgdConfig,
};

nn_runtime::network! {
    /// Every kind of parameter tensor: weights, biases, a projection, a layer norm.
    pub struct Net {
        input: 8,
        h1: dense(16, relu),
        h2: dense(16, tanh) + h1,
        h3: dense(12, gelu) + project(h1),
        norm: layer_norm,
        out: dense(4),
        loss: mse,
    }
}

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations as allocations_during;

/// Steps `opt` a few times on a fixed gradient; returns the allocations of each step. The
/// first step is included: state allocated lazily would show there.
fn step_allocations(name: &str, mut opt: impl Optimizer<f32, Net<f32>>) -> [usize; 3] {
    let mut net: Box<Net<f32>> = Init::new(1).build().expect("default init");
    let grad: Box<Net<f32>> = Init::new(2)
        .biases(nn_runtime::Scheme::Uniform(1.0))
        .build()
        .expect("init");
    let before = net.tensor(0)[0];
    let counts = [(); 3].map(|()| allocations_during(|| opt.step(&mut net, &grad)));
    assert_ne!(
        net.tensor(0)[0],
        before,
        "{name} did not update the network"
    );
    counts
}

#[test]
fn no_optimizer_allocates_in_step() {
    // Every option that adds work to a step is on: clipping (a global norm; the fixed gradient
    // is clipped, its norm is ≫ 0.5), weight decay, a schedule.
    let clip = Some(0.5);
    let schedule = Schedule::Cosine {
        steps: 10,
        min_lr: 1e-4,
    };
    let sgd = SgdConfig {
        lr: 0.1,
        weight_decay: 1e-4,
        schedule,
        max_grad_norm: clip,
        ..Default::default()
    };
    let rmsprop = RmsPropConfig {
        weight_decay: 1e-4,
        schedule,
        max_grad_norm: clip,
        ..Default::default()
    };
    let adam = AdamConfig {
        weight_decay: 1e-4,
        schedule,
        max_grad_norm: clip,
        ..Default::default()
    };
    let adamw = AdamWConfig {
        schedule,
        max_grad_norm: clip,
        ..Default::default()
    };
    let adagrad = AdaGradConfig {
        weight_decay: 1e-4,
        schedule,
        max_grad_norm: clip,
        ..Default::default()
    };

    let results = [
        (
            "sgd",
            step_allocations("sgd", Sgd::new(sgd).expect("valid")),
        ),
        (
            "momentum",
            step_allocations(
                "momentum",
                Sgd::new(SgdConfig {
                    momentum: 0.9,
                    ..sgd
                })
                .expect("valid"),
            ),
        ),
        (
            "nesterov",
            step_allocations(
                "nesterov",
                Sgd::new(SgdConfig {
                    momentum: 0.9,
                    nesterov: true,
                    ..sgd
                })
                .expect("valid"),
            ),
        ),
        (
            "adagrad",
            step_allocations("adagrad", AdaGrad::new(adagrad).expect("valid")),
        ),
        (
            "rmsprop",
            step_allocations("rmsprop", RmsProp::new(rmsprop).expect("valid")),
        ),
        (
            "rmsprop momentum",
            step_allocations(
                "rmsprop momentum",
                RmsProp::new(RmsPropConfig {
                    momentum: 0.9,
                    ..rmsprop
                })
                .expect("valid"),
            ),
        ),
        (
            "adam",
            step_allocations("adam", Adam::new(adam).expect("valid")),
        ),
        (
            "adamw",
            step_allocations("adamw", AdamW::new(adamw).expect("valid")),
        ),
    ];
    for (name, counts) in results {
        assert_eq!(
            counts, [0; 3],
            "{name}: heap allocations in each of three steps"
        );
    }

    // The counter works: constructing an optimizer allocates its state.
    assert!(allocations_during(|| drop(Adam::<f32, Net<f32>>::new(adam))) >= 2);
}
