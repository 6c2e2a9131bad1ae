//! Each layer function against the same math written out with the primitives it replaces (the
//! code `network!` generated before), bit for bit, for layers below and above
//! [`OUTLINE_MIN`] (inlined and outlined), with and without bias, and against central
//! differences in f64.

use nalgebra::{Dyn, OMatrix, SMatrix, SVector};

use super::act::{Gelu, Identity, LeakyRelu, Relu, Tanh};
use super::*;
use crate::activation::{
    gelu, gelu_backward, leaky_relu, relu, relu_backward, tanh, tanh_backward,
};
use crate::linalg::{Batch, add_mul_tr, matmul, tr_matmul};
use crate::{Dense, Linear, batch_view_flat};

/// A value in [−1, 1) from a seed and an index (a fixed, irregular pattern).
fn value(seed: usize, i: usize) -> f64 {
    let x = (i * 7919 + seed * 104_729) % 1999;
    x as f64 / 999.5 - 1.0
}

fn dense<const IN: usize, const OUT: usize>(seed: usize) -> Dense<f64, IN, OUT> {
    Dense {
        weight: SMatrix::from_fn(|i, j| value(seed, i * IN + j) * 0.5),
        bias: SVector::from_fn(|i, _| value(seed + 1, i)),
    }
}

fn vector<const N: usize>(seed: usize) -> SVector<f64, N> {
    SVector::from_fn(|i, _| value(seed, i))
}

/// Forward, gradient and fused SGD of one dense layer with a ReLU and a residual, checked bit
/// for bit against the primitives, for a layer of `IN · OUT` weights.
fn check_sample<const IN: usize, const OUT: usize>() {
    let layer = dense::<IN, OUT>(1);
    let (x, r, dh) = (vector::<IN>(2), vector::<OUT>(3), vector::<OUT>(4));

    let z = matvec(&layer.weight, &x) + layer.bias;
    assert_eq!(dense_forward(&layer, &x, Relu), (z, relu(&z)));
    assert_eq!(
        dense_residual_forward(&layer, &x, Relu, &r),
        (z, relu(&z) + r)
    );

    let dz = relu_backward(&z, &dh);
    let mut expected = dense::<IN, OUT>(5);
    let mut grad = expected.clone();
    add_outer(&mut expected.weight, &dz, &x);
    expected.bias += &dz;
    let dx = dense_grad_backward(&layer, &mut grad, Relu, &z, &dh, &x);
    assert_eq!(dx, tr_matvec(&layer.weight, &dz));
    assert!((dx - layer.weight.tr_mul(&dz)).amax() < 1e-14);
    assert_eq!(grad, expected);
    dense_grad(&mut grad, Relu, &z, &dh, &x);
    add_outer(&mut expected.weight, &dz, &x);
    expected.bias += &dz;
    assert_eq!(grad, expected);
    assert_eq!(dense_backward(&layer, Relu, &z, &dh), dx);

    // The fused step: the returned gradient sees the weights from before the step.
    let lr = 0.125;
    let mut stepped = layer.clone();
    let mut expected = layer.clone();
    descend(&mut expected.bias, &dz, lr);
    assert_eq!(tr_matvec_descend(&mut expected.weight, &dz, &x, lr), dx);
    assert_eq!(dense_sgd_backward(&mut stepped, Relu, &z, &dh, &x, lr), dx);
    assert_eq!(stepped, expected);
    let mut first = layer.clone();
    dense_sgd(&mut first, Relu, &z, &dh, &x, lr);
    let mut expected = layer.clone();
    descend(&mut expected.bias, &dz, lr);
    descend_outer(&mut expected.weight, &dz, &x, lr);
    assert_eq!(first, expected);
    assert!((first.weight - stepped.weight).amax() < 1e-15);
}

#[test]
fn sample_functions_match_the_primitives_inlined_and_outlined() {
    const { assert!(3 * 4 < OUTLINE_MIN && 24 * 20 >= OUTLINE_MIN) };
    check_sample::<3, 4>();
    check_sample::<24, 20>();
}

#[test]
fn a_layer_without_bias_and_other_activations() {
    let layer = Linear::<f64, 5, 3> {
        weight: dense::<5, 3>(6).weight,
    };
    let (x, dh) = (vector::<5>(7), vector::<3>(8));
    let z = matvec(&layer.weight, &x);
    assert_eq!(dense_forward(&layer, &x, Tanh), (z, tanh(&z)));
    assert_eq!(dense_forward(&layer, &x, Identity), (z, z));
    assert_eq!(dense_forward(&layer, &x, Gelu).1, gelu(&z));
    let slope = LeakyRelu(0.2);
    assert_eq!(dense_forward(&layer, &x, slope).1, leaky_relu(&z, 0.2));

    let mut grad = Linear::<f64, 5, 3> {
        weight: SMatrix::zeros(),
    };
    let dz = tanh_backward(&z, &dh);
    let dx = dense_grad_backward(&layer, &mut grad, Tanh, &z, &dh, &x);
    assert_eq!(dx, tr_matvec(&layer.weight, &dz));
    assert!((grad.weight - dz * x.transpose()).amax() < 1e-15);
    assert_eq!(
        dense_backward(&layer, Gelu, &z, &dh),
        tr_matvec(&layer.weight, &gelu_backward(&z, &dh))
    );
    // Identity: `dz = dh`.
    assert_eq!(
        dense_backward(&layer, Identity, &z, &dh),
        tr_matvec(&layer.weight, &dh)
    );
}

