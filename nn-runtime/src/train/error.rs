//! The errors of training and of every configuration value: [`TrainError`], [`ConfigError`].

use alloc::string::{String, ToString};
use core::fmt::Display;

/// A configuration value out of its valid range: which field of which configuration, its value,
/// and the values it may take.
///
/// Returned by the first function that receives the value: the optimizer constructors
/// ([`Sgd::new`](crate::optim::Sgd), ...), [`fit`](super::fit) (for a [`TrainConfig`](super::TrainConfig)
/// or an [`EarlyStopping`](super::EarlyStopping)) and
/// [`Dataset::split`](crate::data::Dataset::split).
///
/// # Examples
///
/// ```
/// # use nn_runtime::Parameters;
/// nn_runtime::network! { struct Net { input: 1, w: dense(1), loss: mse } }
/// use nn_runtime::optim::{Sgd, SgdConfig};
/// let error = Sgd::<f32, Net>::new(SgdConfig { lr: f64::INFINITY, ..Default::default() })
///     .err()
///     .unwrap();
/// assert_eq!(error.to_string(), "`lr` of `SgdConfig` is inf; use a finite number >= 0");
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("`{field}` of `{owner}` is {value}; use {valid}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The configuration the field belongs to (`SgdConfig`, `Schedule::Step`, `TrainConfig`,
    /// `Dataset::split`).
    pub owner: &'static str,
    /// The field (`lr`, `beta1`, `batch_size`, `fraction`).
    pub field: &'static str,
    /// The value given, as text (`NaN`, `inf`, `1.5`, `0`).
    pub value: String,
    /// The values it may take (`a number in [0, 1)`).
    pub valid: &'static str,
}

impl ConfigError {
    /// `field` of `owner` is `value`, which is not one of `valid`.
    pub(crate) fn new(
        owner: &'static str,
        field: &'static str,
        value: impl Display,
        valid: &'static str,
    ) -> Self {
        ConfigError {
            owner,
            field,
            value: value.to_string(),
            valid,
        }
    }

    /// `Ok` if `value` is finite and `≥ 0` (a learning rate, a weight decay, a `γ`).
    pub(crate) fn non_negative(
        owner: &'static str,
        field: &'static str,
        value: f64,
    ) -> Result<(), Self> {
        check(
            value.is_finite() && value >= 0.0,
            owner,
            field,
            value,
            "a finite number >= 0",
        )
    }

    /// `Ok` if `value` is finite and `> 0` (an `ε`, a clipping norm).
    pub(crate) fn positive(
        owner: &'static str,
        field: &'static str,
        value: f64,
    ) -> Result<(), Self> {
        check(
            value.is_finite() && value > 0.0,
            owner,
            field,
            value,
            "a finite number > 0",
        )
    }

    /// `Ok` if `0 ≤ value < 1` (a decay rate: `β`, `α`, `μ`).
    pub(crate) fn decay(owner: &'static str, field: &'static str, value: f64) -> Result<(), Self> {
        check(
            (0.0..1.0).contains(&value),
            owner,
            field,
            value,
            "a number in [0, 1)",
        )
    }

    /// `Ok` if `0 ≤ value ≤ 1` (a fraction).
    pub(crate) fn fraction(
        owner: &'static str,
        field: &'static str,
        value: f64,
    ) -> Result<(), Self> {
        check(
            (0.0..=1.0).contains(&value),
            owner,
            field,
            value,
            "a number in [0, 1]",
        )
    }

    /// `Ok` if `value ≥ 1` (a count of steps or samples).
    pub(crate) fn at_least_one(
        owner: &'static str,
        field: &'static str,
        value: u64,
    ) -> Result<(), Self> {
        check(value >= 1, owner, field, value, "a number >= 1")
    }
}

/// `Ok` if `valid`, else the error naming `field` of `owner`, its value and `range`.
fn check(
    valid: bool,
    owner: &'static str,
    field: &'static str,
    value: impl Display,
    range: &'static str,
) -> Result<(), ConfigError> {
    if valid {
        Ok(())
    } else {
        Err(ConfigError::new(owner, field, value, range))
    }
}

/// Why training stopped with an error.
///
/// A step whose loss, gradient or update is NaN or infinite never reaches the network: it holds
/// the weights from before that step, bit for bit. (The optimizer's state, such as its step
/// count and moments, does include the failed step.)
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The loss of a minibatch was NaN or infinite.
    #[error(
        "the loss became {loss} at epoch {epoch}, step {step}; training stopped and the \
         weights from before that step were kept (lower the learning rate or check the data)"
    )]
    NonFiniteLoss {
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch, from 1.
        step: usize,
        /// The loss.
        loss: f64,
    },
    /// A gradient held a NaN or an infinity.
    #[error(
        "the gradient of `{tensor}` became NaN or infinite at epoch {epoch}, step {step}; \
         training stopped and the weights from before that step were kept"
    )]
    NonFiniteGradient {
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch, from 1.
        step: usize,
        /// The tensor (`h1.weight`).
        tensor: &'static str,
    },
    /// The optimizer's update made a weight NaN or infinite; the update was undone.
    #[error(
        "the update made `{tensor}` NaN or infinite at epoch {epoch}, step {step}; training \
         stopped and the weights from before that step were kept (lower the learning rate, or \
         clip the gradient with `max_grad_norm`)"
    )]
    NonFiniteUpdate {
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch, from 1.
        step: usize,
        /// The first tensor (`h1.weight`) that holds a NaN or an infinity after the update.
        tensor: &'static str,
    },
    /// The network given to `fit` already held a NaN or an infinity.
    #[error(
        "the weights given to training hold a NaN or an infinity in `{tensor}`; initialize the \
         network (`Init`) or load finite weights before training"
    )]
    NonFiniteWeights {
        /// The first tensor (`h1.weight`) that holds one.
        tensor: &'static str,
    },
    /// The training data has no samples.
    #[error("the training data has no samples")]
    EmptyDataset,
    /// The validation data has no samples (its loss would be meaningless).
    #[error(
        "the validation data has no samples; give it samples, or pass `None` to train without \
         validation"
    )]
    EmptyValidation,
    /// A field of the [`TrainConfig`](super::TrainConfig) or its
    /// [`EarlyStopping`](super::EarlyStopping) is out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The thread pool for `threads` could not be started.
    #[error("cannot start the training threads: {0}")]
    ThreadPool(String),
}
