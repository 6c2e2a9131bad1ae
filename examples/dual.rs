//! One derivative, four ways: the gradient of a small tanh network's loss by finite
//! differences (at many step sizes), by dual numbers (forward mode), by the generated backward
//! (reverse mode), and by the closed form derived by hand, with the error of each.
//!
//! The network is `y = Σᵢ vᵢ tanh(wᵢ x + bᵢ) + c` with three units, the loss `L = (y − t)²`.
//! By hand, with `aᵢ = tanh(wᵢ x + bᵢ)` and `δ = 2 (y − t)`:
//! `∂L/∂vᵢ = δ aᵢ`, `∂L/∂c = δ`, `∂L/∂bᵢ = δ vᵢ (1 − aᵢ²)`, `∂L/∂wᵢ = δ vᵢ (1 − aᵢ²) x`.
//!
//! Finite differences trade two errors: truncation (`O(h)` for the forward difference, `O(h²)`
//! central) falls with the step `h`, cancellation (`ε |L| / h`, `ε` = 2.2e-16) grows as `h`
//! shrinks; the best step sits where they meet (`h ≈ √ε` forward, `∛ε` central) and is still
//! millions of times worse than rounding. Dual numbers and backward have neither: both are
//! exact up to rounding.
//!
//! ```sh
//! cargo run --example dual
//! ```

use std::hint::black_box;
use std::time::Instant;

use nn_runtime::dual::{self, Dual, DualN};
use nn_runtime::nalgebra::SVector;
use nn_runtime::{Parameters, gradcheck};

nn_runtime::network! {
    /// `y = Σᵢ vᵢ tanh(wᵢ x + bᵢ) + c`, three tanh units, squared error.
    struct Tiny { input: 1, h: dense(3, tanh), out: dense(1), loss: mse }
}

const W: [f64; 3] = [0.8, -1.3, 0.5];
const B: [f64; 3] = [0.1, 0.4, -0.7];
const V: [f64; 3] = [1.2, -0.6, 0.9];
const C: f64 = 0.2;
const X: f64 = 0.7;
const TARGET: f64 = 0.3;

/// The ten partial derivatives in the network's parameter order (`h.weight`, `h.bias`,
/// `out.weight`, `out.bias`), from the formulas in the header.
fn closed_form() -> [f64; 10] {
    let a = [0, 1, 2].map(|i| (W[i] * X + B[i]).tanh());
    let y = (0..3).map(|i| V[i] * a[i]).sum::<f64>() + C;
    let delta = 2.0 * (y - TARGET);
    let db = [0, 1, 2].map(|i| delta * V[i] * (1.0 - a[i] * a[i]));
    [
        db[0] * X,
        db[1] * X,
        db[2] * X,
        db[0],
        db[1],
        db[2],
        delta * a[0],
        delta * a[1],
        delta * a[2],
        delta,
    ]
}

/// Every parameter as one flat list, in the order of `closed_form`.
fn flat(net: &Tiny<f64>) -> Vec<f64> {
    (0..Tiny::<f64>::TENSORS.len())
        .flat_map(|t| net.tensor(t).to_vec())
        .collect()
}

/// The loss with parameter `p` (flat index) moved by `offset`.
fn loss_moved(
    net: &Tiny<f64>,
    p: usize,
    offset: f64,
    x: &SVector<f64, 1>,
    t: &SVector<f64, 1>,
) -> f64 {
    let mut moved = net.boxed_copy();
    let mut index = p;
    for tensor in 0..Tiny::<f64>::TENSORS.len() {
        let values = moved.tensor_mut(tensor);
        if index < values.len() {
            values[index] += offset;
            break;
        }
        index -= values.len();
    }
    moved.loss(x, t)
}

nn_runtime::network! {
    /// A mid-sized network for the cost of a dual pass against a plain one.
    struct Mlp { input: 64, h1: dense(128, tanh), h2: dense(128, relu), out: dense(10), loss: mse }
}

/// Nanoseconds per call of `f`, the best of five rounds of `calls` calls.
fn time_ns(calls: u32, mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..calls {
                f();
            }
            started.elapsed().as_nanos() as f64 / f64::from(calls)
        })
        .fold(f64::INFINITY, f64::min)
}

