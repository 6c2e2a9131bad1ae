//! The per-sample loops against a naive convolution, the batch GEMMs against the per-sample
//! loops, and the pools against hand-worked values.

use nalgebra::{SMatrix, SVector};

use super::*;
use crate::Batch;

/// A few ulps of f64 over sums of a few dozen products.
const TOLERANCE: f64 = 1e-12;

/// `[2, 5, 6]` → 3 channels, kernel 3×2, stride (2, 1), padding (1, 0), dilation (1, 2):
/// output `[3, 3, 4]`.
const WINDOW: Window = Window {
    channels: 2,
    input: [5, 6],
    kernel: [3, 2],
    stride: [2, 1],
    padding: [1, 0],
    dilation: [1, 2],
    output: [3, 4],
};

fn value(i: usize, salt: f64) -> f64 {
    ((i as f64 + salt) * 0.731).sin()
}

/// The definition, written out: `z[o, y, x] = b[o] + Σ W[o, i, p, q] x[i, y s − pad + p d, ..]`.
fn naive(weight: &[f64], bias: &[f64], x: &[f64], w: &Window, out_channels: usize) -> Vec<f64> {
    let [h, wd] = w.input;
    let [oh, ow] = w.output;
    let mut z = vec![0.0; out_channels * oh * ow];
    for o in 0..out_channels {
        for y in 0..oh {
            for xx in 0..ow {
                let mut sum = bias[o];
                for i in 0..w.channels {
                    for p in 0..w.kernel[0] {
                        for q in 0..w.kernel[1] {
                            let iy = (y * w.stride[0] + p * w.dilation[0]) as isize
                                - w.padding[0] as isize;
                            let ix = (xx * w.stride[1] + q * w.dilation[1]) as isize
                                - w.padding[1] as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                continue;
                            }
                            let wi = ((o * w.channels + i) * w.kernel[0] + p) * w.kernel[1] + q;
                            sum += weight[wi] * x[(i * h + iy as usize) * wd + ix as usize];
                        }
                    }
                }
                z[(o * oh + y) * ow + xx] = sum;
            }
        }
    }
    z
}

#[test]
fn conv_matches_the_definition() {
    let weight = SMatrix::<f64, 12, 3>::from_fn(|r, c| value(r + 12 * c, 0.5));
    let bias = SVector::<f64, 3>::from_fn(|r, _| value(r, 9.0));
    let x = SVector::<f64, 60>::from_fn(|r, _| value(r, 2.0));
    let z: SVector<f64, 36> = conv(&weight, Some(&bias), &x, &WINDOW);
    let expected = naive(weight.as_slice(), bias.as_slice(), x.as_slice(), &WINDOW, 3);
    for (a, b) in z.iter().zip(&expected) {
        assert!((a - b).abs() < TOLERANCE, "{a} vs {b}");
    }
}

#[test]
fn batch_matches_samples() {
    let weight = SMatrix::<f64, 12, 3>::from_fn(|r, c| value(r + 12 * c, 0.5));
    let bias = SVector::<f64, 3>::from_fn(|r, _| value(r, 9.0));
    let x = Batch::<f64, 60>::from_fn(5, |r, c| value(r + 60 * c, 1.0));
    let dz = Batch::<f64, 36>::from_fn(5, |r, c| value(r + 36 * c, 4.0));
    let z: Batch<f64, 36> = conv_batch(&weight, Some(&bias), &x, &WINDOW);
    let dx: Batch<f64, 60> = conv_backward_input_batch(&weight, &dz, &WINDOW);
    let (mut gw, mut gb) = (SMatrix::<f64, 12, 3>::zeros(), SVector::<f64, 3>::zeros());
    conv_grad_batch(&mut gw, Some(&mut gb), &dz, &x, &WINDOW);
    let (mut sw, mut sb) = (SMatrix::<f64, 12, 3>::zeros(), SVector::<f64, 3>::zeros());
    for c in 0..5 {
        let xc: SVector<f64, 60> = x.column(c).into_owned();
        let dzc: SVector<f64, 36> = dz.column(c).into_owned();
        let zc: SVector<f64, 36> = conv(&weight, Some(&bias), &xc, &WINDOW);
        assert!((zc - z.column(c)).amax() < TOLERANCE);
        let dxc: SVector<f64, 60> = conv_backward_input(&weight, &dzc, &WINDOW);
        assert!((dxc - dx.column(c)).amax() < TOLERANCE);
        conv_grad(&mut sw, Some(&mut sb), &dzc, &xc, &WINDOW);
    }
    assert!((sw - gw).amax() < TOLERANCE && (sb - gb).amax() < TOLERANCE);
}

