//! Saving and restoring an optimizer's state (moments, velocities, the step count) as a
//! safetensors file, for checkpoints that resume bit for bit.
//!
//! # The file
//!
//! The same format as a weights file ([`io`](crate::io)): PyTorch's layouts, the network's
//! dtype, tensors sorted by name. Each state tensor is named after PyTorch's optimizer state
//! and the parameter it belongs to:
//!
//! | optimizer | tensors |
//! | --- | --- |
//! | [`Sgd`](super::Sgd) with momentum | `momentum_buffer.<param>` |
//! | [`AdaGrad`](super::AdaGrad) | `sum.<param>` |
//! | [`RmsProp`](super::RmsProp) | `square_avg.<param>`, with momentum `momentum_buffer.<param>` |
//! | [`Adam`](super::Adam), [`AdamW`](super::AdamW) | `exp_avg.<param>`, `exp_avg_sq.<param>` |
//!
//! where `<param>` is a tensor name of the network (`h1.weight`): `exp_avg.h1.weight` is Adam's
//! first moment of `h1.weight`, shaped like it. Plain SGD has no tensors. `__metadata__` holds
//! `"format": "pt"`, `step` (the steps taken, decimal; it places the learning-rate schedule and
//! Adam's bias correction), `optimizer` (the config's type, `AdamConfig`) and
//! `nn.architecture` (the network's declaration, informative). The hyperparameters are not
//! saved: build the optimizer with the same config, then load its state.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::mem::size_of;
use std::path::Path;

use nn_format::File;

use super::{Optim, UpdateRule};
use crate::io::{ARCHITECTURE_KEY, FORMAT_KEY, Loaded, WeightsError, closest_first, write_atomic};
use crate::{Parameters, Real};

/// The `__metadata__` key of the step count.
pub const STEP_KEY: &str = "step";
/// The `__metadata__` key of the optimizer's config type.
pub const OPTIMIZER_KEY: &str = "optimizer";

impl<R: UpdateRule> Optim<R> {
    /// Serializes the optimizer's state (see the [file format](crate::optim::state)) to the
    /// bytes of a safetensors file. Deterministic.
    pub fn state_to_bytes(&self) -> Vec<u8> {
        self.state_to_bytes_with(&[])
    }

