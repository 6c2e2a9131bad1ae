//! Stochastic gradient descent, with optional momentum or Nesterov momentum.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::marker::PhantomData;

use super::{Optim, Schedule, StepScalars, UpdateRule, for_each};
use crate::Real;
use crate::network::Parameters;
use crate::train::ConfigError;

/// Hyperparameters of [`Sgd`]. Defaults: `lr = 0.01`, no momentum, no weight decay, constant
/// schedule, no clipping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// The learning rate `η` (the schedule's base rate), finite and `≥ 0`; an `f64` for an `f32`
    /// network too, rounded to its scalar at each step ([scalars](super#scalars-hyperparameters-are-f64)).
    pub lr: f64,
    /// `μ ∈ [0, 1)`; `0` is plain SGD and allocates no velocity.
    pub momentum: f64,
    /// Nesterov momentum (needs `momentum > 0`).
    pub nesterov: bool,
    /// `λ ≥ 0`: L2 penalty, `g ← g + λ θ`.
    pub weight_decay: f64,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Clip the gradient to this global norm (over all tensors, `> 0`), if set.
    pub max_grad_norm: Option<f64>,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 0.01,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            max_grad_norm: None,
        }
    }
}

/// SGD: `θ −= η g`; with momentum `v = μ v + g`, `θ −= η v`; Nesterov `θ −= η (g + μ v)`.
///
/// PyTorch's `torch.optim.SGD` with `dampening = 0`: the velocity starts at zero, so the first
/// step is `v = g` either way; the learning rate multiplies the velocity when it is applied
/// (not when it is accumulated), so changing `lr` mid-run does not rescale past steps.
/// Nesterov is PyTorch's (Sutskever et al.'s) form, which evaluates the look-ahead with the
/// gradient at the current point. `g` is the (clipped) gradient plus `λ θ`.
///
/// [`Sgd::new`](Optim::new) allocates the velocity (with `momentum > 0`) and checks the
/// config: a value out of range, or `nesterov` without momentum, is a [`ConfigError`].
///
/// # Examples
///
/// ```
/// # use nn_runtime::Parameters;
/// nn_runtime::network! { struct Net { input: 1, w: dense(1, bias = false), loss: mse } }
/// use nn_runtime::optim::{Optimizer, Sgd, SgdConfig};
/// let mut opt = Sgd::<f64, Net<f64>>::new(SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() })?;
/// let mut net = Net::<f64>::boxed_zeros();
/// let mut grad = Net::<f64>::boxed_zeros();
/// grad.w.weight[0] = 1.0; // a constant gradient: the velocity grows 1, 1.9, 2.71
/// for _ in 0..3 {
///     opt.step(&mut net, &grad);
/// }
/// assert!((net.w.weight[0] + 0.1 * (1.0 + 1.9 + 2.71)).abs() < 1e-15);
/// # Ok::<(), nn_runtime::train::ConfigError>(())
/// ```
pub type Sgd<T, N> = Optim<SgdRule<T, N>>;

/// The state and update of [`Sgd`]: the velocity `v`, allocated only with momentum.
pub struct SgdRule<T: Real, N: Parameters<T>> {
    velocity: Option<Box<N>>,
    _scalar: PhantomData<T>,
}

impl<T: Real, N: Parameters<T>> UpdateRule for SgdRule<T, N> {
    type Scalar = T;
    type Net = N;
    type Config = SgdConfig;
    const CONFIG: &'static str = "SgdConfig";

    fn new(config: &SgdConfig) -> Result<Self, ConfigError> {
        ConfigError::decay(Self::CONFIG, "momentum", config.momentum)?;
        if config.nesterov && config.momentum == 0.0 {
            return Err(ConfigError::new(
                Self::CONFIG,
                "nesterov",
                true,
                "`false`, or set `momentum` > 0",
            ));
        }
        Ok(SgdRule {
            velocity: (config.momentum > 0.0).then(N::boxed_zeros),
            _scalar: PhantomData,
        })
    }

    fn update(&mut self, config: &SgdConfig, net: &mut N, grad: &N, s: StepScalars<T>) {
        let wd = T::constant(config.weight_decay);
        let mu = T::constant(config.momentum);
        let nesterov = config.nesterov;
        match self.velocity.as_deref_mut() {
            None => for_each(net, grad, [], |p, g, []| {
                let g = g * s.clip + wd * *p;
                *p -= s.lr * g;
            }),
            Some(velocity) => for_each(net, grad, [velocity], |p, g, [v]| {
                let g = g * s.clip + wd * *p;
                *v = mu * *v + g;
                let update = if nesterov { g + mu * *v } else { *v };
                *p -= s.lr * update;
            }),
        }
    }

    fn state(&self) -> Vec<(&'static str, &N)> {
        self.velocity
            .iter()
            .map(|v| ("momentum_buffer", &**v))
            .collect()
    }

    fn state_mut(&mut self) -> Vec<(&'static str, &mut N)> {
        self.velocity
            .iter_mut()
            .map(|v| ("momentum_buffer", &mut **v))
            .collect()
    }
}

#[cfg(test)]
mod tests;
