//! The per-sample derivative paths allocate nothing: the generated `input_gradient`, and a
//! forward pass, a loss and an input Jacobian on a network already lifted to dual numbers (the
//! wide layer takes the run-time dispatched loops).

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;
use std::hint::black_box;

use nn_runtime::dual::{self, Dual};
use nn_runtime::nalgebra::SVector;
use nn_runtime::{Parameters, network};

network! {
    /// A layer norm, a residual and a layer of 32 × 16 = 512 weights.
    struct Net {
        input: 32,
        h1: dense(16, tanh),
        n: layer_norm(gelu) + h1,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

#[test]
fn per_sample_derivatives_allocate_nothing() {
    let mut net = Net::<f64>::boxed_zeros();
    for t in 0..Net::<f64>::TENSORS.len() {
        for (i, v) in net.tensor_mut(t).iter_mut().enumerate() {
            *v = (i as f64 * 0.37).sin() * 0.5;
        }
    }
    let x = SVector::<f64, 32>::from_fn(|i, _| (i as f64 * 0.11).cos());
    let y = nn_runtime::one_hot::<f64, 3>(1);
    let one = dual::lift::<f64, 1, _>(&*net);
    let four = dual::lift::<f64, 4, _>(&*net);
    let (x1, y1) = (dual::seed(&x, [&x]), dual::constant::<f64, 1, 3>(&y));

    assert_eq!(
        allocations(|| {
            black_box(net.input_gradient(&x, &y));
        }),
        0
    );
    assert_eq!(
        allocations(|| {
            black_box(one.forward(&x1));
        }),
        0
    );
    let loss: Dual<f64> = one.loss(&x1, &y1);
    assert_eq!(
        allocations(|| {
            black_box(one.loss(&x1, &y1));
        }),
        0
    );
    assert_eq!(
        allocations(|| {
            black_box(dual::input_jacobian(&*four, &x));
        }),
        0
    );
    assert!(loss.derivative().is_finite());
}