#[test]
fn relu_on_the_store_is_relu_of_the_convolution() {
    // About half of the outputs are negative, so the relu matters.
    let weight = SMatrix::<f64, 12, 3>::from_fn(|r, c| value(r + 12 * c, 0.5));
    let bias = SVector::<f64, 3>::from_fn(|r, _| value(r, 9.0));
    let x = Batch::<f64, 60>::from_fn(3, |r, c| value(r + 60 * c, 1.0));
    // f64 (the plain loops): the same bits as `relu` after `conv`, per sample and per batch.
    let z: Batch<f64, 36> = conv_batch(&weight, Some(&bias), &x, &WINDOW);
    let h: Batch<f64, 36> = conv_relu_batch(&weight, Some(&bias), &x, &WINDOW);
    assert_eq!(h, crate::activation::relu(&z));
    assert!(h.iter().filter(|&&h| h == 0.0).count() > 20);
    for c in 0..3 {
        let xc: SVector<f64, 60> = x.column(c).into_owned();
        let z: SVector<f64, 36> = conv(&weight, Some(&bias), &xc, &WINDOW);
        let h: SVector<f64, 36> = conv_relu(&weight, Some(&bias), &xc, &WINDOW);
        assert_eq!(h, crate::activation::relu(&z));
    }
    // f32 (the kernel, relu on its store): equal to `relu` after its own `conv`.
    let (weight, bias) = (weight.cast::<f32>(), bias.cast::<f32>());
    let xc: SVector<f32, 60> = x.column(0).into_owned().cast();
    let z: SVector<f32, 36> = conv(&weight, None, &xc, &WINDOW);
    let h: SVector<f32, 36> = conv_relu(&weight, None, &xc, &WINDOW);
    assert_eq!(h, crate::activation::relu(&z));
    let z: SVector<f32, 36> = conv(&weight, Some(&bias), &xc, &WINDOW);
    let h: SVector<f32, 36> = conv_relu(&weight, Some(&bias), &xc, &WINDOW);
    assert_eq!(h, crate::activation::relu(&z));
}

/// `[4, 40, 40]` → 3 channels, kernel 5×5, padding 1: `[3, 38, 38]`, large enough that a batch
/// is cut into chunks of one sample (1444 positions × 100 taps).
const LARGE: Window = Window {
    channels: 4,
    input: [40, 40],
    kernel: [5, 5],
    stride: [1, 1],
    padding: [1, 1],
    dilation: [1, 1],
    output: [38, 38],
};