/// The cost of one forward pass of [`Mlp`] per sample: `f64`, then over duals with 1 and 8
/// tangents (every parameter a dual too, as `lift` makes it).
fn costs() {
    let mut plain = Mlp::<f64>::boxed_zeros();
    for t in 0..Mlp::<f64>::TENSORS.len() {
        for (i, v) in plain.tensor_mut(t).iter_mut().enumerate() {
            *v = ((i * 7919) % 1000) as f64 / 1000.0 - 0.5;
        }
    }
    let x = SVector::<f64, 64>::from_fn(|i, _| (i as f64 * 0.37).sin());
    let one = dual::lift::<f64, 1, _>(&*plain);
    let eight = dual::lift::<f64, 8, _>(&*plain);
    let (x1, x8) = (
        dual::seed(&x, [&SVector::from_element(1.0)]),
        dual::constant::<f64, 8, 64>(&x),
    );
    let base = time_ns(2000, || {
        black_box(plain.forward(black_box(&x)));
    });
    let t1 = time_ns(500, || {
        black_box(one.forward(black_box(&x1)));
    });
    let t8 = time_ns(100, || {
        black_box(eight.forward(black_box(&x8)));
    });
    let _: (&Dual<f64>, &DualN<f64, 8>) = (&x1[0], &x8[0]);
    println!(
        "\ncost of one forward pass of {} per sample:",
        <Mlp<f64> as Parameters<f64>>::ARCHITECTURE
    );
    println!("  f64                {base:>9.0} ns");
    println!(
        "  Dual<f64>          {t1:>9.0} ns  ({:.1}× f64; 1 derivative)",
        t1 / base
    );
    println!(
        "  DualN<f64, 8>      {t8:>9.0} ns  ({:.1}× f64; 8 derivatives)",
        t8 / base
    );
}

fn max_error(derivative: &[f64], exact: &[f64; 10]) -> f64 {
    derivative
        .iter()
        .zip(exact)
        .map(|(d, e)| (d - e).abs())
        .fold(0.0, f64::max)
}

fn main() {
    let mut net = Tiny::<f64>::zeros();
    net.h.weight = SVector::from(W);
    net.h.bias = SVector::from(B);
    net.out.weight = SVector::from(V).transpose();
    net.out.bias[0] = C;
    let (x, t) = (SVector::from([X]), SVector::from([TARGET]));
    let exact = closed_form();
    println!(
        "∂L/∂θ of {} at x = {X}, t = {TARGET}: 10 partial derivatives, max |error| against the closed form",
        <Tiny<f64> as Parameters<f64>>::ARCHITECTURE
    );
    println!("{:<28} {:>8} {:>12}", "method", "step h", "max |error|");

    for (name, central) in [("forward difference", false), ("central difference", true)] {
        for k in [1, 2, 4, 5, 6, 8, 10, 12] {
            let h = 10f64.powi(-k);
            let derivative: Vec<f64> = (0..10)
                .map(|p| {
                    let plus = loss_moved(&net, p, h, &x, &t);
                    if central {
                        (plus - loss_moved(&net, p, -h, &x, &t)) / (2.0 * h)
                    } else {
                        (plus - net.loss(&x, &t)) / h
                    }
                })
                .collect();
            println!(
                "{name:<28} {h:>8.0e} {:>12.2e}",
                max_error(&derivative, &exact)
            );
        }
    }

    let dual = gradcheck::gradient_dual(&net, &x, &t);
    println!(
        "{:<28} {:>8} {:>12.2e}",
        "dual numbers (forward mode)",
        "-",
        max_error(&flat(&dual), &exact)
    );

    let mut grad = Tiny::<f64>::zeros();
    net.backward(&x, &t, &mut grad);
    println!(
        "{:<28} {:>8} {:>12.2e}",
        "generated backward (reverse)",
        "-",
        max_error(&flat(&grad), &exact)
    );

    println!(
        "closed form: {}",
        exact.map(|d| format!("{d:.6}")).join(" ")
    );
    costs();
}
