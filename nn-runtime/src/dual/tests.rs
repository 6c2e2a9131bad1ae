use nalgebra::{ComplexField, Matrix2x3, RealField, SMatrix, Vector2};

use super::{Dual, DualN};
use crate::Real;
use crate::activation;

/// Largest accepted difference between a dual tangent and the five-point central difference
/// at step `1e-4`, relative to `max(1, |f'|)`: truncation `h⁴/30 · f⁽⁵⁾` ≈ 1e-10 at most on the
/// points below (`1/x` at 0.35: `f⁽⁵⁾` ≈ 6e4), rounding ≈ `ε |f| / h` ≈ 1e-11. A wrong rule errs
/// by O(0.1) or more.
const FD_TOLERANCE: f64 = 1e-8;

/// A scalar function over one-tangent duals.
type Function = fn(Dual<f64>) -> Dual<f64>;

/// `f'(x)` by five-point central differences on the dual's value.
fn central(f: Function, x: f64) -> f64 {
    let h = 1e-4;
    let at = |t: f64| f(Dual::constant(t)).re;
    (at(x - 2.0 * h) - at(x + 2.0 * h) + 8.0 * (at(x + h) - at(x - h))) / (12.0 * h)
}

#[test]
fn every_function_carries_its_derivative() {
    let functions: [(&str, Function); 30] = [
        ("x * x", |x| x * x),
        ("1 / x", |x| Dual::constant(1.0) / x),
        ("x % 0.3", |x| x % Dual::constant(0.3)),
        ("exp", ComplexField::exp),
        ("exp2", ComplexField::exp2),
        ("exp_m1", ComplexField::exp_m1),
        ("ln", ComplexField::ln),
        ("ln_1p", ComplexField::ln_1p),
        ("log2", ComplexField::log2),
        ("log10", ComplexField::log10),
        ("log 3", |x| x.log(Dual::constant(3.0))),
        ("sqrt", ComplexField::sqrt),
        ("cbrt", ComplexField::cbrt),
        ("recip", ComplexField::recip),
        ("powi 3", |x| x.powi(3)),
        ("powf 1.7", |x| x.powf(Dual::constant(1.7))),
        ("x^x", |x| x.powf(x)),
        ("sin", ComplexField::sin),
        ("cos", ComplexField::cos),
        ("tan", ComplexField::tan),
        ("asin", ComplexField::asin),
        ("acos", ComplexField::acos),
        ("atan", ComplexField::atan),
        ("sinh", ComplexField::sinh),
        ("cosh", ComplexField::cosh),
        ("tanh", ComplexField::tanh),
        ("asinh", ComplexField::asinh),
        ("atanh", ComplexField::atanh),
        ("erf", Real::erf),
        ("atan2", |y| y.atan2(Dual::constant(-0.4))),
    ];
    for (name, f) in functions {
        for x in [0.35, 0.55, 0.85] {
            let tangent = f(Dual::new(x, 1.0)).derivative();
            let numeric = central(f, x);
            assert!(
                (tangent - numeric).abs() < FD_TOLERANCE * numeric.abs().max(1.0),
                "{name} at {x}: dual {tangent}, central difference {numeric}"
            );
        }
    }
    let acosh = Dual::new(1.5, 1.0).acosh().derivative();
    assert!((acosh - 1.0 / (1.5f64 * 1.5 - 1.0).sqrt()).abs() < 1e-15);
    let hypot = Dual::new(3.0, 1.0).hypot(Dual::new(4.0, 2.0));
    assert_eq!((hypot.re, hypot.derivative()), (5.0, (3.0 + 8.0) / 5.0));
}

#[test]
fn tanh_activation_tangent_is_the_backward_slope_of_each_scalar() {
    // The derivative backward uses, `1 − t²` of the activation's own `t` (the rational
    // approximation in f32): forward mode agrees with backward bit for bit.
    for z in [-3.0f32, -0.2, 0.0, 0.7, 9.0] {
        let t = z.tanh_activation();
        let dual = DualN::<f32, 1>::new(z, 1.0).tanh_activation();
        assert_eq!((dual.re, dual.derivative()), (t, 1.0 - t * t));
    }
}

