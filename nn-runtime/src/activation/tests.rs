use super::*;
use nalgebra::{DVector, OMatrix, SVector, Vector3};

/// Central differences in f64 agree with analytic derivatives to about 1e-9 away from kinks.
const DERIVATIVE_TOL: f64 = 1e-8;

fn points() -> SVector<f64, 9> {
    SVector::from([-6.0, -2.5, -1.0, -0.3, 0.1, 0.7, 1.5, 3.0, 40.0])
}

fn check_derivative(
    f: impl Fn(&SVector<f64, 9>) -> SVector<f64, 9>,
    df: impl Fn(&SVector<f64, 9>, &SVector<f64, 9>) -> SVector<f64, 9>,
) {
    let z = points();
    let ones = SVector::<f64, 9>::from_element(1.0);
    let analytic = df(&z, &ones);
    let h = 1e-6;
    let numeric = (f(&z.add_scalar(h)) - f(&z.add_scalar(-h))) / (2.0 * h);
    for i in 0..9 {
        assert!(
            (analytic[i] - numeric[i]).abs() < DERIVATIVE_TOL,
            "at z = {}: analytic {} vs numeric {}",
            z[i],
            analytic[i],
            numeric[i]
        );
    }
}

#[test]
fn derivatives_match_central_differences() {
    check_derivative(relu, relu_backward);
    check_derivative(
        |z| leaky_relu(z, 0.1),
        |z, d| leaky_relu_backward(z, d, 0.1),
    );
    check_derivative(sigmoid, sigmoid_backward);
    check_derivative(tanh, tanh_backward);
    check_derivative(softplus, softplus_backward);
    check_derivative(gelu, gelu_backward);
    check_derivative(gelu_tanh, gelu_tanh_backward);
    check_derivative(silu, silu_backward);
    check_derivative(step, step_backward);
}

#[test]
fn reference_values() {
    // Values from Python's `math` module (erf, tanh, exp, log1p) in float64.
    let z = Vector3::new(-1.0f64, 0.0, 2.0);
    let close = |a: Vector3<f64>, b: [f64; 3]| (a - Vector3::from(b)).amax() < 1e-12;
    assert!(close(
        gelu(&z),
        [-0.158_655_253_931_457_05, 0.0, 1.954_499_736_103_642]
    ));
    assert!(close(
        gelu_tanh(&z),
        [-0.158_808_009_391_723_24, 0.0, 1.954_597_694_087_775]
    ));
    assert!(close(
        silu(&z),
        [-0.268_941_421_369_995_1, 0.0, 1.761_594_155_955_764_9]
    ));
    assert!(close(
        softplus(&z),
        [
            0.313_261_687_518_222_8,
            core::f64::consts::LN_2,
            2.126_928_011_042_972_5
        ]
    ));
    assert!(close(step(&z), [0.0, 1.0, 1.0]));
    assert_eq!(
        relu_backward(&z, &Vector3::from_element(1.0)),
        Vector3::new(0.0, 0.0, 1.0)
    );
}

#[test]
fn extreme_inputs_stay_finite() {
    let z = Vector3::new(-1000.0f32, 0.0, 1000.0);
    assert_eq!(sigmoid(&z), Vector3::new(0.0, 0.5, 1.0));
    assert_eq!(
        softplus(&z),
        Vector3::new(0.0, core::f32::consts::LN_2, 1000.0)
    );
    let p = softmax(&z);
    assert_eq!(p, Vector3::new(0.0, 0.0, 1.0));
}

#[test]
fn softmax_jacobian_matches_finite_differences() {
    let z = Vector3::new(0.3f64, -1.2, 2.0);
    let dh = Vector3::new(0.7, -0.4, 1.1);
    let analytic = softmax_backward(&z, &dh);
    let h = 1e-6;
    for i in 0..3 {
        let mut zp = z;
        zp[i] += h;
        let mut zm = z;
        zm[i] -= h;
        let numeric = (softmax(&zp).dot(&dh) - softmax(&zm).dot(&dh)) / (2.0 * h);
        assert!((analytic[i] - numeric).abs() < DERIVATIVE_TOL);
    }
    assert!((softmax(&z).sum() - 1.0).abs() < 1e-15);
}

/// The inputs where activations and losses saturate or overflow.
pub(crate) trait Extremes: Real {
    /// `±MAX`, `±MAX/2`, large powers of ten (those whose square overflows and those whose
    /// square does not), `±1`, `±MIN_POSITIVE`, `±` the smallest subnormal, and `0`.
    fn extremes() -> Vec<Self>;
}

fn signed<T: Real>(magnitudes: &[T]) -> Vec<T> {
    let mut all = vec![T::zero()];
    for &m in magnitudes {
        all.extend([m, -m]);
    }
    all
}

