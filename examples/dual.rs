//! One derivative, four ways: the gradient of a small tanh network's loss by finite
//! differences (at many step sizes), by dual numbers (forward mode), by the generated backward
//! (reverse mode), and by the closed form derived by hand, with the error of each.
//!
//! The network and the closed form are in `src/dual.rs` (`nn::dual`), which `tests/dual.rs`
//! pins; this prints the table, then the cost of a dual pass against a plain one.
//!
//! Finite differences trade two errors: truncation (`O(h)` for the forward difference, `O(h²)`
//! central) falls with the step `h`, cancellation (`ε |L| / h`, `ε` = 2.2e-16) grows as `h`
//! shrinks; the best step sits where they meet (`h ≈ √ε` forward, `∛ε` central) and is still
//! millions of times worse than rounding. Dual numbers and backward have neither: both are
//! exact up to rounding.
//!
//! ```sh
//! cargo run --release --example dual
//! ```

use std::hint::black_box;
use std::time::Instant;

use nn::dual::{Method, TARGET, Tiny, X, closed_form, four_ways};
use nn_runtime::Parameters;
use nn_runtime::dual::{self, Dual, DualN};
use nn_runtime::nalgebra::SVector;

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

fn main() {
    println!(
        "∂L/∂θ of {} at x = {X}, t = {TARGET}: 10 partial derivatives, max |error| against the closed form",
        <Tiny<f64> as Parameters<f64>>::ARCHITECTURE
    );
    println!("{:<28} {:>8} {:>12}", "method", "step h", "max |error|");
    for row in four_ways() {
        let (name, step) = match row.method {
            Method::ForwardDifference(h) => ("forward difference", format!("{h:.0e}")),
            Method::CentralDifference(h) => ("central difference", format!("{h:.0e}")),
            Method::Dual => ("dual numbers (forward mode)", "-".into()),
            Method::Backward => ("generated backward (reverse)", "-".into()),
        };
        println!("{name:<28} {step:>8} {:>12.2e}", row.max_error);
    }
    println!(
        "closed form: {}",
        closed_form().map(|d| format!("{d:.6}")).join(" ")
    );
    costs();
}
