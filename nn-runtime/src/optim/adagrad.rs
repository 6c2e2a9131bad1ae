//! AdaGrad: per-parameter learning rates from the sum of squared gradients.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::marker::PhantomData;

use super::{Optim, Schedule, StepScalars, UpdateRule, for_each};
use crate::Real;
use crate::network::Parameters;
use crate::train::ConfigError;

/// Hyperparameters of [`AdaGrad`]. Defaults (PyTorch's): `lr = 0.01`, `eps = 1e-10`, no
/// weight decay, constant schedule, no clipping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaGradConfig {
    /// The learning rate `η` (the schedule's base rate), finite and `≥ 0`; an `f64` for an `f32`
    /// network too, rounded to its scalar at each step ([scalars](super#scalars-hyperparameters-are-f64)).
    pub lr: f64,
    /// `ε > 0`, added to `√s` so the first steps stay finite.
    pub eps: f64,
    /// `λ ≥ 0`: L2 penalty, `g ← g + λ θ`.
    pub weight_decay: f64,
    /// The learning-rate schedule (PyTorch's `lr_decay` is [`Schedule`]'s job here).
    pub schedule: Schedule,
    /// Clip the gradient to this global norm (over all tensors, `> 0`), if set.
    pub max_grad_norm: Option<f64>,
}

impl Default for AdaGradConfig {
    fn default() -> Self {
        AdaGradConfig {
            lr: 0.01,
            eps: 1e-10,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            max_grad_norm: None,
        }
    }
}

/// AdaGrad (Duchi et al., 2011): `s += g²`, `θ −= η g / (√s + ε)`.
///
/// PyTorch's `torch.optim.Adagrad` with `lr_decay = 0` and `initial_accumulator_value = 0`.
/// The first step moves every parameter by `η` (times the gradient's sign); later steps shrink
/// as `s` grows, which suits sparse gradients and makes the rate decay on its own.
/// [`AdaGrad::new`](Optim::new) allocates `s` and checks the config ([`ConfigError`]).
pub type AdaGrad<T, N> = Optim<AdaGradRule<T, N>>;

/// The state and update of [`AdaGrad`]: `s`, the running sum of squared gradients.
pub struct AdaGradRule<T: Real, N: Parameters<T>> {
    sum_sq: Box<N>,
    _scalar: PhantomData<T>,
}

impl<T: Real, N: Parameters<T>> UpdateRule for AdaGradRule<T, N> {
    type Scalar = T;
    type Net = N;
    type Config = AdaGradConfig;
    const CONFIG: &'static str = "AdaGradConfig";

    fn new(config: &AdaGradConfig) -> Result<Self, ConfigError> {
        ConfigError::positive(Self::CONFIG, "eps", config.eps)?;
        Ok(AdaGradRule {
            sum_sq: N::boxed_zeros(),
            _scalar: PhantomData,
        })
    }

    fn update(&mut self, config: &AdaGradConfig, net: &mut N, grad: &N, s: StepScalars<T>) {
        let wd = T::constant(config.weight_decay);
        let eps = T::constant(config.eps);
        for_each(net, grad, [&mut *self.sum_sq], |p, g, [sum]| {
            let g = g * s.clip + wd * *p;
            *sum += g * g;
            *p -= s.lr * g / (sum.sqrt() + eps);
        });
    }

    fn state(&self) -> Vec<(&'static str, &N)> {
        alloc::vec![("sum", &*self.sum_sq)]
    }

    fn state_mut(&mut self) -> Vec<(&'static str, &mut N)> {
        alloc::vec![("sum", &mut *self.sum_sq)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::fixture::{
        assert_steps, bowl, first_three, quadratic_error, rosenbrock_error,
    };

    fn adagrad<N: Parameters<f64>>(config: AdaGradConfig) -> AdaGrad<f64, N> {
        AdaGrad::new(config).expect("a valid config")
    }

    #[test]
    fn first_three_steps() {
        // f = ½x² + 2y², from (1, 1), η = 0.1, ε = 1e-10: s += g², θ −= η g/(√s + ε).
        // x: g=1         s=1                     x = 1 − 0.1/(1+ε)                  = 0.90000000001
        //    g=0.9       s=1.81                  x = 0.9 − 0.09/(1.3453624+ε)       = 0.8331035268523168
        //    g=0.833104  s=1.81+0.694061=2.504061  x = 0.833104 − 0.0833104/1.5824227 = 0.7804561813655163
        // y: g=4         s=16                    y = 1 − 0.4/(4+ε)                  = 0.9000000000025
        //    g=3.6       s=28.96                 y = 0.9 − 0.36/5.3814496           = 0.8331035268413955
        //    g=3.332414  s=28.96+11.104984=40.064984  y = … − 0.3332414/6.3296907  = 0.7804561813524568
        // (x and y differ only through ε: AdaGrad is invariant to the gradient's scale.)
        let mut opt = adagrad(AdaGradConfig {
            lr: 0.1,
            ..Default::default()
        });
        assert_steps(
            first_three(&mut opt, bowl),
            [
                [0.90000000001, 0.9000000000025],
                [0.8331035268523168, 0.8331035268413955],
                [0.7804561813655163, 0.7804561813524568],
            ],
        );
    }

    /// The stated steps reach the stated error (measured: ~3e-15 and ~2e-7). AdaGrad's rate
    /// decays like `η/√t` on its own, so Rosenbrock's long valley needs many steps.
    #[test]
    fn minimizes_the_quadratic_and_rosenbrock() {
        let config = AdaGradConfig {
            lr: 0.5,
            ..Default::default()
        };
        assert!(quadratic_error(&mut adagrad(config), 2_000) < 1e-10);
        assert!(rosenbrock_error(&mut adagrad(config), 20_000) < 1e-5);
    }
}