impl Extremes for f32 {
    fn extremes() -> Vec<f32> {
        let tiny = f32::from_bits(1);
        signed(&[
            f32::MAX,
            f32::MAX / 2.0,
            2e38,
            1e30,
            2e19,
            1e19,
            1.0,
            f32::MIN_POSITIVE,
            tiny,
        ])
    }
}

impl Extremes for f64 {
    fn extremes() -> Vec<f64> {
        let tiny = f64::from_bits(1);
        signed(&[
            f64::MAX,
            f64::MAX / 2.0,
            1e300,
            2e154,
            1e154,
            1e30,
            1e19,
            1.0,
            f64::MIN_POSITIVE,
            tiny,
        ])
    }
}

type Forward<T> = fn(&DVector<T>) -> DVector<T>;
type Backward<T> = fn(&DVector<T>, &DVector<T>) -> DVector<T>;

/// Every elementwise activation, forward and backward.
fn elementwise_table<T: Real>() -> [(&'static str, Forward<T>, Backward<T>); 10] {
    [
        ("identity", |z| z.clone(), identity_backward),
        ("step", step, step_backward),
        ("relu", relu, relu_backward),
        (
            "leaky_relu",
            |z| leaky_relu(z, T::constant(0.01)),
            |z, d| leaky_relu_backward(z, d, T::constant(0.01)),
        ),
        ("sigmoid", sigmoid, sigmoid_backward),
        ("tanh", tanh, tanh_backward),
        ("softplus", softplus, softplus_backward),
        ("gelu", gelu, gelu_backward),
        ("gelu_tanh", gelu_tanh, gelu_tanh_backward),
        ("silu", silu, silu_backward),
    ]
}

/// Every activation is finite, forward and backward, at every extreme input (none of them
/// overflows in exact arithmetic: each grows at most like `|z|`, and each derivative is
/// bounded), and saturates to the limit the math has.
fn activations_stay_finite_at_extremes<T: Extremes>() {
    let z = DVector::from_vec(T::extremes());
    let ones = DVector::from_element(z.len(), T::one());
    for (name, forward, backward) in elementwise_table::<T>() {
        for (what, values) in [("forward", forward(&z)), ("backward", backward(&z, &ones))] {
            for (&z, &v) in z.iter().zip(values.iter()) {
                assert!(
                    v.is_finite(),
                    "{name} {what} at z = {:e} is {v}",
                    z.to_f64()
                );
            }
        }
    }
    let max = T::extremes()[1];
    let at = |f: Backward<T>, z: T| {
        f(
            &DVector::from_element(1, z),
            &DVector::from_element(1, T::one()),
        )[0]
    };
    for (name, backward, high, low) in [
        (
            "sigmoid'",
            sigmoid_backward as Backward<T>,
            T::zero(),
            T::zero(),
        ),
        ("tanh'", tanh_backward, T::zero(), T::zero()),
        ("softplus'", softplus_backward, T::one(), T::zero()),
        ("gelu'", gelu_backward, T::one(), T::zero()),
        ("gelu_tanh'", gelu_tanh_backward, T::one(), T::zero()),
        ("silu'", silu_backward, T::one(), T::zero()),
    ] {
        assert_eq!(
            (at(backward, max), at(backward, -max)),
            (high, low),
            "{name} at ±MAX"
        );
    }
    let big = DVector::from_vec(vec![max, -max]);
    for (name, forward) in [
        ("softplus", softplus as Forward<T>),
        ("gelu", gelu),
        ("gelu_tanh", gelu_tanh),
        ("silu", silu),
    ] {
        assert_eq!(forward(&big).as_slice(), [max, T::zero()], "{name} at ±MAX");
    }

    // Softmax over every pair of extremes as a column.
    let v = T::extremes();
    let k = v.len();
    let pairs = OMatrix::<T, nalgebra::U2, nalgebra::Dyn>::from_fn(k * k, |i, j| {
        if i == 0 { v[j / k] } else { v[j % k] }
    });
    let dh = OMatrix::<T, nalgebra::U2, nalgebra::Dyn>::from_fn(k * k, |i, _| {
        if i == 0 { T::one() } else { -T::one() }
    });
    let p = softmax(&pairs);
    let dz = softmax_backward(&pairs, &dh);
    for j in 0..k * k {
        let column = (pairs[(0, j)].to_f64(), pairs[(1, j)].to_f64());
        assert!(
            (p.column(j).sum() - T::one()).abs() <= T::constant(1e-6),
            "softmax of {column:?} is {:?}",
            p.column(j)
        );
        assert!(
            dz.column(j).iter().all(|d| d.is_finite()),
            "softmax backward at {column:?} is {:?}",
            dz.column(j)
        );
    }
}

#[test]
fn activations_stay_finite_at_extremes_f32() {
    activations_stay_finite_at_extremes::<f32>();
}

#[test]
fn activations_stay_finite_at_extremes_f64() {
    activations_stay_finite_at_extremes::<f64>();
}