#[test]
fn kinks_take_the_backward_convention() {
    let at = |f: fn(&Vector2<Dual<f64>>) -> Vector2<Dual<f64>>, z: f64| {
        f(&Vector2::new(Dual::new(z, 1.0), Dual::new(z, 0.0)))[0].derivative()
    };
    // relu'(0) = 0, leaky_relu'(0) = slope, step' = 0, as the `*_backward` functions.
    assert_eq!(at(activation::relu, 0.0), 0.0);
    assert_eq!(at(activation::relu, 1e-300), 1.0);
    assert_eq!(
        at(|z| activation::leaky_relu(z, Dual::constant(0.01)), 0.0),
        0.01
    );
    assert_eq!(at(activation::step, 0.0), 0.0);
    // softplus at 0 through max(z, 0) + ln(1 + e^(−|z|)): σ(0) = ½, from either zero.
    assert_eq!(at(activation::softplus, 0.0), 0.5);
    assert_eq!(at(activation::softplus, -0.0), 0.5);
    let dh = Vector2::new(1.0, 0.0);
    for z in [0.0, -0.0] {
        let backward = activation::softplus_backward(&Vector2::new(z, z), &dh)[0];
        assert_eq!(backward, 0.5);
    }
}

#[test]
fn n_tangents_are_n_single_passes() {
    let f = |x: DualN<f64, 3>, y: DualN<f64, 3>| (x * y).sin() + (x / y).exp() * y.sqrt();
    let (x, y) = (0.7, 1.3);
    let three = f(
        DualN {
            re: x,
            eps: [1.0, 0.0, 0.5],
        },
        DualN {
            re: y,
            eps: [0.0, 1.0, -2.0],
        },
    );
    let one = |dx: f64, dy: f64| {
        let g = |x: Dual<f64>, y: Dual<f64>| (x * y).sin() + (x / y).exp() * y.sqrt();
        g(Dual::new(x, dx), Dual::new(y, dy))
    };
    for (k, (dx, dy)) in [(1.0, 0.0), (0.0, 1.0), (0.5, -2.0)]
        .into_iter()
        .enumerate()
    {
        assert_eq!(three.eps[k], one(dx, dy).derivative());
        assert_eq!(three.re, one(dx, dy).re);
    }
}

#[test]
fn duals_of_duals_give_second_derivatives() {
    // tanh'' = −2 tanh (1 − tanh²).
    let x = 0.4f64;
    let inner = Dual::new(x, 1.0);
    let seeded = DualN {
        re: inner,
        eps: [Dual::new(1.0, 0.0)],
    };
    let y: Dual<Dual<f64>> = seeded.tanh();
    let t = x.tanh();
    assert!((y.derivative().derivative() - (-2.0 * t * (1.0 - t * t))).abs() < 1e-15);
}

#[test]
fn comparisons_see_the_value_only() {
    assert_eq!(Dual::new(1.0, 2.0), Dual::new(1.0, -5.0));
    assert!(Dual::new(1.0, 9.0) < Dual::new(2.0, 0.0));
    assert_eq!(
        RealField::max(Dual::new(0.0, 1.0), Dual::new(0.0, 2.0)).derivative(),
        1.0
    );
    assert!(!ComplexField::is_finite(&Dual::new(1.0, f64::INFINITY)));
    assert_eq!(
        format!(
            "{}",
            DualN {
                re: 1.5,
                eps: [2.0, -1.0]
            }
        ),
        "1.5 + [2, -1]ε"
    );
}

#[test]
fn generic_gemm_matches_nalgebra() {
    let a = Matrix2x3::from_fn(|i, j| Dual::new((i + 2 * j) as f64 * 0.3, (i * j) as f64));
    let b = SMatrix::<Dual<f64>, 3, 4>::from_fn(|i, j| Dual::new(1.0 - (i * j) as f64, 0.5));
    let batch = crate::linalg::matmul(&a, &crate::Batch::from_column_slice(b.as_slice()));
    let expected = a * b;
    for (got, want) in batch.iter().zip(expected.iter()) {
        assert!((got.re - want.re).abs() < 1e-15);
        assert!((got.derivative() - want.derivative()).abs() < 1e-15);
    }
}

#[test]
#[should_panic(expected = "a dual-number network cannot be saved or loaded")]
fn weight_bytes_are_refused_with_the_fix() {
    Dual::<f64>::extend_le_bytes(&[Dual::new(1.0, 0.0)], &mut alloc::vec::Vec::new());
}
