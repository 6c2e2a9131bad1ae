//! RMSProp: per-parameter learning rates from a running mean of squared gradients.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::marker::PhantomData;

use super::{Optim, Schedule, StepScalars, UpdateRule, for_each};
use crate::Real;
use crate::network::Parameters;
use crate::train::ConfigError;

/// Hyperparameters of [`RmsProp`]. Defaults (PyTorch's): `lr = 0.01`, `alpha = 0.99`,
/// `eps = 1e-8`, no momentum, no weight decay, constant schedule, no clipping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropConfig {
    /// The learning rate `η` (the schedule's base rate), finite and `≥ 0`; an `f64` for an `f32`
    /// network too, rounded to its scalar at each step ([scalars](super#scalars-hyperparameters-are-f64)).
    pub lr: f64,
    /// `α ∈ [0, 1)`, the decay of the mean square (PyTorch's `alpha`; Adam's `beta2`).
    pub alpha: f64,
    /// `ε > 0`, added to `√s`.
    pub eps: f64,
    /// `μ ∈ [0, 1)`: momentum on the normalized step; `0` allocates no buffer.
    pub momentum: f64,
    /// `λ ≥ 0`: L2 penalty, `g ← g + λ θ`.
    pub weight_decay: f64,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Clip the gradient to this global norm (over all tensors, `> 0`), if set.
    pub max_grad_norm: Option<f64>,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            lr: 0.01,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            max_grad_norm: None,
        }
    }
}

/// RMSProp (Hinton, 2012): `s = α s + (1 − α) g²`, `θ −= η g / (√s + ε)`; with momentum
/// `b = μ b + g / (√s + ε)`, `θ −= η b`.
///
/// PyTorch's `torch.optim.RMSprop` with `centered = False`: `s` starts at zero and is not
/// bias-corrected, so the first step is `η g / (√(1 − α) |g| + ε)`, i.e. `η/√(1 − α)` = `10 η`
/// for the default `α`. Keep `lr` small.
///
/// [`RmsProp::new`](Optim::new) allocates the state and checks the config ([`ConfigError`]).
pub type RmsProp<T, N> = Optim<RmsPropRule<T, N>>;

/// The state and update of [`RmsProp`].
pub struct RmsPropRule<T: Real, N: Parameters<T>> {
    /// `s`, the running mean of squared gradients.
    mean_sq: Box<N>,
    /// `b`, allocated only with momentum.
    buffer: Option<Box<N>>,
    _scalar: PhantomData<T>,
}

impl<T: Real, N: Parameters<T>> UpdateRule for RmsPropRule<T, N> {
    type Scalar = T;
    type Net = N;
    type Config = RmsPropConfig;
    const CONFIG: &'static str = "RmsPropConfig";

    fn new(config: &RmsPropConfig) -> Result<Self, ConfigError> {
        ConfigError::decay(Self::CONFIG, "alpha", config.alpha)?;
        ConfigError::decay(Self::CONFIG, "momentum", config.momentum)?;
        ConfigError::positive(Self::CONFIG, "eps", config.eps)?;
        Ok(RmsPropRule {
            mean_sq: N::boxed_zeros(),
            buffer: (config.momentum > 0.0).then(N::boxed_zeros),
            _scalar: PhantomData,
        })
    }

    fn update(&mut self, config: &RmsPropConfig, net: &mut N, grad: &N, s: StepScalars<T>) {
        let wd = T::constant(config.weight_decay);
        let eps = T::constant(config.eps);
        let alpha = T::constant(config.alpha);
        let one_minus_alpha = T::constant(1.0 - config.alpha);
        let mu = T::constant(config.momentum);
        match self.buffer.as_deref_mut() {
            None => for_each(net, grad, [&mut *self.mean_sq], |p, g, [ms]| {
                let g = g * s.clip + wd * *p;
                *ms = alpha * *ms + one_minus_alpha * g * g;
                *p -= s.lr * g / (ms.sqrt() + eps);
            }),
            Some(buffer) => for_each(net, grad, [&mut *self.mean_sq, buffer], |p, g, [ms, b]| {
                let g = g * s.clip + wd * *p;
                *ms = alpha * *ms + one_minus_alpha * g * g;
                *b = mu * *b + g / (ms.sqrt() + eps);
                *p -= s.lr * *b;
            }),
        }
    }

