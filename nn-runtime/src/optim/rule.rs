//! What every optimizer shares, written once: [`Optim`] wraps an [`UpdateRule`] (an
//! optimizer's state and the few lines of its math) with the config, the learning-rate
//! schedule, gradient clipping and the step count.

use super::{
    AdaGradConfig, AdamConfig, AdamWConfig, Optimizer, RmsPropConfig, Schedule, SgdConfig,
    clip_factor,
};
use alloc::vec::Vec;

use crate::Real;
use crate::network::Parameters;
use crate::train::ConfigError;

/// The options every optimizer config has (the [module docs](super) say what each does).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Common {
    /// The learning rate `η` (the schedule's base rate), finite and `≥ 0`; an `f64` for an `f32`
    /// network too, rounded to its scalar at each step ([scalars](super#scalars-hyperparameters-are-f64)).
    pub lr: f64,
    /// `λ`, finite and `≥ 0`.
    pub weight_decay: f64,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Clip the gradient to this global norm (finite and `> 0`), if set.
    pub max_grad_norm: Option<f64>,
}

/// `Common::from(config)` for each config: every config has these four fields.
macro_rules! common_of {
    ($($config:ty),*) => {$(
        impl From<$config> for Common {
            fn from(c: $config) -> Common {
                Common {
                    lr: c.lr,
                    weight_decay: c.weight_decay,
                    schedule: c.schedule,
                    max_grad_norm: c.max_grad_norm,
                }
            }
        }
    )*};
}

common_of!(
    SgdConfig,
    AdaGradConfig,
    RmsPropConfig,
    AdamConfig,
    AdamWConfig
);

impl Common {
    /// Checks each option's range; `owner` names the config in the error.
    fn check(&self, owner: &'static str) -> Result<(), ConfigError> {
        ConfigError::non_negative(owner, "lr", self.lr)?;
        ConfigError::non_negative(owner, "weight_decay", self.weight_decay)?;
        if let Some(max_norm) = self.max_grad_norm {
            ConfigError::positive(owner, "max_grad_norm", max_norm)?;
        }
        self.schedule.check()
    }
}

/// The scalars of one step, converted to the network's scalar.
#[derive(Clone, Copy, Debug)]
pub struct StepScalars<T> {
    /// `η_t`, the scheduled learning rate of this step.
    pub lr: T,
    /// The clip factor the raw gradient is multiplied by (`1` without clipping).
    pub clip: T,
}

/// An optimizer's update rule: its hyperparameters, the per-parameter state it keeps (moments,
/// velocities) and the arithmetic of one step. [`Optim`] turns it into an [`Optimizer`].
pub trait UpdateRule: Sized {
    /// The network's scalar.
    type Scalar: Real;
    /// The network (and gradient, and state) type.
    type Net: Parameters<Self::Scalar>;
    /// The hyperparameters, with the options every optimizer has ([`Common`]).
    type Config: Copy + Into<Common>;
    /// The config's name in error messages (`"SgdConfig"`).
    const CONFIG: &'static str;

    /// Checks the rule's own hyperparameters, then allocates its state.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first hyperparameter out of range.
    fn new(config: &Self::Config) -> Result<Self, ConfigError>;

    /// Updates `net` from the raw gradient `grad` (not yet clipped: multiply by `step.clip`).
    fn update(
        &mut self,
        config: &Self::Config,
        net: &mut Self::Net,
        grad: &Self::Net,
        step: StepScalars<Self::Scalar>,
    );

    /// The per-parameter state, each value with its name in a state file (PyTorch's:
    /// `exp_avg`, `momentum_buffer`; see [`state`](super::state)); empty for a rule without.
    fn state(&self) -> Vec<(&'static str, &Self::Net)>;

    /// [`state`](Self::state), mutable, in the same order.
    fn state_mut(&mut self) -> Vec<(&'static str, &mut Self::Net)>;

    /// Recomputes what the rule derives from the step count (Adam's `β₁ᵗ`, `β₂ᵗ`) after its
    /// state was loaded at step `steps`; exactly as `steps` steps would have left it.
    fn restore_steps(&mut self, config: &Self::Config, steps: u64) {
        let _ = (config, steps);
    }
}

/// An optimizer from an update rule: keeps the config and the step count, and gives each step
/// its scheduled learning rate and clip factor. [`Sgd`](super::Sgd), [`Adam`](super::Adam),
/// ... are this type with their rule.
pub struct Optim<R: UpdateRule> {
    pub(super) config: R::Config,
    pub(super) rule: R,
    pub(super) steps: u64,
}

impl<R: UpdateRule> Optim<R> {
    /// An optimizer for networks of type `R::Net`, with its state allocated.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first hyperparameter out of its range (each config field
    /// documents its range): a NaN or infinite value, a negative learning rate, a decay rate
    /// outside `[0, 1)`, ...
    pub fn new(config: R::Config) -> Result<Self, ConfigError> {
        config.into().check(R::CONFIG)?;
        Ok(Optim {
            rule: R::new(&config)?,
            config,
            steps: 0,
        })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &R::Config {
        &self.config
    }

    /// Steps taken so far (`t`).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The learning rate of the next step, in `f64`.
    fn next_lr(&self) -> f64 {
        let common: Common = self.config.into();
        common.schedule.lr_at(common.lr, self.steps)
    }
}

impl<R: UpdateRule> Optimizer<R::Scalar, R::Net> for Optim<R> {
    fn step(&mut self, net: &mut R::Net, grad: &R::Net) {
        let max_norm = self.config.into().max_grad_norm;
        let step = StepScalars {
            lr: R::Scalar::constant(self.next_lr()),
            clip: R::Scalar::constant(clip_factor(grad, max_norm)),
        };
        self.steps += 1;
        self.rule.update(&self.config, net, grad, step);
    }

    fn learning_rate(&self) -> R::Scalar {
        R::Scalar::constant(self.next_lr())
    }
}
