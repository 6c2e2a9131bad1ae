//! Adam and AdamW: bias-corrected moment estimates; L2 or decoupled weight decay.

use alloc::boxed::Box;
use core::marker::PhantomData;

use super::{Common, Optimizer, Schedule, StepScalars, check_decay, check_range, for_each};
use crate::Real;
use crate::network::Parameters;

/// Hyperparameters of [`Adam`]. Defaults (PyTorch's): `lr = 0.001`, `beta1 = 0.9`,
/// `beta2 = 0.999`, `eps = 1e-8`, no weight decay, constant schedule, no clipping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// The learning rate `η` (the schedule's base rate).
    pub lr: f64,
    /// `β₁ ∈ [0, 1)`, the decay of the first moment `m`.
    pub beta1: f64,
    /// `β₂ ∈ [0, 1)`, the decay of the second moment `v`.
    pub beta2: f64,
    /// `ε`, added to `√v̂`.
    pub eps: f64,
    /// `λ`: L2 penalty, `g ← g + λ θ` (it then passes through the moments; see [`AdamW`]).
    pub weight_decay: f64,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Clip the gradient to this global norm (over all tensors), if set.
    pub max_grad_norm: Option<f64>,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            max_grad_norm: None,
        }
    }
}

/// Hyperparameters of [`AdamW`]: as [`AdamConfig`], but `weight_decay` is decoupled and
/// defaults to PyTorch's `0.01`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    /// The learning rate `η` (the schedule's base rate).
    pub lr: f64,
    /// `β₁ ∈ [0, 1)`, the decay of the first moment `m`.
    pub beta1: f64,
    /// `β₂ ∈ [0, 1)`, the decay of the second moment `v`.
    pub beta2: f64,
    /// `ε`, added to `√v̂`.
    pub eps: f64,
    /// `λ`: decoupled decay, `θ ← θ (1 − η_t λ)` before the Adam step.
    pub weight_decay: f64,
    /// The learning-rate schedule (it scales the decay too: `η_t λ`).
    pub schedule: Schedule,
    /// Clip the gradient to this global norm (over all tensors), if set.
    pub max_grad_norm: Option<f64>,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        let adam = AdamConfig::default();
        AdamWConfig {
            lr: adam.lr,
            beta1: adam.beta1,
            beta2: adam.beta2,
            eps: adam.eps,
            weight_decay: 0.01,
            schedule: adam.schedule,
            max_grad_norm: adam.max_grad_norm,
        }
    }
}

/// The state Adam and AdamW share: moments `m` and `v`, `β₁ᵗ` and `β₂ᵗ`.
struct Moments<T: Real, N: Parameters<T>> {
    common: Common,
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// `m`, the running mean of gradients.
    m: Box<N>,
    /// `v`, the running mean of squared gradients.
    v: Box<N>,
    /// `β₁ᵗ` and `β₂ᵗ` after `t` steps, kept as running products in `f64`.
    beta1_t: f64,
    beta2_t: f64,
    _scalar: PhantomData<T>,
}

impl<T: Real, N: Parameters<T>> Moments<T, N> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        schedule: Schedule,
        max_grad_norm: Option<f64>,
    ) -> Self {
        check_decay("beta1", beta1);
        check_decay("beta2", beta2);
        check_range("eps", eps, 0.0, f64::INFINITY);
        Moments {
            common: Common::new(lr, weight_decay, schedule, max_grad_norm),
            beta1,
            beta2,
            eps,
            m: N::boxed_zeros(),
            v: N::boxed_zeros(),
            beta1_t: 1.0,
            beta2_t: 1.0,
            _scalar: PhantomData,
        }
    }

    /// One step, PyTorch's arithmetic: `m = β₁ m + (1 − β₁) g`, `v = β₂ v + (1 − β₂) g²`,
    /// `θ −= (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)`, after `θ ← θ (1 − η λ_decoupled)`
    /// and with `g` = clipped gradient `+ λ_l2 θ`.
    fn step(&mut self, net: &mut N, grad: &N, l2: f64, decoupled: f64) {
        let StepScalars { lr, clip } = self.common.begin::<T, N>(grad);
        self.beta1_t *= self.beta1;
        self.beta2_t *= self.beta2;
        let step_size = lr / T::constant(1.0 - self.beta1_t);
        let sqrt_bias2 = T::constant(libm::sqrt(1.0 - self.beta2_t));
        let decay = T::one() - lr * T::constant(decoupled);
        let l2 = T::constant(l2);
        let eps = T::constant(self.eps);
        let (beta1, beta2) = (T::constant(self.beta1), T::constant(self.beta2));
        let (one_minus_beta1, one_minus_beta2) =
            (T::constant(1.0 - self.beta1), T::constant(1.0 - self.beta2));
        for_each(net, grad, [&mut *self.m, &mut *self.v], |p, g, [m, v]| {
            *p *= decay;
            let g = g * clip + l2 * *p;
            *m = beta1 * *m + one_minus_beta1 * g;
            *v = beta2 * *v + one_minus_beta2 * g * g;
            *p -= step_size * *m / (v.sqrt() / sqrt_bias2 + eps);
        });
    }
}

