//! A hand-written `Parameters` implementor for the optimizer tests, and the test problems.

use alloc::boxed::Box;

use nalgebra::SVector;

use crate::activation::ActivationKind;
use crate::layer::Zeroable;
use crate::network::{Parameters, TensorInfo, TensorRole};
use crate::optim::Optimizer;

/// Two tensors `a` (`[A]`) and `b` (`[B]`): the optimizers see a network with two layers.
#[derive(Debug, PartialEq)]
pub(crate) struct Two<const A: usize, const B: usize> {
    pub a: SVector<f64, A>,
    pub b: SVector<f64, B>,
}

// SAFETY: two nalgebra vectors of `f64`.
unsafe impl<const A: usize, const B: usize> Zeroable for Two<A, B> {}

impl<const A: usize, const B: usize> Parameters<f64> for Two<A, B> {
    const PARAM_COUNT: usize = A + B;
    const TENSORS: &'static [TensorInfo] = &[
        TensorInfo {
            name: "a.weight",
            layer: "a",
            shape: &[A],
            role: TensorRole::Weight,
            activation: ActivationKind::Identity,
        },
        TensorInfo {
            name: "b.weight",
            layer: "b",
            shape: &[B],
            role: TensorRole::Weight,
            activation: ActivationKind::Identity,
        },
    ];
    const ARCHITECTURE: &'static str = "test Two";
    // A stand-in for a generated network: nothing here walks the layers.
    const LAYERS: &'static [crate::LayerInfo] = &[];

    fn tensor(&self, index: usize) -> &[f64] {
        match index {
            0 => self.a.as_slice(),
            1 => self.b.as_slice(),
            _ => panic!("tensor index {index} out of range"),
        }
    }

    fn tensor_mut(&mut self, index: usize) -> &mut [f64] {
        match index {
            0 => self.a.as_mut_slice(),
            1 => self.b.as_mut_slice(),
            _ => panic!("tensor index {index} out of range"),
        }
    }
}

impl<const A: usize, const B: usize> Two<A, B> {
    /// A boxed value holding `a` then `b`.
    pub fn new(a: [f64; A], b: [f64; B]) -> Box<Self> {
        let mut two = Self::boxed_zeros();
        two.a = SVector::from(a);
        two.b = SVector::from(b);
        two
    }
}

/// The point `(x, y)` as two one-element tensors.
pub(crate) type Point = Two<1, 1>;

/// `f = ½ x² + 2 y²`, gradient `(x, 4y)`: the problem of the three-step literal tests.
pub(crate) fn bowl(p: &Point, grad: &mut Point) {
    grad.a[0] = p.a[0];
    grad.b[0] = 4.0 * p.b[0];
}

/// Runs `steps` steps of `opt` on `p` with `gradient`, returning `(x, y)` after each of the
/// first three (for the literal tests).
pub(crate) fn first_three(
    opt: &mut impl Optimizer<f64, Point>,
    gradient: fn(&Point, &mut Point),
) -> [[f64; 2]; 3] {
    let mut p = Point::new([1.0], [1.0]);
    let mut grad = Point::boxed_zeros();
    core::array::from_fn(|_| {
        gradient(&p, &mut grad);
        opt.step(&mut p, &grad);
        [p.a[0], p.b[0]]
    })
}

/// Absolute tolerance of the three-step literal tests. The literals are the exact f64 results
/// of the published formula evaluated in Python (or exact decimals); three steps of ~10 f64
/// operations each differ from them by a few ulps (~1e-16). A slip in the rule (ε inside the
/// square root, a missing bias correction, momentum applied before the gradient) changes the
/// third step by more than 1e-9, so 1e-12 separates the two by three orders of magnitude.
pub(crate) const LITERAL_TOL: f64 = 1e-12;

/// Asserts each step equals its literal within [`LITERAL_TOL`].
pub(crate) fn assert_steps(actual: [[f64; 2]; 3], expected: [[f64; 2]; 3]) {
    for (step, (a, e)) in actual.iter().zip(expected).enumerate() {
        for k in 0..2 {
            assert!(
                (a[k] - e[k]).abs() < LITERAL_TOL,
                "step {}: got {actual:?}, expected {expected:?}",
                step + 1
            );
        }
    }
}

/// The convex quadratic `f = ½ Σ cᵢ (θᵢ − tᵢ)²` over 5 parameters in two tensors, condition
/// number `c_max / c_min = 20`. Minimum at `t`.
pub(crate) type Quad = Two<3, 2>;
const CURVATURE: [f64; 5] = [1.0, 2.0, 5.0, 10.0, 20.0];
const TARGET: [f64; 5] = [1.0, -2.0, 0.5, 3.0, -1.0];

fn quad_gradient(p: &Quad, grad: &mut Quad) {
    for i in 0..5 {
        let (theta, g) = if i < 3 {
            (p.a[i], &mut grad.a[i])
        } else {
            (p.b[i - 3], &mut grad.b[i - 3])
        };
        *g = CURVATURE[i] * (theta - TARGET[i]);
    }
}

/// Runs `opt` on the quadratic from 0 for `steps` steps; returns the largest `|θᵢ − tᵢ|`.
pub(crate) fn quadratic_error(opt: &mut impl Optimizer<f64, Quad>, steps: usize) -> f64 {
    let mut p = Quad::boxed_zeros();
    let mut grad = Quad::boxed_zeros();
    for _ in 0..steps {
        quad_gradient(&p, &mut grad);
        opt.step(&mut p, &grad);
    }
    let theta = [p.a[0], p.a[1], p.a[2], p.b[0], p.b[1]];
    theta
        .iter()
        .zip(TARGET)
        .map(|(t, target)| (t - target).abs())
        .fold(0.0, f64::max)
}

/// Rosenbrock `f = (1 − x)² + 100 (y − x²)²`, gradient
/// `(−2(1 − x) − 400 x (y − x²), 200 (y − x²))`, minimum `(1, 1)`.
fn rosenbrock_gradient(p: &Point, grad: &mut Point) {
    let (x, y) = (p.a[0], p.b[0]);
    grad.a[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
    grad.b[0] = 200.0 * (y - x * x);
}

/// Runs `opt` on Rosenbrock from the classic start `(−1.2, 1)` for `steps` steps; returns
/// the distance to the minimum `(1, 1)`.
pub(crate) fn rosenbrock_error(opt: &mut impl Optimizer<f64, Point>, steps: usize) -> f64 {
    let mut p = Point::new([-1.2], [1.0]);
    let mut grad = Point::boxed_zeros();
    for _ in 0..steps {
        rosenbrock_gradient(&p, &mut grad);
        opt.step(&mut p, &grad);
    }
    ((p.a[0] - 1.0).powi(2) + (p.b[0] - 1.0).powi(2)).sqrt()
}
