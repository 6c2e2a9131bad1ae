//! Adam and AdamW: bias-corrected moment estimates; L2 or decoupled weight decay.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::marker::PhantomData;

use super::{Optim, Schedule, StepScalars, UpdateRule, for_each};
use crate::Real;
use crate::network::Parameters;
use crate::train::ConfigError;

/// Declares the config of an Adam-family optimizer: the same fields, with the weight decay's
/// meaning, documentation and default given.
macro_rules! adam_config {
    (
        $(#[$attr:meta])*
        $name:ident,
        weight_decay = $decay:literal, #[doc = $decay_doc:literal]
        #[doc = $schedule_doc:literal]
    ) => {
        $(#[$attr])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name {
            /// The learning rate `η` (the schedule's base rate), finite and `≥ 0`; an `f64` for an `f32`
            /// network too, rounded to its scalar at each step ([scalars](super#scalars-hyperparameters-are-f64)).
            pub lr: f64,
            /// `β₁ ∈ [0, 1)`, the decay of the first moment `m`.
            pub beta1: f64,
            /// `β₂ ∈ [0, 1)`, the decay of the second moment `v`.
            pub beta2: f64,
            /// `ε > 0`, added to `√v̂`.
            pub eps: f64,
            #[doc = $decay_doc]
            pub weight_decay: f64,
            #[doc = $schedule_doc]
            pub schedule: Schedule,
            /// Clip the gradient to this global norm (over all tensors, `> 0`), if set.
            pub max_grad_norm: Option<f64>,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    lr: 1e-3,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: $decay,
                    schedule: Schedule::Constant,
                    max_grad_norm: None,
                }
            }
        }
    };
}

adam_config! {
    /// Hyperparameters of [`Adam`]. Defaults (PyTorch's): `lr = 0.001`, `beta1 = 0.9`,
    /// `beta2 = 0.999`, `eps = 1e-8`, no weight decay, constant schedule, no clipping.
    AdamConfig,
    weight_decay = 0.0,
    /// `λ ≥ 0`: L2 penalty, `g ← g + λ θ` (it then passes through the moments; see [`AdamW`]).
    /// The learning-rate schedule.
}

adam_config! {
    /// Hyperparameters of [`AdamW`]: as [`AdamConfig`], but `weight_decay` is decoupled and
    /// defaults to PyTorch's `0.01`.
    AdamWConfig,
    weight_decay = 0.01,
    /// `λ ≥ 0`: decoupled decay, `θ ← θ (1 − η_t λ)` before the Adam step.
    /// The learning-rate schedule (it scales the decay too: `η_t λ`).
}

/// The state Adam and AdamW share: moments `m` and `v`, `β₁ᵗ` and `β₂ᵗ`.
struct Moments<T: Real, N: Parameters<T>> {
    /// `m`, the running mean of gradients.
    m: Box<N>,
    /// `v`, the running mean of squared gradients.
    v: Box<N>,
    /// `β₁ᵗ` and `β₂ᵗ` after `t` steps, kept as running products in `f64`.
    beta1_t: f64,
    beta2_t: f64,
    _scalar: PhantomData<T>,
}

/// The hyperparameters of one Adam step.
struct Hyper {
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// `λ` of the L2 penalty `g ← g + λ θ`.
    l2: f64,
    /// `λ` of the decoupled decay `θ ← θ (1 − η_t λ)`.
    decoupled: f64,
}

impl<T: Real, N: Parameters<T>> Moments<T, N> {
    /// Checks the Adam-specific hyperparameters of config `owner`, then allocates `m` and `v`.
    fn new(owner: &'static str, hyper: &Hyper) -> Result<Self, ConfigError> {
        ConfigError::decay(owner, "beta1", hyper.beta1)?;
        ConfigError::decay(owner, "beta2", hyper.beta2)?;
        ConfigError::positive(owner, "eps", hyper.eps)?;
        Ok(Moments {
            m: N::boxed_zeros(),
            v: N::boxed_zeros(),
            beta1_t: 1.0,
            beta2_t: 1.0,
            _scalar: PhantomData,
        })
    }

    /// One step, PyTorch's arithmetic: `m = β₁ m + (1 − β₁) g`, `v = β₂ v + (1 − β₂) g²`,
    /// `θ −= (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)`, after `θ ← θ (1 − η λ_decoupled)`
    /// and with `g` = clipped gradient `+ λ_l2 θ`.
    fn update(&mut self, h: &Hyper, net: &mut N, grad: &N, s: StepScalars<T>) {
        let StepScalars { lr, clip } = s;
        self.beta1_t *= h.beta1;
        self.beta2_t *= h.beta2;
        let step_size = lr / T::constant(1.0 - self.beta1_t);
        let sqrt_bias2 = T::constant(libm::sqrt(1.0 - self.beta2_t));
        let decay = T::one() - lr * T::constant(h.decoupled);
        let l2 = T::constant(h.l2);
        let eps = T::constant(h.eps);
        let (beta1, beta2) = (T::constant(h.beta1), T::constant(h.beta2));
        let (one_minus_beta1, one_minus_beta2) =
            (T::constant(1.0 - h.beta1), T::constant(1.0 - h.beta2));
        for_each(net, grad, [&mut *self.m, &mut *self.v], |p, g, [m, v]| {
            *p *= decay;
            let g = g * clip + l2 * *p;
            *m = beta1 * *m + one_minus_beta1 * g;
            *v = beta2 * *v + one_minus_beta2 * g * g;
            *p -= step_size * *m / (v.sqrt() / sqrt_bias2 + eps);
        });
    }