/// Adam (Kingma & Ba, 2015): `θ −= η m̂ / (√v̂ + ε)`, `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)`,
/// `m = β₁ m + (1 − β₁) g`, `v = β₂ v + (1 − β₂) g²`.
///
/// PyTorch's `torch.optim.Adam` (`amsgrad = False`), including where `ε` goes (added to
/// `√v̂`, not under the root). `t` counts steps from 1. With `weight_decay` `λ`, `g ← g + λ θ`
/// (L2 regularization, which the adaptive scaling weakens for parameters with large gradients;
/// [`AdamW`] decouples it).
///
/// # Examples
///
/// ```
/// # use nn_runtime::Parameters;
/// nn_runtime::network! { struct Net { input: 1, w: dense(2, bias = false), loss: mse } }
/// use nn_runtime::optim::{Adam, AdamConfig, Optimizer};
/// let mut opt = Adam::<f32, Net>::new(AdamConfig { lr: 0.1, ..Default::default() });
/// let mut net = Net::<f32>::boxed_zeros();
/// let mut grad = Net::<f32>::boxed_zeros();
/// grad.w.weight.copy_from_slice(&[1000.0, -0.01]);
/// opt.step(&mut net, &grad);
/// // The first step is η against the gradient, whatever its scale (up to ε/|g|).
/// let w = &net.w.weight;
/// assert!((w[0] + 0.1).abs() < 1e-6 && (w[1] - 0.1).abs() < 1e-6);
/// ```
pub struct Adam<T: Real, N: Parameters<T>> {
    config: AdamConfig,
    state: Moments<T, N>,
}

impl<T: Real, N: Parameters<T>> Adam<T, N> {
    /// An optimizer for networks of type `N`, with its moments allocated.
    ///
    /// # Panics
    /// If a hyperparameter is out of range (`beta1`, `beta2` ∉ `[0, 1)`, negative or NaN `lr`,
    /// `eps`, `weight_decay`).
    pub fn new(config: AdamConfig) -> Self {
        let c = config;
        let state = Moments::new(
            c.lr,
            c.beta1,
            c.beta2,
            c.eps,
            c.weight_decay,
            c.schedule,
            c.max_grad_norm,
        );
        Adam { config, state }
    }

    /// The hyperparameters.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// Steps taken so far (`t`).
    pub fn steps(&self) -> u64 {
        self.state.common.steps
    }
}

impl<T: Real, N: Parameters<T>> Optimizer<T, N> for Adam<T, N> {
    fn step(&mut self, net: &mut N, grad: &N) {
        self.state.step(net, grad, self.config.weight_decay, 0.0);
    }

    fn learning_rate(&self) -> T {
        T::constant(self.state.common.next_lr())
    }
}

/// AdamW (Loshchilov & Hutter, 2019): `θ ← θ (1 − η_t λ)`, then the [`Adam`] step on the
/// gradient alone.
///
/// PyTorch's `torch.optim.AdamW`: the decay uses the scheduled learning rate `η_t` and is
/// applied before the moment update. Unlike L2 in [`Adam`], every weight decays at the same
/// relative rate, whatever its gradient history.
pub struct AdamW<T: Real, N: Parameters<T>> {
    config: AdamWConfig,
    state: Moments<T, N>,
}