    fn state(&self) -> Vec<(&'static str, &N)> {
        let mut state = alloc::vec![("square_avg", &*self.mean_sq)];
        state.extend(self.buffer.iter().map(|b| ("momentum_buffer", &**b)));
        state
    }

    fn state_mut(&mut self) -> Vec<(&'static str, &mut N)> {
        let mut state = alloc::vec![("square_avg", &mut *self.mean_sq)];
        state.extend(
            self.buffer
                .iter_mut()
                .map(|b| ("momentum_buffer", &mut **b)),
        );
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::fixture::{
        assert_steps, bowl, first_three, quadratic_error, rosenbrock_error,
    };

    fn rmsprop<N: Parameters<f64>>(config: RmsPropConfig) -> RmsProp<f64, N> {
        RmsProp::new(config).expect("a valid config")
    }

    #[test]
    fn first_three_steps() {
        // f = ½x² + 2y², from (1, 1), η = 0.01, α = 0.99, ε = 1e-8.
        // x: g=1         s=0.01                     x = 1 − 0.01/(0.1+ε)               = 0.9000000099999991
        //    g=0.9       s=0.0099+0.0081=0.018      x = 0.9 − 0.009/(0.1341641+ε)      = 0.8329179752650593
        //    g=0.832918  s=0.01782+0.0069375=0.0247575  x = 0.832918 − 0.00832918/0.1573452 = 0.7799822819823541
        // y: g=4: s=0.16, y = 1 − 0.04/(0.4+ε) = 0.9000000025; then as x up to ε's effect:
        //    0.8329179643225199, 0.7799822688742754.
        let mut opt = rmsprop(RmsPropConfig {
            lr: 0.01,
            ..Default::default()
        });
        assert_steps(
            first_three(&mut opt, bowl),
            [
                [0.9000000099999991, 0.9000000025],
                [0.8329179752650593, 0.8329179643225199],
                [0.7799822819823541, 0.7799822688742754],
            ],
        );
    }

    #[test]
    fn momentum_first_three_steps() {
        // As above with μ = 0.5: b = μ b + g/(√s + ε), θ −= η b.
        // x: g=1         s=0.01       b=1/(0.1+ε)=9.9999990             x=0.900000009999999
        //    g=0.9       s=0.01800000 b=4.9999995+0.9/0.1341641=11.708203  x=0.7829179802650587
        //    g=0.782918  s=0.02394961 b=5.854101+0.782918/0.154756=10.913129 x=0.6737866887753785
        // y: g=4: s=0.16, b=9.99999975, y=0.9000000024999999; then 0.7829179655725197,
        //    0.6737866686000547 (b = 11.708204, 10.913130).
        let mut opt = rmsprop(RmsPropConfig {
            lr: 0.01,
            momentum: 0.5,
            ..Default::default()
        });
        assert_steps(
            first_three(&mut opt, bowl),
            [
                [0.900000009999999, 0.9000000024999999],
                [0.7829179802650587, 0.7829179655725197],
                [0.6737866887753785, 0.6737866686000547],
            ],
        );
    }

    /// Without bias correction the first steps are large (`10 η`); the stated steps still reach
    /// the stated error. A cosine schedule to 0 damps the final oscillation of size `~η`.
    #[test]
    fn minimizes_the_quadratic_and_rosenbrock() {
        let cosine = Schedule::Cosine {
            steps: 3_000,
            min_lr: 0.0,
        };
        let config = RmsPropConfig {
            lr: 0.01,
            schedule: cosine,
            ..Default::default()
        };
        assert!(quadratic_error(&mut rmsprop(config), 3_000) < 1e-10);
        let cosine = Schedule::Cosine {
            steps: 10_000,
            min_lr: 0.0,
        };
        let config = RmsPropConfig {
            lr: 3e-3,
            schedule: cosine,
            ..Default::default()
        };
        assert!(rosenbrock_error(&mut rmsprop(config), 10_000) < 1e-3);
    }
}