    /// `β₁ᵗ`, `β₂ᵗ` after `steps` steps: the running products [`update`](Self::update) keeps,
    /// multiplied in the same order, so they are bit for bit the same.
    fn restore_steps(&mut self, h: &Hyper, steps: u64) {
        (self.beta1_t, self.beta2_t) = (1.0, 1.0);
        for _ in 0..steps {
            self.beta1_t *= h.beta1;
            self.beta2_t *= h.beta2;
        }
    }
}

/// Declares the update rule of an Adam-family optimizer: [`Moments`], with the config's
/// weight decay applied as `$l2` (an L2 penalty) or `$decoupled` (decoupled) decay.
macro_rules! adam_rule {
    ($(#[$attr:meta])* $rule:ident, $config:ident, l2: $l2:literal, decoupled: $decoupled:literal) => {
        $(#[$attr])*
        pub struct $rule<T: Real, N: Parameters<T>>(Moments<T, N>);

        impl $config {
            fn hyper(&self) -> Hyper {
                let decay = |on: bool| if on { self.weight_decay } else { 0.0 };
                Hyper {
                    beta1: self.beta1,
                    beta2: self.beta2,
                    eps: self.eps,
                    l2: decay($l2),
                    decoupled: decay($decoupled),
                }
            }
        }

        impl<T: Real, N: Parameters<T>> UpdateRule for $rule<T, N> {
            type Scalar = T;
            type Net = N;
            type Config = $config;
            const CONFIG: &'static str = stringify!($config);

            fn new(config: &$config) -> Result<Self, ConfigError> {
                Moments::new(Self::CONFIG, &config.hyper()).map($rule)
            }

            fn update(&mut self, config: &$config, net: &mut N, grad: &N, s: StepScalars<T>) {
                self.0.update(&config.hyper(), net, grad, s);
            }

            fn state(&self) -> Vec<(&'static str, &N)> {
                alloc::vec![("exp_avg", &*self.0.m), ("exp_avg_sq", &*self.0.v)]
            }

            fn state_mut(&mut self) -> Vec<(&'static str, &mut N)> {
                alloc::vec![("exp_avg", &mut *self.0.m), ("exp_avg_sq", &mut *self.0.v)]
            }

            fn restore_steps(&mut self, config: &$config, steps: u64) {
                self.0.restore_steps(&config.hyper(), steps);
            }
        }
    };
}

adam_rule! {
    /// The state and update of [`Adam`]: moments `m`, `v`, weight decay as an L2 penalty.
    AdamRule, AdamConfig, l2: true, decoupled: false
}

adam_rule! {
    /// The state and update of [`AdamW`]: moments `m`, `v`, decoupled weight decay.
    AdamWRule, AdamWConfig, l2: false, decoupled: true
}

/// Adam (Kingma & Ba, 2015): `θ −= η m̂ / (√v̂ + ε)`, `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)`,
/// `m = β₁ m + (1 − β₁) g`, `v = β₂ v + (1 − β₂) g²`.
///
/// PyTorch's `torch.optim.Adam` (`amsgrad = False`), including where `ε` goes (added to
/// `√v̂`, not under the root). `t` counts steps from 1. With `weight_decay` `λ`, `g ← g + λ θ`
/// (L2 regularization, which the adaptive scaling weakens for parameters with large gradients;
/// [`AdamW`] decouples it). [`Adam::new`](Optim::new) allocates the moments and checks the
/// config ([`ConfigError`]).
///
/// # Examples
///
/// ```
/// # use nn_runtime::Parameters;
/// nn_runtime::network! { struct Net { input: 1, w: dense(2, bias = false), loss: mse } }
/// use nn_runtime::optim::{Adam, AdamConfig, Optimizer};
/// let mut opt = Adam::<f32, Net>::new(AdamConfig { lr: 0.1, ..Default::default() })?;
/// let mut net = Net::<f32>::boxed_zeros();
/// let mut grad = Net::<f32>::boxed_zeros();
/// grad.w.weight.copy_from_slice(&[1000.0, -0.01]);
/// opt.step(&mut net, &grad);
/// // The first step is η against the gradient, whatever its scale (up to ε/|g|).
/// let w = &net.w.weight;
/// assert!((w[0] + 0.1).abs() < 1e-6 && (w[1] - 0.1).abs() < 1e-6);
/// # Ok::<(), nn_runtime::train::ConfigError>(())
/// ```
pub type Adam<T, N> = Optim<AdamRule<T, N>>;

/// AdamW (Loshchilov & Hutter, 2019): `θ ← θ (1 − η_t λ)`, then the [`Adam`] step on the
/// gradient alone.
///
/// PyTorch's `torch.optim.AdamW`: the decay uses the scheduled learning rate `η_t` and is
/// applied before the moment update. Unlike L2 in [`Adam`], every weight decays at the same
/// relative rate, whatever its gradient history. [`AdamW::new`](Optim::new) allocates the
/// moments and checks the config ([`ConfigError`]).
pub type AdamW<T, N> = Optim<AdamWRule<T, N>>;

#[cfg(test)]
mod tests;
