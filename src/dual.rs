//! One derivative four ways, for `examples/dual`: the gradient of a small tanh network's loss
//! by finite differences at many steps, by dual numbers (forward mode), by the generated
//! backward (reverse mode), and by the closed form derived by hand.
//!
//! The network is `y = Σᵢ vᵢ tanh(wᵢ x + bᵢ) + c` with three units, the loss `L = (y − t)²`.
//! By hand, with `aᵢ = tanh(wᵢ x + bᵢ)` and `δ = 2 (y − t)`:
//! `∂L/∂vᵢ = δ aᵢ`, `∂L/∂c = δ`, `∂L/∂bᵢ = δ vᵢ (1 − aᵢ²)`, `∂L/∂wᵢ = δ vᵢ (1 − aᵢ²) x`.

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Parameters, gradcheck};

nn_runtime::network! {
    /// `y = Σᵢ vᵢ tanh(wᵢ x + bᵢ) + c`, three tanh units, squared error.
    pub struct Tiny { input: 1, h: dense(3, tanh), out: dense(1), loss: mse }
}

/// The first layer's weights `wᵢ`.
pub const W: [f64; 3] = [0.8, -1.3, 0.5];
/// The first layer's biases `bᵢ`.
pub const B: [f64; 3] = [0.1, 0.4, -0.7];
/// The output weights `vᵢ`.
pub const V: [f64; 3] = [1.2, -0.6, 0.9];
/// The output bias `c`.
pub const C: f64 = 0.2;
/// The input.
pub const X: f64 = 0.7;
/// The target.
pub const TARGET: f64 = 0.3;
/// The finite-difference steps `10⁻ᵏ`: from truncation-dominated to cancellation-dominated.
pub const STEP_EXPONENTS: [i32; 8] = [1, 2, 4, 5, 6, 8, 10, 12];

/// How a derivative was computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// `(L(θ + h) − L(θ)) / h`.
    ForwardDifference(f64),
    /// `(L(θ + h) − L(θ − h)) / 2h`.
    CentralDifference(f64),
    /// Forward mode: `gradcheck::gradient_dual`.
    Dual,
    /// Reverse mode: the generated `backward`.
    Backward,
}

/// One row of the table: a method and its largest error over the ten partial derivatives.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// How the gradient was computed.
    pub method: Method,
    /// `max |∂L/∂θ − closed form|` over the parameters.
    pub max_error: f64,
}

/// The network with the parameters above.
pub fn network() -> Tiny<f64> {
    let mut net = Tiny::<f64>::zeros();
    net.h.weight = SVector::from(W);
    net.h.bias = SVector::from(B);
    net.out.weight = SVector::from(V).transpose();
    net.out.bias[0] = C;
    net
}

/// The ten partial derivatives in the network's parameter order (`h.weight`, `h.bias`,
/// `out.weight`, `out.bias`), from the formulas in the module header.
pub fn closed_form() -> [f64; 10] {
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

/// Every method's largest error against [`closed_form`]: the finite differences at each of
/// [`STEP_EXPONENTS`], then dual numbers, then backward.
pub fn four_ways() -> Vec<Row> {
    let net = network();
    let (x, t) = (SVector::from([X]), SVector::from([TARGET]));
    let exact = closed_form();
    let loss = net.loss(&x, &t);
    let moved = |p: usize, offset: f64| {
        let mut moved = net.boxed_copy();
        let (tensor, index) = locate(p);
        moved.tensor_mut(tensor)[index] += offset;
        moved.loss(&x, &t)
    };
    let mut rows = Vec::new();
    for central in [false, true] {
        for k in STEP_EXPONENTS {
            let h = 10f64.powi(-k);
            let derivative = (0..10).map(|p| {
                if central {
                    (moved(p, h) - moved(p, -h)) / (2.0 * h)
                } else {
                    (moved(p, h) - loss) / h
                }
            });
            rows.push(Row {
                method: if central {
                    Method::CentralDifference(h)
                } else {
                    Method::ForwardDifference(h)
                },
                max_error: max_error(derivative, &exact),
            });
        }
    }
    let dual = gradcheck::gradient_dual(&net, &x, &t);
    rows.push(Row {
        method: Method::Dual,
        max_error: max_error(flat(&dual), &exact),
    });
    let mut grad = Tiny::<f64>::zeros();
    net.backward(&x, &t, &mut grad);
    rows.push(Row {
        method: Method::Backward,
        max_error: max_error(flat(&grad), &exact),
    });
    rows
}

/// The tensor and index of flat parameter `p`.
fn locate(mut p: usize) -> (usize, usize) {
    for (tensor, info) in Tiny::<f64>::TENSORS.iter().enumerate() {
        if p < info.len() {
            return (tensor, p);
        }
        p -= info.len();
    }
    panic!("Tiny has 10 parameters")
}

/// Every parameter as one flat list, in the order of [`closed_form`].
fn flat(net: &Tiny<f64>) -> impl Iterator<Item = f64> + '_ {
    (0..Tiny::<f64>::TENSORS.len()).flat_map(|t| net.tensor(t).iter().copied())
}

fn max_error(derivative: impl Iterator<Item = f64>, exact: &[f64; 10]) -> f64 {
    derivative
        .zip(exact)
        .map(|(d, e)| (d - e).abs())
        .fold(0.0, f64::max)
}