impl<T: Real, N: Parameters<T>> AdamW<T, N> {
    /// An optimizer for networks of type `N`, with its moments allocated.
    ///
    /// # Panics
    /// If a hyperparameter is out of range, as [`Adam::new`].
    pub fn new(config: AdamWConfig) -> Self {
        let c = config;
        let state = Moments::new(
            c.lr,
            c.beta1,
            c.beta2,
            c.eps,
            c.weight_decay,
            c.schedule,
            c.max_grad_norm,
        );
        AdamW { config, state }
    }

    /// The hyperparameters.
    pub fn config(&self) -> &AdamWConfig {
        &self.config
    }

    /// Steps taken so far (`t`).
    pub fn steps(&self) -> u64 {
        self.state.common.steps
    }
}

impl<T: Real, N: Parameters<T>> Optimizer<T, N> for AdamW<T, N> {
    fn step(&mut self, net: &mut N, grad: &N) {
        self.state.step(net, grad, 0.0, self.config.weight_decay);
    }

    fn learning_rate(&self) -> T {
        T::constant(self.state.common.next_lr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::fixture::{
        Point, assert_steps, bowl, first_three, quadratic_error, rosenbrock_error,
    };

    fn adam<N: Parameters<f64>>(config: AdamConfig) -> Adam<f64, N> {
        Adam::new(config)
    }

    fn adamw<N: Parameters<f64>>(config: AdamWConfig) -> AdamW<f64, N> {
        AdamW::new(config)
    }

    #[test]
    fn adam_first_three_steps() {
        // f = ½x² + 2y², from (1, 1), η = 0.1, β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
        // x, t=1: g=1; m=0.1, v=0.001; m̂=1, v̂=1; x = 1 − 0.1·1/(1+ε) = 0.900000001
        //    t=2: g=0.900000001; m=0.09+0.09=0.18, v=0.000999+0.00081=0.001809;
        //         m̂=0.18/0.19=0.947368, v̂=0.001809/0.001999=0.904952, √v̂=0.951290;
        //         x = 0.900000001 − 0.1·0.947368/0.951290 = 0.8004122297123382
        //    t=3: g=0.800412; m=0.162+0.0800412=0.2420412, v=0.00180719+0.00064066=0.00244785;
        //         m̂=0.2420412/0.271=0.893141, v̂=0.00244785/0.002997001=0.816767, √v̂=0.903751;
        //         x = 0.800412 − 0.1·0.893141/0.903751 = 0.701586274504415
        // y: g is 4× larger, Adam is scale-invariant up to ε: 0.9000000002499999,
        //    0.8004122281815201, 0.7015862721668379.
        let mut opt = adam(AdamConfig {
            lr: 0.1,
            ..Default::default()
        });
        assert_steps(
            first_three(&mut opt, bowl),
            [
                [0.900000001, 0.9000000002499999],
                [0.8004122297123382, 0.8004122281815201],
                [0.701586274504415, 0.7015862721668379],
            ],
        );
    }

    #[test]
    fn adamw_first_three_steps() {
        // As Adam, λ = 0.1 decoupled: x ← x(1 − 0.01) first, then the Adam step on g(x_old).
        // x, t=1: 1·0.99 − 0.1·1/(1+ε) = 0.890000001
        //    t=2: g=0.890000001; m=0.09+0.089=0.179, v=0.000999+0.0007921=0.0017911;
        //         m̂=0.179/0.19=0.942105, v̂=0.0017911/0.001999=0.895998, √v̂=0.946572;
        //         x = 0.890000001·0.99 − 0.1·0.942105/0.946572 = 0.7815718569541611
        //    t=3: g=0.781572; m=0.2392572, v=0.00240016; m̂=0.882868, √v̂=0.894905;
        //         x = 0.781572·0.99 − 0.1·0.882868/0.894905 = 0.6751012231892007
        // y: 0.8900000002499999, 0.7815718554276766, 0.6751012208655042.
        let mut opt = adamw(AdamWConfig {
            lr: 0.1,
            weight_decay: 0.1,
            ..Default::default()
        });
        assert_steps(
            first_three(&mut opt, bowl),
            [
                [0.890000001, 0.8900000002499999],
                [0.7815718569541611, 0.7815718554276766],
                [0.6751012231892007, 0.6751012208655042],
            ],
        );
    }

    #[test]
    fn decoupled_decay_differs_from_l2() {
        // Zero gradient. AdamW: m = v = 0, so only the decay acts: θ = (1 − ηλ)ᵗ exactly.
        let mut opt = adamw(AdamWConfig {
            lr: 0.1,
            weight_decay: 0.5,
            ..Default::default()
        });
        assert_steps(
            first_three(&mut opt, |_, g| g.fill(0.0)),
            [[0.95; 2], [0.9025; 2], [0.857375; 2]],
        );
        // Adam with L2: g = λθ goes through the moments, and the first step is a full η.
        let mut opt = adam(AdamConfig {
            lr: 0.1,
            weight_decay: 0.5,
            ..Default::default()
        });
        let steps = first_three(&mut opt, |_, g| g.fill(0.0));
        assert!((steps[0][0] - 0.9).abs() < 1e-7, "{steps:?}");
    }

    #[test]
    fn learning_rate_reports_the_schedule() {
        let cosine = Schedule::Cosine {
            steps: 2,
            min_lr: 0.0,
        };
        let mut opt = adam::<Point>(AdamConfig {
            lr: 0.1,
            schedule: cosine,
            ..Default::default()
        });
        let mut p = Point::new([1.0], [1.0]);
        let grad = Point::new([1.0], [1.0]);
        assert_eq!(opt.learning_rate(), 0.1);
        opt.step(&mut p, &grad);
        assert!((opt.learning_rate() - 0.05).abs() < 1e-17);
        opt.step(&mut p, &grad);
        assert_eq!(opt.learning_rate(), 0.0);
        opt.step(&mut p, &grad);
        assert!(
            (p.a[0] - (1.0 - 0.1 - 0.05)).abs() < 1e-7,
            "the third step has η = 0"
        );
    }

    /// Adam's steps stay `~η` near the minimum, so it hovers at a distance `~η`; a cosine
    /// schedule to 0 lets it settle. The stated steps reach the stated error (measured: ~1e-15
    /// on both).
    #[test]
    fn adam_minimizes_the_quadratic_and_rosenbrock() {
        let cosine = Schedule::Cosine {
            steps: 2_000,
            min_lr: 0.0,
        };
        let config = AdamConfig {
            lr: 0.05,
            schedule: cosine,
            ..Default::default()
        };
        assert!(quadratic_error(&mut adam(config), 2_000) < 1e-10);
        let cosine = Schedule::Cosine {
            steps: 10_000,
            min_lr: 0.0,
        };
        let config = AdamConfig {
            lr: 0.02,
            schedule: cosine,
            ..Default::default()
        };
        assert!(rosenbrock_error(&mut adam(config), 10_000) < 1e-8);
    }

    /// AdamW's fixed point is not the minimum of `f`: the decay `ηλθ` is balanced by the
    /// normalized step `η m̂/(√v̂ + ε)`, which stays O(η) even for small gradients, so the
    /// result is pulled towards 0 by an amount ∝ λ (measured with λ = 1e-3 after 10 000 steps:
    /// 1.7e-5 on the quadratic, 2.9e-4 on Rosenbrock; ten times that with λ = 1e-2). The
    /// bounds leave a factor ~5 of room. With λ = 0 it is Adam, bit for bit.
    #[test]
    fn adamw_minimizes_the_quadratic_and_rosenbrock() {
        let cosine = Schedule::Cosine {
            steps: 10_000,
            min_lr: 0.0,
        };
        let config = AdamWConfig {
            lr: 0.02,
            weight_decay: 1e-3,
            schedule: cosine,
            ..Default::default()
        };
        assert!(quadratic_error(&mut adamw(config), 10_000) < 1e-4);
        assert!(rosenbrock_error(&mut adamw(config), 10_000) < 1e-3);

        let adam_config = AdamConfig {
            lr: 0.1,
            ..Default::default()
        };
        let adamw_config = AdamWConfig {
            lr: 0.1,
            weight_decay: 0.0,
            ..Default::default()
        };
        let with_adam = first_three(&mut adam(adam_config), bowl);
        let with_adamw = first_three(&mut adamw(adamw_config), bowl);
        assert_eq!(
            with_adam.map(|s| s.map(f64::to_bits)),
            with_adamw.map(|s| s.map(f64::to_bits))
        );
    }
}