    /// [`state_to_bytes`](Self::state_to_bytes) with `extra` metadata (sorted by key with the
    /// rest).
    pub(crate) fn state_to_bytes_with(&self, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut entries: Vec<(String, &R::Net, usize)> = Vec::new();
        for (prefix, state) in self.rule.state() {
            for (index, info) in <R::Net as Parameters<R::Scalar>>::TENSORS
                .iter()
                .enumerate()
            {
                entries.push((format!("{prefix}.{}", info.name), state, index));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let tensors: Vec<(&str, &[usize])> = entries
            .iter()
            .map(|(name, _, index)| (name.as_str(), shape::<R>(*index)))
            .collect();
        let steps = self.steps.to_string();
        let mut metadata = alloc::vec![
            (FORMAT_KEY, "pt"),
            (
                ARCHITECTURE_KEY,
                <R::Net as Parameters<R::Scalar>>::ARCHITECTURE
            ),
            (OPTIMIZER_KEY, R::CONFIG),
            (STEP_KEY, steps.as_str()),
        ];
        metadata.extend_from_slice(extra);
        metadata.sort_by_key(|&(key, _)| key);
        let width = size_of::<R::Scalar>();
        let mut bytes = nn_format::header(R::Scalar::DTYPE, width, &metadata, &tensors);
        let mut column_major = Vec::new();
        for (_, state, index) in &entries {
            column_major.clear();
            R::Scalar::extend_le_bytes(state.tensor(*index), &mut column_major);
            bytes.extend(nn_format::to_row_major(
                shape::<R>(*index),
                &column_major,
                width,
            ));
        }
        bytes
    }

    /// Saves the optimizer's state to the safetensors file `path` (see the [file
    /// format](crate::optim::state)).
    ///
    /// # Errors
    /// [`WeightsError::Write`] if the file cannot be written.
    ///
    /// Writes a sibling temporary file and renames it over `path`, so an existing file is
    /// replaced whole or not at all.
    pub fn save_state(&self, path: impl AsRef<Path>) -> Result<(), WeightsError> {
        write_atomic(path.as_ref(), &self.state_to_bytes())
    }

    /// Restores the state (tensors and step count) from the bytes of a file written by
    /// [`state_to_bytes`](Self::state_to_bytes), checking everything first: on error the
    /// optimizer is unchanged. Returns the file's metadata.
    ///
    /// # Errors
    /// As [`io::load_from_bytes`](crate::io::load_from_bytes) (a malformed file; a missing,
    /// extra or misshapen tensor, for instance `exp_avg.h1.weight` in a file saved from an
    /// SGD), and [`WeightsError::Corrupt`] when the metadata has no valid `step`.
    pub fn load_state_from_bytes(&mut self, bytes: &[u8]) -> Result<Loaded, WeightsError> {
        let file = File::parse(bytes)?;
        let corrupt = |reason: String| WeightsError::Corrupt { file: None, reason };
        let steps = match file.metadata().get(STEP_KEY) {
            Some(text) => text.parse::<u64>().map_err(|_| {
                corrupt(format!(
                    "optimizer state has `{STEP_KEY}` = `{text}` in its metadata; expected a \
                     whole number of steps"
                ))
            })?,
            None => {
                return Err(corrupt(format!(
                    "optimizer state has no `{STEP_KEY}` in its metadata; save it with \
                     `Optim::save_state`"
                )));
            }
        };
        let mut expected: Vec<String> = Vec::new();
        let mut sources: Vec<&[u8]> = Vec::new();
        for (prefix, _) in self.rule.state() {
            for info in <R::Net as Parameters<R::Scalar>>::TENSORS {
                let name = format!("{prefix}.{}", info.name);
                sources.push(find(&file, &name, info.shape, R::Scalar::DTYPE)?);
                expected.push(name);
            }
        }
        if let Some(extra) = file
            .tensors()
            .iter()
            .find(|tensor| !expected.contains(&tensor.name))
        {
            return Err(WeightsError::UnexpectedTensor {
                file: None,
                name: extra.name.clone(),
                shape: extra.shape.clone(),
            });
        }
        let count = <R::Net as Parameters<R::Scalar>>::TENSORS.len();
        let mut sources = sources.into_iter();
        for (_, state) in self.rule.state_mut() {
            for index in 0..count {
                let Some(source) = sources.next() else { break };
                let column_major =
                    nn_format::to_column_major(shape::<R>(index), source, size_of::<R::Scalar>());
                R::Scalar::copy_from_le_bytes(&column_major, state.tensor_mut(index));
            }
        }
        self.steps = steps;
        self.rule.restore_steps(&self.config, steps);
        let metadata = file.metadata().clone();
        let architecture = metadata.get(ARCHITECTURE_KEY).cloned();
        let architecture_differs = architecture
            .as_deref()
            .is_some_and(|found| found != <R::Net as Parameters<R::Scalar>>::ARCHITECTURE);
        Ok(Loaded {
            metadata,
            architecture,
            architecture_differs,
        })
    }

    /// Restores the state from the safetensors file `path` (see
    /// [`load_state_from_bytes`](Self::load_state_from_bytes)); on error the optimizer is
    /// unchanged and the error names `path`.
    ///
    /// # Errors
    /// [`WeightsError::Read`] if the file cannot be read; otherwise as
    /// [`load_state_from_bytes`](Self::load_state_from_bytes).
    pub fn load_state(&mut self, path: impl AsRef<Path>) -> Result<Loaded, WeightsError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| WeightsError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        self.load_state_from_bytes(&bytes)
            .map_err(|error| error.in_file(path))
    }
}

/// The PyTorch shape of the network's tensor `index`.
fn shape<R: UpdateRule>(index: usize) -> &'static [usize] {
    <R::Net as Parameters<R::Scalar>>::TENSORS[index].shape
}

/// The data of tensor `name`, checked to have `shape` and `dtype`.
fn find<'a>(
    file: &File<'a>,
    name: &str,
    shape: &[usize],
    dtype: &'static str,
) -> Result<&'a [u8], WeightsError> {
    let Some(found) = file.tensor(name) else {
        return Err(WeightsError::MissingTensor {
            file: None,
            name: name.into(),
            looked_for: name.into(),
            shape: shape.to_vec(),
            available: closest_first(name, file.tensors()),
        });
    };
    if found.dtype != dtype {
        return Err(WeightsError::DtypeMismatch {
            file: None,
            name: name.into(),
            expected: dtype,
            found: found.dtype.clone(),
        });
    }
    if found.shape != shape {
        return Err(WeightsError::ShapeMismatch {
            file: None,
            name: name.into(),
            expected: shape.to_vec(),
            found: found.shape.clone(),
        });
    }
    Ok(found.data)
}
