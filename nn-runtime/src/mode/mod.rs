//! Training and inference modes: the layers that behave differently while training
//! (`dropout`, `batch_norm`) and the [`Training`] context that puts a call in training mode.
//!
//! One rule, enforced by the generated API rather than by a flag:
//!
//! - **Inference** is every method without a [`Training`] argument: `forward`, `predict`,
//!   `loss` and their batch forms, `train::evaluate`, `embed!` statics and `no_std` code.
//!   Dropout is the identity; batch norm normalizes with its running statistics.
//! - **Training** is every method that takes `&mut Training`: `train_batch` (the gradient of
//!   a batch, which also updates the running statistics) and `forward_batch_train` (the
//!   training-mode output, without touching them). `train::fit` owns its `Training`, seeded
//!   from the run's seed and the epoch. Dropout draws its masks from the `Training`'s
//!   generator; batch norm normalizes with the batch's statistics (per channel over the batch
//!   and the positions when its input is a feature map, as `nn.BatchNorm1d`/`2d`).
//!
//! A network with either layer has no per-sample gradient (`backward`, `sgd_step`) and no
//! batch `backward_batch`: using one is a compile error that names `train_batch` (batch norm
//! couples the samples of a batch, and a dropout gradient needs a mask). Its input gradient
//! (`input_gradient`) is the one at inference: dropout the identity, batch norm
//! [`BatchNorm::infer_backward`].

mod batch_norm;
#[cfg(feature = "alloc")]
mod dropout;

pub use batch_norm::BatchNorm;
#[cfg(feature = "alloc")]
pub use batch_norm::{batch_mean, batch_normalize, batch_normalize_backward, batch_variance};
#[cfg(feature = "alloc")]
pub use dropout::dropout_mask;

/// The training-mode context: a seeded random generator for dropout masks, owned by the
/// caller. Passing `&mut Training` is what runs a generated method in training mode.
///
/// The generator is SplitMix64 (Steele, Lea and Flood; the seeding generator of the xoshiro
/// family): a 64-bit state, so a run is reproduced by its seed alone, on every platform.
///
/// # Examples
///
/// ```
/// use nn_runtime::mode::Training;
/// let (mut a, mut b) = (Training::seeded(7), Training::seeded(7));
/// assert_eq!(a.next_u64(), b.next_u64());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Training {
    state: u64,
}

impl Training {
    /// A context whose generator starts from `seed`: the same seed draws the same masks.
    pub const fn seeded(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits (SplitMix64).
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw from `[0, 1)`, with 53 random bits (every `f64` multiple of 2⁻⁵³).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// PyTorch's batch-norm counter, `<layer>.num_batches_tracked`: accepted when loading a
/// weights file and ignored (it only matters to PyTorch's `momentum = None`, a cumulative
/// average this crate does not offer), and not written.
pub const NUM_BATCHES_TRACKED: &str = "num_batches_tracked";

/// Whether a weights file's tensor `name` is the `num_batches_tracked` of one of `N`'s batch
/// norms (after any prefix: `model.bn.num_batches_tracked` counts for `bn`).
#[cfg(feature = "std")]
pub(crate) fn is_ignored_buffer<T: crate::Real, N: crate::Parameters<T>>(name: &str) -> bool {
    let Some(layer) = name
        .strip_suffix(NUM_BATCHES_TRACKED)
        .and_then(|rest| rest.strip_suffix('.'))
    else {
        return false;
    };
    N::LAYERS.iter().any(|info| {
        matches!(info.kind, crate::LayerKind::BatchNorm { .. })
            && (layer == info.name
                || layer
                    .strip_suffix(info.name)
                    .is_some_and(|prefix| prefix.ends_with('.')))
    })
}

/// For [`fit`](crate::train::fit): a network with a batch norm over a vector needs every
/// training batch to hold at least 2 samples (its statistics are over the batch), the last one
/// of an epoch too. A batch norm over the channels of a feature map (its `weight` shorter than
/// its input) has the positions of even one sample to take statistics over.
#[cfg(feature = "std")]
pub(crate) fn check_batch_norm_batches<T: crate::Real, N: crate::Parameters<T>>(
    batch_size: usize,
    samples: usize,
) -> Result<(), crate::ConfigError> {
    let over_vector = |info: &crate::LayerInfo| {
        let weight = alloc::format!("{}.weight", info.name);
        let channels = N::TENSORS.iter().find(|tensor| tensor.name == weight);
        channels.is_none_or(|tensor| tensor.len() == info.width)
    };
    let has_batch_norm = N::LAYERS
        .iter()
        .any(|info| matches!(info.kind, crate::LayerKind::BatchNorm { .. }) && over_vector(info));
    if has_batch_norm && (batch_size < 2 || samples % batch_size == 1) {
        return Err(crate::ConfigError::new(
            "TrainConfig",
            "batch_size",
            alloc::format!("{batch_size} (with {samples} samples, a batch holds one sample)"),
            "a batch size of at least 2 that leaves no batch of one sample: batch norm \
             normalizes over each batch",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
