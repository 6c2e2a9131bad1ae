//! Checkpoints: the weights, the optimizer's state and the epoch, to resume a run bit for bit.

use alloc::format;
use alloc::string::ToString;
use std::path::Path;

use crate::io::{self, WeightsError};
use crate::optim::{Optim, UpdateRule};
use crate::{Parameters, Real};

/// The weights file of a checkpoint directory.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// The optimizer-state file of a checkpoint directory.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// The `__metadata__` key of the optimizer file that records the completed epochs.
pub const EPOCH_KEY: &str = "epoch";

/// Saves a checkpoint after epoch `epoch` into the directory `dir` (created if missing):
/// `weights.safetensors`, the network as [`io::save`] writes it, and `optimizer.safetensors`,
/// the optimizer's state as [`Optim::save_state`] writes it (tensor names in
/// [`optim::state`](crate::optim::state)) with the metadata `epoch`.
///
/// Call it from the callback of [`fit_with`](super::fit_with) (`stats.epoch` is the epoch),
/// and resume with [`load_checkpoint`] and [`resume_with`](super::resume_with). Each file is
/// replaced whole or not at all; the optimizer file is written first, so a crash between the
/// two leaves the previous weights beside the newer optimizer state (keep one directory per
/// checkpoint, or the previous one, if that matters).
///
/// # Errors
/// [`WeightsError::Write`] if the directory or a file cannot be written.
pub fn save_checkpoint<T, N, R>(
    dir: impl AsRef<Path>,
    net: &N,
    optimizer: &Optim<R>,
    epoch: usize,
) -> Result<(), WeightsError>
where
    T: Real,
    N: Parameters<T>,
    R: UpdateRule<Scalar = T, Net = N>,
{
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(|source| WeightsError::Write {
        file: dir.to_path_buf(),
        source,
    })?;
    let epoch = epoch.to_string();
    let state = optimizer.state_to_bytes_with(&[(EPOCH_KEY, epoch.as_str())]);
    io::write_atomic(&dir.join(OPTIMIZER_FILE), &state)?;
    io::save(net, dir.join(WEIGHTS_FILE))
}

/// Loads a checkpoint written by [`save_checkpoint`] into `net` and `optimizer` (built with
/// the run's config), and returns the epoch it was taken after: pass it to
/// [`resume_with`](super::resume_with).
///
/// Both files are checked before anything changes: on error, `net` and `optimizer` are as
/// they were.
///
/// # Errors
/// As [`io::load`] and [`Optim::load_state`]; [`WeightsError::Corrupt`] if the optimizer file
/// has no valid `epoch` in its metadata.
pub fn load_checkpoint<T, N, R>(
    dir: impl AsRef<Path>,
    net: &mut N,
    optimizer: &mut Optim<R>,
) -> Result<usize, WeightsError>
where
    T: Real,
    N: Parameters<T>,
    R: UpdateRule<Scalar = T, Net = N>,
{
    let dir = dir.as_ref();
    let weights: alloc::boxed::Box<N> = io::load_boxed(dir.join(WEIGHTS_FILE))?;
    let path = dir.join(OPTIMIZER_FILE);
    let bytes = std::fs::read(&path).map_err(|source| WeightsError::Read {
        file: path.clone(),
        source,
    })?;
    let corrupt = |reason| WeightsError::Corrupt {
        file: Some(path.clone()),
        reason,
    };
    // Read the epoch before loading, so that a bad one changes nothing.
    let file = nn_format::File::parse(&bytes).map_err(|error| error.in_file(&path))?;
    let epoch = match file.metadata().get(EPOCH_KEY) {
        Some(text) => text.parse::<usize>().map_err(|_| {
            corrupt(format!(
                "checkpoint has `{EPOCH_KEY}` = `{text}` in its metadata; expected a whole \
                 number of epochs"
            ))
        })?,
        None => {
            return Err(corrupt(format!(
                "checkpoint has no `{EPOCH_KEY}` in its metadata; save it with \
                 `train::save_checkpoint`"
            )));
        }
    };
    optimizer
        .load_state_from_bytes(&bytes)
        .map_err(|error| error.in_file(&path))?;
    net.copy_from(&weights);
    Ok(epoch)
}