/// The batch functions against the primitives, for a batch read from a view (the first layer)
/// and from an owned batch.
fn check_batch<const IN: usize, const OUT: usize>() {
    let layer = dense::<IN, OUT>(9);
    let n = 5;
    let samples: Vec<f64> = (0..n * IN).map(|i| value(10, i)).collect();
    let view = batch_view_flat::<f64, IN>(&samples).expect("whole samples");
    let x: Batch<f64, IN> = view.clone_owned();
    let r = Batch::<f64, OUT>::from_fn(n, |i, j| value(11, i * n + j));
    let dh = Batch::<f64, OUT>::from_fn(n, |i, j| value(12, i * n + j));

    let mut z = matmul(&layer.weight, &x);
    for mut column in z.column_iter_mut() {
        column += &layer.bias;
    }
    assert_eq!(
        dense_forward_batch(&layer, &view, Tanh),
        (z.clone(), tanh(&z))
    );
    assert_eq!(
        dense_residual_forward_batch(&layer, &x, Relu, &r),
        (z.clone(), relu(&z) + &r)
    );

    let dz: OMatrix<f64, nalgebra::Const<OUT>, Dyn> = relu_backward(&z, &dh);
    let mut expected = dense::<IN, OUT>(13);
    let mut grad = expected.clone();
    add_mul_tr(&mut expected.weight, &dz, &x);
    for column in dz.column_iter() {
        expected.bias += column;
    }
    let dx = dense_grad_backward_batch(&layer, &mut grad, Relu, &z, &dh, &view);
    assert_eq!(dx, tr_matmul(&layer.weight, &dz));
    assert_eq!(grad, expected);
    dense_grad_batch(&mut grad, Relu, &z, &dh, &x);
    add_mul_tr(&mut expected.weight, &dz, &x);
    for column in dz.column_iter() {
        expected.bias += column;
    }
    assert_eq!(grad, expected);
    assert_eq!(dense_backward_batch(&layer, Relu, &z, &dh), dx);
}

#[test]
fn batch_functions_match_the_primitives_inlined_and_outlined() {
    check_batch::<3, 4>();
    check_batch::<24, 20>();
}

#[test]
fn dense_backward_matches_central_differences() {
    // L = dh · h(x), so ∂L/∂x is what `dense_backward` returns for that `dh`.
    let layer = dense::<6, 5>(14);
    let (x, dh) = (vector::<6>(15), vector::<5>(16));
    let loss = |x: &SVector<f64, 6>| dense_forward(&layer, x, Tanh).1.dot(&dh);
    let z = dense_forward(&layer, &x, Tanh).0;
    let analytic = dense_backward(&layer, Tanh, &z, &dh);
    let step = 1e-6;
    for i in 0..6 {
        let (mut plus, mut minus) = (x, x);
        plus[i] += step;
        minus[i] -= step;
        let numeric = (loss(&plus) - loss(&minus)) / (2.0 * step);
        let error = (analytic[i] - numeric).abs() / numeric.abs().max(1e-3);
        assert!(error < 1e-6, "x[{i}]: {} vs {numeric}", analytic[i]);
    }
}

/// The `f32` forward of a layer from [`OUTLINE_MIN`] weights (on a CPU with AVX-512F, the
/// fused kernel: bias and activation in the product's store) against the product, the bias and
/// the activation in turn: `z` bit for bit, for every output width shape (multiples of 16,
/// a short output layer, a remainder), with and without bias, fused and other activations.
fn check_f32_forward<const IN: usize, const OUT: usize>() {
    let f32s = |v: &[f64]| {
        v.iter()
            .map(|&v| v as f32)
            .collect::<alloc::vec::Vec<f32>>()
    };
    let layer = dense::<IN, OUT>(11);
    let layer = Dense::<f32, IN, OUT> {
        weight: SMatrix::from_column_slice(&f32s(layer.weight.as_slice())),
        bias: SVector::from_column_slice(&f32s(layer.bias.as_slice())),
    };
    let linear = Linear::<f32, IN, OUT> {
        weight: layer.weight,
    };
    let (x, r) = (vector::<IN>(12), vector::<OUT>(13));
    let x = SVector::<f32, IN>::from_column_slice(&f32s(x.as_slice()));
    let r = SVector::<f32, OUT>::from_column_slice(&f32s(r.as_slice()));

    let z = matvec(&layer.weight, &x) + layer.bias;
    assert_eq!(dense_forward(&layer, &x, Relu), (z, relu(&z)));
    assert_eq!(dense_forward(&layer, &x, Identity), (z, z));
    assert_eq!(dense_forward(&layer, &x, Tanh), (z, tanh(&z)));
    assert_eq!(
        dense_residual_forward(&layer, &x, Relu, &r),
        (z, relu(&z) + r)
    );
    let z = matvec(&linear.weight, &x);
    assert_eq!(dense_forward(&linear, &x, Relu), (z, relu(&z)));
    // With ten outputs or more, the ReLU zeroes some and keeps some.
    let h = dense_forward(&layer, &x, Relu).1;
    assert!(OUT < 10 || (h.iter().any(|&v| v == 0.0) && h.iter().any(|&v| v > 0.0)));
}

#[test]
fn f32_forward_matches_the_primitives_fused_or_not() {
    check_f32_forward::<64, 64>();
    check_f32_forward::<64, 10>();
    check_f32_forward::<40, 37>();
    check_f32_forward::<300, 1>();
    check_f32_forward::<4, 4>();
}
