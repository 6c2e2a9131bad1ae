//! AdaGrad: per-parameter learning rates from the sum of squared gradients.

use alloc::boxed::Box;
use core::marker::PhantomData;

use super::{Common, Optimizer, Schedule, check_range, for_each};
use crate::Real;
use crate::network::Parameters;

/// Hyperparameters of [`AdaGrad`]. Defaults (PyTorch's): `lr = 0.01`, `eps = 1e-10`, no
/// weight decay, constant schedule, no clipping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaGradConfig {
    /// The learning rate `η` (the schedule's base rate).
    pub lr: f64,
    /// `ε`, added to `√s` so the first steps stay finite.
    pub eps: f64,
    /// `λ`: L2 penalty, `g ← g + λ θ`.
    pub weight_decay: f64,
    /// The learning-rate schedule (PyTorch's `lr_decay` is [`Schedule`]'s job here).
    pub schedule: Schedule,
    /// Clip the gradient to this global norm (over all tensors), if set.
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
pub struct AdaGrad<T: Real, N: Parameters<T>> {
    config: AdaGradConfig,
    common: Common,
    /// `s`, the running sum of squared gradients.
    sum_sq: Box<N>,
    _scalar: PhantomData<T>,
}

impl<T: Real, N: Parameters<T>> AdaGrad<T, N> {
    /// An optimizer for networks of type `N`, with its accumulator allocated.
    ///
    /// # Panics
    /// If a hyperparameter is out of range (negative or NaN `lr`, `eps`, `weight_decay`).
    pub fn new(config: AdaGradConfig) -> Self {
        check_range("eps", config.eps, 0.0, f64::INFINITY);
        let common = Common::new(
            config.lr,
            config.weight_decay,
            config.schedule,
            config.max_grad_norm,
        );
        AdaGrad {
            config,
            common,
            sum_sq: N::boxed_zeros(),
            _scalar: PhantomData,
        }
    }

    /// The hyperparameters.
    pub fn config(&self) -> &AdaGradConfig {
        &self.config
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.common.steps
    }
}

impl<T: Real, N: Parameters<T>> Optimizer<T, N> for AdaGrad<T, N> {
    fn step(&mut self, net: &mut N, grad: &N) {
        let s = self.common.begin::<T, N>(grad);
        let wd = T::constant(self.config.weight_decay);
        let eps = T::constant(self.config.eps);
        for_each(net, grad, [&mut *self.sum_sq], |p, g, [sum]| {
            let g = g * s.clip + wd * *p;
            *sum += g * g;
            *p -= s.lr * g / (sum.sqrt() + eps);
        });
    }

    fn learning_rate(&self) -> T {
        T::constant(self.common.next_lr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::fixture::{
        assert_steps, bowl, first_three, quadratic_error, rosenbrock_error,
    };

    fn adagrad<N: Parameters<f64>>(config: AdaGradConfig) -> AdaGrad<f64, N> {
        AdaGrad::new(config)
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
