//! Directional derivatives and input Jacobians of a network, by one forward pass over duals.

#[cfg(feature = "alloc")]
use alloc::boxed::Box;

use nalgebra::{SMatrix, SVector};

#[cfg(feature = "alloc")]
use super::Dual;
use super::DualN;
use crate::{Network, Parameters, Real};

/// The same network declared over another scalar `U`: `Net<T>` → `Net<U>`.
///
/// `network!` implements it for every network, so that the functions of
/// [`dual`](crate::dual) can build the dual network from the plain one.
pub trait WithScalar<U: Real> {
    /// The network over `U`.
    type Net: Parameters<U>;
}

/// `net` over duals with `K` tangents, every tangent zero: a network whose outputs carry
/// derivatives along the input directions seeded in `x` only (see [`seed`]).
///
/// Built on the heap, tensor by tensor; reuse it for many inputs (an [`input_jacobian`] per
/// sample) instead of lifting per call.
#[cfg(feature = "alloc")]
pub fn lift<T, const K: usize, N>(net: &N) -> Box<N::Net>
where
    T: Real,
    N: Parameters<T> + WithScalar<DualN<T, K>>,
{
    lift_along(net, [(); K].map(|_| None))
}

/// `net` over duals with `K` tangents: tangent `k` of every parameter from `directions[k]`
/// (`None`: zero). Along it, `loss` and `forward` give their derivatives
/// `d/dt L(θ + t vₖ)` at `t = 0` in tangent `k`.
#[cfg(feature = "alloc")]
pub fn lift_along<T, const K: usize, N>(net: &N, directions: [Option<&N>; K]) -> Box<N::Net>
where
    T: Real,
    N: Parameters<T> + WithScalar<DualN<T, K>>,
{
    let mut dual = <N::Net as Parameters<DualN<T, K>>>::boxed_zeros();
    for index in 0..N::TENSORS.len() {
        for (i, (value, re)) in dual
            .tensor_mut(index)
            .iter_mut()
            .zip(net.tensor(index))
            .enumerate()
        {
            value.re = *re;
            for (tangent, direction) in value.eps.iter_mut().zip(&directions) {
                if let Some(direction) = direction {
                    *tangent = direction.tensor(index)[i];
                }
            }
        }
    }
    dual
}

/// The input `x` seeded along `K` input directions: `x + Σₖ dxₖ εₖ`.
pub fn seed<T: Real, const K: usize, const IN: usize>(
    x: &SVector<T, IN>,
    directions: [&SVector<T, IN>; K],
) -> SVector<DualN<T, K>, IN> {
    SVector::from_fn(|i, _| DualN {
        re: x[i],
        eps: directions.map(|d| d[i]),
    })
}

/// `v` as constants: every tangent zero (a target, an input held fixed).
pub fn constant<T: Real, const K: usize, const R: usize>(
    v: &SVector<T, R>,
) -> SVector<DualN<T, K>, R> {
    v.map(DualN::constant)
}

/// The loss of one sample and its exact derivative along the parameter direction `direction`
/// (a value of the network's own type, as a gradient is): `re` is `L(θ)`, `derivative()`
/// is `d/dt L(θ + t v)` at `t = 0`, which equals `⟨∂L/∂θ, v⟩`.
///
/// One forward pass over [`Dual`]s, after lifting `net` (a copy, on the heap).
#[cfg(feature = "alloc")]
pub fn loss_along<T, N, const IN: usize, const OUT: usize>(
    net: &N,
    direction: &N,
    x: &SVector<T, IN>,
    target: &SVector<T, OUT>,
) -> Dual<T>
where
    T: Real,
    N: Network<T, IN, OUT> + WithScalar<Dual<T>>,
    N::Net: Network<Dual<T>, IN, OUT>,
{
    lift_along(net, [Some(direction)]).loss(&constant(x), &constant(target))
}

/// Every output of one sample and its exact derivative along the parameter direction
/// `direction`: `y[j].re` is `f(x)ⱼ`, `y[j].derivative()` is `d/dt f_θ+tv(x)ⱼ` at `t = 0`.
#[cfg(feature = "alloc")]
pub fn output_along<T, N, const IN: usize, const OUT: usize>(
    net: &N,
    direction: &N,
    x: &SVector<T, IN>,
) -> SVector<Dual<T>, OUT>
where
    T: Real,
    N: Network<T, IN, OUT> + WithScalar<Dual<T>>,
    N::Net: Network<Dual<T>, IN, OUT>,
{
    lift_along(net, [Some(direction)]).forward(&constant(x))
}

/// The loss of one sample and its exact derivative along the input direction `dx`:
/// `d/dt L(x + t dx)` at `t = 0`, which equals `⟨∂L/∂x, dx⟩`.
#[cfg(feature = "alloc")]
pub fn loss_along_input<T, N, const IN: usize, const OUT: usize>(
    net: &N,
    x: &SVector<T, IN>,
    dx: &SVector<T, IN>,
    target: &SVector<T, OUT>,
) -> Dual<T>
where
    T: Real,
    N: Network<T, IN, OUT> + WithScalar<Dual<T>>,
    N::Net: Network<Dual<T>, IN, OUT>,
{
    lift(net).loss(&seed(x, [dx]), &constant(target))
}

/// Every output of one sample and its exact derivative along the input direction `dx`: the
/// Jacobian-vector product `J dx` in the tangents.
#[cfg(feature = "alloc")]
pub fn output_along_input<T, N, const IN: usize, const OUT: usize>(
    net: &N,
    x: &SVector<T, IN>,
    dx: &SVector<T, IN>,
) -> SVector<Dual<T>, OUT>
where
    T: Real,
    N: Network<T, IN, OUT> + WithScalar<Dual<T>>,
    N::Net: Network<Dual<T>, IN, OUT>,
{
    lift(net).forward(&seed(x, [dx]))
}

/// The Jacobian `∂f/∂x` of the outputs at `x`, `[OUT, IN]`, by forward mode on a network
/// [`lift`]ed to `K` tangents: `⌈IN / K⌉` passes, each seeding `K` columns.
///
/// Each pass costs about `K + 1` plain forward passes of arithmetic; the lifted network holds
/// `K + 1` scalars per parameter. Reverse mode (the generated `input_gradient`) gives one
/// row per pass instead: forward mode wins when `IN < OUT`, or when `IN` is small.
///
/// `dual` must have zero parameter tangents (as [`lift`] makes it): any parameter tangent
/// would add its own derivative to every column.
pub fn input_jacobian<T, const K: usize, D, const IN: usize, const OUT: usize>(
    dual: &D,
    x: &SVector<T, IN>,
) -> SMatrix<T, OUT, IN>
where
    T: Real,
    D: Network<DualN<T, K>, IN, OUT>,
{
    let mut jacobian = SMatrix::<T, OUT, IN>::zeros();
    for start in (0..IN).step_by(K.max(1)) {
        let seeded = SVector::<DualN<T, K>, IN>::from_fn(|i, _| match i.checked_sub(start) {
            Some(k) if k < K => DualN::variable(x[i], k),
            _ => DualN::constant(x[i]),
        });
        let y = dual.forward(&seeded);
        for (k, column) in (start..IN.min(start + K)).enumerate() {
            for j in 0..OUT {
                jacobian[(j, column)] = y[j].eps[k];
            }
        }
    }
    jacobian
}
