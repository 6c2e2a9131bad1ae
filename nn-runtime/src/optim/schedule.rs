//! Learning-rate schedules `η_t = schedule(η, t)`.

use core::f64::consts::PI;

use crate::train::ConfigError;

/// The learning rate of step `t` (counting from 0) from the base rate `η` (the config's `lr`).
///
/// Computed in `f64` with the pure-Rust `libm` (`pow`, `cos`), so a run is reproducible
/// bit for bit across platforms.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Schedule {
    /// `η_t = η`.
    #[default]
    Constant,
    /// `η_t = η · γ^⌊t / every⌋`: multiplied by `gamma` every `every` steps (PyTorch's
    /// `StepLR`, counted in optimizer steps).
    Step {
        /// Steps between decays (`> 0`).
        every: u64,
        /// The factor applied at each decay (finite, `≥ 0`; usually `< 1`).
        gamma: f64,
    },
    /// `η_t = η_min + (η − η_min)(1 + cos(π t / T)) / 2` for `t ≤ T`, then `η_min`: cosine
    /// annealing from `η` down to `min_lr` over `T = steps` steps (PyTorch's
    /// `CosineAnnealingLR`, held at the minimum afterwards instead of rising again).
    Cosine {
        /// `T`, the steps to reach the minimum (`> 0`).
        steps: u64,
        /// `η_min` (finite, `≥ 0`).
        min_lr: f64,
    },
}

impl Schedule {
    /// `η_t`: the learning rate of step `t` (0 for the first step) for base rate `lr`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nn_runtime::optim::Schedule;
    /// let step = Schedule::Step { every: 10, gamma: 0.5 };
    /// assert_eq!([0, 9, 10, 25].map(|t| step.lr_at(1.0, t)), [1.0, 1.0, 0.5, 0.25]);
    /// let cosine = Schedule::Cosine { steps: 100, min_lr: 0.1 };
    /// assert_eq!(cosine.lr_at(1.0, 0), 1.0);
    /// assert!((cosine.lr_at(1.0, 50) - 0.55).abs() < 1e-15); // halfway: the mean
    /// assert_eq!(cosine.lr_at(1.0, 100), 0.1);
    /// assert_eq!(cosine.lr_at(1.0, 1000), 0.1);
    /// ```
    pub fn lr_at(&self, lr: f64, t: u64) -> f64 {
        match *self {
            Schedule::Constant => lr,
            Schedule::Step { every, gamma } => lr * libm::pow(gamma, (t / every) as f64),
            Schedule::Cosine { steps, min_lr } => {
                let progress = t.min(steps) as f64 / steps as f64;
                min_lr + (lr - min_lr) * (1.0 + libm::cos(PI * progress)) / 2.0
            }
        }
    }

    /// Checks each parameter's range (documented on the variant's fields).
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Step { every, gamma } => {
                ConfigError::at_least_one("Schedule::Step", "every", every)?;
                ConfigError::non_negative("Schedule::Step", "gamma", gamma)
            }
            Schedule::Cosine { steps, min_lr } => {
                ConfigError::at_least_one("Schedule::Cosine", "steps", steps)?;
                ConfigError::non_negative("Schedule::Cosine", "min_lr", min_lr)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_ignores_the_step() {
        assert_eq!(Schedule::Constant.lr_at(0.3, 0), 0.3);
        assert_eq!(Schedule::Constant.lr_at(0.3, u64::MAX), 0.3);
    }

    #[test]
    fn step_decays_every_k_steps() {
        let s = Schedule::Step {
            every: 3,
            gamma: 0.1,
        };
        let lrs: [f64; 7] = core::array::from_fn(|t| s.lr_at(2.0, t as u64));
        // 2, 2, 2, 0.2, 0.2, 0.2, 0.02 (0.1^k computed by pow: exact to an ulp).
        let expected = [2.0, 2.0, 2.0, 0.2, 0.2, 0.2, 0.02];
        for (lr, e) in lrs.iter().zip(expected) {
            assert!((lr - e).abs() <= 4.0 * f64::EPSILON * e, "{lrs:?}");
        }
    }

    #[test]
    fn cosine_follows_the_half_cosine_and_stays_at_the_minimum() {
        let s = Schedule::Cosine {
            steps: 4,
            min_lr: 0.0,
        };
        // (1 + cos(π t/4))/2 for t = 0..4: 1, (2+√2)/4, 1/2, (2−√2)/4, 0.
        let r = core::f64::consts::SQRT_2;
        let expected = [1.0, (2.0 + r) / 4.0, 0.5, (2.0 - r) / 4.0, 0.0, 0.0];
        for (t, e) in expected.iter().enumerate() {
            assert!((s.lr_at(1.0, t as u64) - e).abs() < 1e-15, "t = {t}");
        }
        // Monotone between lr and the minimum.
        let s = Schedule::Cosine {
            steps: 1000,
            min_lr: 1e-4,
        };
        let lrs: alloc::vec::Vec<f64> = (0..=1000).map(|t| s.lr_at(1e-2, t)).collect();
        assert!(lrs.windows(2).all(|w| w[1] <= w[0]));
        assert_eq!(lrs[1000], 1e-4);
    }
}