#[test]
fn chunks_on_threads_match_samples() {
    // The batch forms on this thread and in a two-thread pool (chunks on both threads, the
    // weight gradient summed over them) against the per-sample loops.
    const IN: usize = 4 * 40 * 40;
    const OUT: usize = 3 * 38 * 38;
    const COLUMNS: usize = 7;
    let weight = SMatrix::<f64, 100, 3>::from_fn(|r, c| value(r + 100 * c, 0.5));
    let bias = SVector::<f64, 3>::from_fn(|r, _| value(r, 9.0));
    let x = Batch::<f64, IN>::from_fn(COLUMNS, |r, c| value(r + IN * c, 1.0));
    let dz = Batch::<f64, OUT>::from_fn(COLUMNS, |r, c| value(r + OUT * c, 4.0));
    let batch = || {
        let z: Batch<f64, OUT> = conv_batch(&weight, Some(&bias), &x, &LARGE);
        let dx: Batch<f64, IN> = conv_backward_input_batch(&weight, &dz, &LARGE);
        let (mut gw, mut gb) = (SMatrix::<f64, 100, 3>::zeros(), SVector::<f64, 3>::zeros());
        conv_grad_batch(&mut gw, Some(&mut gb), &dz, &x, &LARGE);
        (z, dx, gw, gb)
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a pool");
    for (z, dx, gw, gb) in [batch(), pool.install(batch)] {
        let (mut sw, mut sb) = (SMatrix::<f64, 100, 3>::zeros(), SVector::<f64, 3>::zeros());
        for c in 0..COLUMNS {
            let xc: SVector<f64, IN> = x.column(c).into_owned();
            let dzc: SVector<f64, OUT> = dz.column(c).into_owned();
            let zc: SVector<f64, OUT> = conv(&weight, Some(&bias), &xc, &LARGE);
            assert!((zc - z.column(c)).amax() < TOLERANCE);
            let dxc: SVector<f64, IN> = conv_backward_input(&weight, &dzc, &LARGE);
            assert!((dxc - dx.column(c)).amax() < TOLERANCE);
            conv_grad(&mut sw, Some(&mut sb), &dzc, &xc, &LARGE);
        }
        assert!((sw - gw).amax() < 1e3 * TOLERANCE && (sb - gb).amax() < 1e3 * TOLERANCE);
    }
}

#[test]
fn backward_input_is_the_adjoint_of_forward() {
    // <W ⋆ x, d> = <x, Wᵀ ⋆ d> for any x, d (no bias).
    let weight = SMatrix::<f64, 12, 3>::from_fn(|r, c| value(r + 12 * c, 0.5));
    let x = SVector::<f64, 60>::from_fn(|r, _| value(r, 2.0));
    let d = SVector::<f64, 36>::from_fn(|r, _| value(r, 7.0));
    let z: SVector<f64, 36> = conv(&weight, None, &x, &WINDOW);
    let dx: SVector<f64, 60> = conv_backward_input(&weight, &d, &WINDOW);
    assert!((z.dot(&d) - x.dot(&dx)).abs() < TOLERANCE);
}

#[test]
fn pools_match_worked_values() {
    // One channel [1, 4, 4] (0..16 row by row), windows 2×2 stride 2.
    let window = Window {
        channels: 1,
        input: [4, 4],
        kernel: [2, 2],
        stride: [2, 2],
        padding: [0, 0],
        dilation: [1, 1],
        output: [2, 2],
    };
    let x = SVector::<f64, 16>::from_fn(|r, _| r as f64);
    let max: SVector<f64, 4> = max_pool(&x, &window);
    assert_eq!(max.as_slice(), [5.0, 7.0, 13.0, 15.0]);
    let avg: SVector<f64, 4> = avg_pool(&x, &window);
    assert_eq!(avg.as_slice(), [2.5, 4.5, 10.5, 12.5]);
    let dy = SVector::<f64, 4>::new(1.0, 2.0, 3.0, 4.0);
    let dx: SVector<f64, 16> = max_pool_backward(&x, &dy, &window);
    let mut expected = [0.0; 16];
    (expected[5], expected[7], expected[13], expected[15]) = (1.0, 2.0, 3.0, 4.0);
    assert_eq!(dx.as_slice(), expected);
    let dx: SVector<f64, 16> = avg_pool_backward(&dy, &window);
    assert_eq!(dx[0], 0.25);
    assert_eq!(dx[15], 1.0);
    let global: SVector<f64, 1> = global_avg_pool(&x);
    assert_eq!(global[0], 7.5);
    // Ties go to the first maximum of the window, as in PyTorch.
    let flat = SVector::<f64, 16>::from_element(1.0);
    let dx: SVector<f64, 16> = max_pool_backward(&flat, &dy, &window);
    assert_eq!((dx[0], dx[1], dx[4], dx[2]), (1.0, 0.0, 0.0, 2.0));
}
