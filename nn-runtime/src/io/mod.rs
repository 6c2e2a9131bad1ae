//! Saving and loading a network's parameters as [safetensors](https://huggingface.co/docs/safetensors),
//! with PyTorch's tensor names and layouts.
//!
//! # The file
//!
//! - One tensor per entry of [`Parameters::TENSORS`], named as there (`h1.weight`, `h1.bias`,
//!   `h2.proj.weight`, `norm.weight`), in PyTorch's shape and **row-major** order: a weight is
//!   `[out, in]` as in `nn.Linear`, element `(r, c)` at position `r * in + c`. nalgebra stores
//!   matrices column-major, so weights are transposed on the way in and out; vectors (biases,
//!   layer-norm gains and shifts) are stored as they are.
//! - The dtype is the network's scalar, [`Real::DTYPE`]: `F32` for `Net<f32>`, `F64` for
//!   `Net<f64>`, little-endian, bit for bit (a save → load round trip is exact, NaN payloads
//!   included).
//! - `__metadata__` holds `"format": "pt"` (so PyTorch tools such as
//!   `safetensors.torch.load_file` and `transformers` accept the file) and
//!   [`ARCHITECTURE_KEY`] = [`Parameters::ARCHITECTURE`], the declaration on one line.
//! - The layout is exactly what the `safetensors` Python package writes for the same tensors
//!   (`tests/fixtures/safetensors/` pins this): tensors sorted by name, data packed in that
//!   order, header padded with spaces to a multiple of 8 bytes. Saving is deterministic: the
//!   same parameters give the same bytes.
//!
//! The format itself (parsing, the header, the transposition, the messages of
//! [`WeightsError`]) is the `nn-format` crate's, shared with [`embed!`](crate::embed); this
//! module reads into and writes from a network through [`Parameters`].
//!
//! So `safetensors.torch.load_file(path)` gives a `state_dict` for the equivalent
//! `torch.nn.Module`, and a `state_dict` saved by `safetensors.torch.save_file` loads here.
//!
//! # Loading checks everything, and changes nothing when it fails
//!
//! The file must hold exactly the network's tensors: each one present, with the network's
//! dtype and PyTorch shape, and no other tensor. Anything else is a [`WeightsError`] naming the
//! file, the tensor, and the expected and found shape or dtype (for a missing tensor, the
//! names the file has, the closest first); so are metadata that are not strings (naming the
//! key), a truncated file, a corrupt header and bytes that are not safetensors at all. Loading
//! never panics, whatever the bytes (a fuzz test pins this), and validates the whole file
//! before writing a single parameter, so after an error the network holds exactly what it held
//! before.
//!
//! **Dtypes are converted only when asked.** By default an `F32` file loaded into a
//! `Net<f64>` (or the reverse) is a [`WeightsError::DtypeMismatch`]: a silent conversion would
//! make a reloaded `f64` network differ from the one saved, and an `F64` → `f32` load would
//! round. [`LoadOptions::convert_dtype`] with [`load_with`] converts `F16`, `BF16`, `F32` and
//! `F64` tensors: exactly where the scalar holds the value, to nearest-even otherwise, and a
//! value too large for `f32` is a [`WeightsError::Overflow`], never an infinity.
//!
//! **Other names.** A file whose names differ from the network's (a PyTorch `nn.Sequential`'s
//! `0.weight`, a wrapped module's `model.h1.weight`) loads with [`LoadOptions::rename`] and
//! [`LoadOptions::prefix`]; [`save_with`] writes one.
//!
//! **The recorded architecture is informative, not checked.** Shapes and names are the real
//! check; the declaration string also changes for harmless edits (a renamed struct, a
//! reformatted declaration), and files written by PyTorch have none. A successful load reports
//! the file's declaration and whether it differs from the network's in [`Loaded`], for the
//! caller to warn about; a difference the shapes cannot see is an activation or a layer norm's
//! `eps`.
//!
//! # Examples
//!
//! ```
//! use nn_runtime::Parameters;
//!
//! nn_runtime::network! {
//!     pub struct Tiny {
//!         input: 2,
//!         h1: dense(4, relu),
//!         out: dense(1),
//!         loss: mse,
//!     }
//! }
//!
//! # fn main() -> Result<(), nn_runtime::WeightsError> {
//! let path = std::env::temp_dir().join(format!("tiny-{}.safetensors", std::process::id()));
//! let mut net = Tiny::<f32>::boxed_zeros();
//! net.h1.weight[(3, 1)] = 0.5; // row 3, column 1 of the [4, 2] weight
//! nn_runtime::io::save(&*net, &path)?;
//!
//! let mut again = Tiny::<f32>::boxed_zeros();
//! let loaded = nn_runtime::io::load(&mut *again, &path)?;
//! assert_eq!(again.h1.weight, net.h1.weight);
//! assert!(!loaded.architecture_differs);
//!
//! // The file does not fit a network of another scalar type (or other shapes).
//! let mut in_f64 = Tiny::<f64>::boxed_zeros();
//! let error = nn_runtime::io::load(&mut *in_f64, &path).unwrap_err();
//! assert!(error.to_string().ends_with(
//!     "tensor `h1.weight` has dtype F32 but the network's scalar is F64; load it into a \
//!      network of the file's scalar type, or convert on load with `LoadOptions::convert_dtype`"
//! ));
//!
//! // Unless asked to convert: every f32 value is an f64 value.
//! let options = nn_runtime::io::LoadOptions::new().convert_dtype();
//! nn_runtime::io::load_with(&mut *in_f64, &path, &options)?;
//! assert_eq!(in_f64.h1.weight[(3, 1)], 0.5);
//! # std::fs::remove_file(&path).unwrap();
//! # Ok(())
//! # }
//! ```

mod options;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use alloc::boxed::Box;
use core::mem::size_of;

pub use nn_format::WeightsError;
use nn_format::{File, Tensor};
pub use options::LoadOptions;

use crate::embed::edit_distance;
use crate::{Parameters, Real};

/// The `__metadata__` key under which a file records [`Parameters::ARCHITECTURE`].
pub const ARCHITECTURE_KEY: &str = "nn.architecture";

/// The `__metadata__` key PyTorch's safetensors loader reads; its value here is `"pt"`.
pub const FORMAT_KEY: &str = "format";

/// What a successful load found in the file besides the tensors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Loaded {
    /// The file's `__metadata__` (string to string; empty if it has none).
    pub metadata: BTreeMap<String, String>,
    /// The declaration the file records under [`ARCHITECTURE_KEY`]; `None` for files written
    /// elsewhere (PyTorch, JAX).
    pub architecture: Option<String>,
    /// Whether the file records a declaration different from the network's
    /// [`Parameters::ARCHITECTURE`]. The parameters loaded all the same (names, shapes and
    /// dtypes matched); worth a warning, since activations and `eps` do not show in shapes.
    pub architecture_differs: bool,
}

/// Serializes `net`'s parameters to the bytes of a safetensors file (see the [module
/// docs](self) for the layout).
///
/// Deterministic: the same parameters give the same bytes.
pub fn to_bytes<T: Real, N: Parameters<T>>(net: &N) -> Vec<u8> {
    let names = N::TENSORS.iter().map(|info| info.name.to_owned()).collect();
    to_bytes_named(net, names)
}

/// Serializes `net`'s parameters as [`to_bytes`] does, under the file names of `options`
/// (its renames and prefix, see [`LoadOptions`]; its `convert_dtype` does not apply: the file
/// holds the network's scalar).
///
/// # Errors
/// [`WeightsError::UnknownRename`] or [`WeightsError::DuplicateFileName`] if the options do
/// not fit the network.
pub fn to_bytes_with<T: Real, N: Parameters<T>>(
    net: &N,
    options: &LoadOptions,
) -> Result<Vec<u8>, WeightsError> {
    Ok(to_bytes_named(net, options.file_names(N::TENSORS)?))
}

/// [`to_bytes`] with `names[i]` the file name of tensor `i` (distinct).
fn to_bytes_named<T: Real, N: Parameters<T>>(net: &N, names: Vec<String>) -> Vec<u8> {
    // Tensors in data order: by name, as the `safetensors` crate sorts them (one dtype).
    let mut order: Vec<usize> = (0..N::TENSORS.len()).collect();
    order.sort_by_key(|&index| &names[index]);
    let tensors: Vec<(&str, &[usize])> = order
        .iter()
        .map(|&index| (names[index].as_str(), N::TENSORS[index].shape))
        .collect();
    let metadata = [(FORMAT_KEY, "pt"), (ARCHITECTURE_KEY, N::ARCHITECTURE)];
    let width = size_of::<T>();

    let mut bytes = nn_format::header(T::DTYPE, width, &metadata, &tensors);
    bytes.reserve(N::PARAM_COUNT * width);
    let mut column_major = Vec::new();
    for &index in &order {
        column_major.clear();
        T::extend_le_bytes(net.tensor(index), &mut column_major);
        let shape = N::TENSORS[index].shape;
        bytes.extend(nn_format::to_row_major(shape, &column_major, width));
    }
    bytes
}

/// Saves `net`'s parameters to the safetensors file `path` (see the [module docs](self)).
///
/// Writes a sibling temporary file and renames it over `path`, so an existing file is replaced
/// whole or not at all.
///
/// # Errors
/// [`WeightsError::Write`] if the file cannot be written.
pub fn save<T: Real, N: Parameters<T>>(
    net: &N,
    path: impl AsRef<Path>,
) -> Result<(), WeightsError> {
    write_atomic(path.as_ref(), &to_bytes(net))
}

/// Saves `net`'s parameters as [`save`] does, under the file names of `options` (see
/// [`to_bytes_with`]): the file [`load_with`] reads with the same options.
///
/// # Errors
/// As [`to_bytes_with`] and [`save`].
pub fn save_with<T: Real, N: Parameters<T>>(
    net: &N,
    path: impl AsRef<Path>,
    options: &LoadOptions,
) -> Result<(), WeightsError> {
    write_atomic(path.as_ref(), &to_bytes_with(net, options)?)
}

/// Writes `bytes` to a sibling temporary file of `path` and renames it over `path`, so a reader
/// never sees half a file (weights here, optimizer state and checkpoints in `optim` and `train`).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WeightsError> {
    let write_error = |source| WeightsError::Write {
        file: path.to_path_buf(),
        source,
    };
    let Some(name) = path.file_name() else {
        // No file name (`..`, `/`): let the OS say what is wrong.
        return fs::write(path, bytes).map_err(write_error);
    };
    let mut temporary_name = name.to_os_string();
    temporary_name.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary_name);
    fs::write(&temporary, bytes)
        .and_then(|()| fs::rename(&temporary, path))
        .map_err(|error| {
            let _ = fs::remove_file(&temporary);
            write_error(error)
        })
}

/// Loads `net`'s parameters from the bytes of a safetensors file, checking everything first.
///
/// On success every parameter has been overwritten. On error `net` is unchanged.
///
/// # Errors
/// - [`WeightsError::NotSafetensors`], [`WeightsError::Truncated`],
///   [`WeightsError::Corrupt`], [`WeightsError::MetadataNotObject`],
///   [`WeightsError::MetadataNotString`]: the bytes are not a well-formed safetensors file.
/// - [`WeightsError::MissingTensor`], [`WeightsError::UnexpectedTensor`],
///   [`WeightsError::ShapeMismatch`], [`WeightsError::DtypeMismatch`]: the file is well formed
///   but does not hold exactly `net`'s tensors.
///
/// The errors carry no file (`file: None`); [`load`] adds it.
pub fn load_from_bytes<T: Real, N: Parameters<T>>(
    net: &mut N,
    bytes: &[u8],
) -> Result<Loaded, WeightsError> {
    load_from_bytes_with(net, bytes, &LoadOptions::new())
}

/// Loads `net`'s parameters from the bytes of a safetensors file as [`load_from_bytes`] does,
/// reading each tensor under the file name `options` gives it and converting dtypes if it
/// says so (see [`LoadOptions`]).
///
/// # Errors
/// As [`load_from_bytes`], and: [`WeightsError::UnknownRename`] or
/// [`WeightsError::DuplicateFileName`] if the options do not fit the network,
/// [`WeightsError::Overflow`] if a converted value does not fit the network's scalar. A
/// [`WeightsError::MissingTensor`] names the file name looked for.
pub fn load_from_bytes_with<T: Real, N: Parameters<T>>(
    net: &mut N,
    bytes: &[u8],
    options: &LoadOptions,
) -> Result<Loaded, WeightsError> {
    let file_names = options.file_names(N::TENSORS)?;
    let file = File::parse(bytes)?;

    // Validate (and convert) every tensor before writing any.
    let mut sources: Vec<Cow<'_, [u8]>> = Vec::with_capacity(N::TENSORS.len());
    for (info, file_name) in N::TENSORS.iter().zip(&file_names) {
        let Some(found) = file.tensor(file_name) else {
            return Err(WeightsError::MissingTensor {
                file: None,
                name: info.name.into(),
                looked_for: file_name.as_str().into(),
                shape: info.shape.to_vec(),
                available: closest_first(file_name, file.tensors()),
            });
        };
        let converts = found.dtype != T::DTYPE
            && options.converts()
            && nn_format::FLOAT_DTYPES.contains(&found.dtype.as_str());
        if found.dtype != T::DTYPE && !converts {
            return Err(WeightsError::DtypeMismatch {
                file: None,
                name: file_name.clone(),
                expected: T::DTYPE,
                found: found.dtype.clone(),
            });
        }
        if found.shape != info.shape {
            return Err(WeightsError::ShapeMismatch {
                file: None,
                name: file_name.clone(),
                expected: info.shape.to_vec(),
                found: found.shape.clone(),
            });
        }
        sources.push(if converts {
            Cow::Owned(convert::<T>(found)?)
        } else {
            Cow::Borrowed(found.data)
        });
    }
    // In data order, so that the first extra tensor reported is the same on every run.
    if let Some(extra) = file.tensors().iter().find(|tensor| {
        !file_names.contains(&tensor.name) && !crate::mode::is_ignored_buffer::<T, N>(&tensor.name)
    }) {
        return Err(WeightsError::UnexpectedTensor {
            file: None,
            name: extra.name.clone(),
            shape: extra.shape.clone(),
        });
    }

    // `File::parse` checked each source's length against its dtype and shape, which are the
    // parameter's (and `convert` wrote one scalar per element).
    for (index, source) in sources.into_iter().enumerate() {
        let column_major =
            nn_format::to_column_major(N::TENSORS[index].shape, &source, size_of::<T>());
        T::copy_from_le_bytes(&column_major, net.tensor_mut(index));
    }

    let metadata = file.metadata().clone();
    let architecture = metadata.get(ARCHITECTURE_KEY).cloned();
    let architecture_differs = architecture
        .as_deref()
        .is_some_and(|found| found != N::ARCHITECTURE);
    Ok(Loaded {
        metadata,
        architecture,
        architecture_differs,
    })
}

/// The little-endian bytes of `tensor` (of a dtype [`nn_format::decode`] reads) converted to
/// `T`, in the file's order: exact where `T` holds the value, else rounded to nearest, ties to
/// even (`T::constant`, an `as` cast).
///
/// # Errors
/// [`WeightsError::Overflow`] for the first finite value that would become infinite.
fn convert<T: Real>(tensor: &Tensor<'_>) -> Result<Vec<u8>, WeightsError> {
    let values = nn_format::decode(&tensor.dtype, tensor.data).unwrap_or_default();
    let mut converted = Vec::with_capacity(values.len());
    for (k, &value) in values.iter().enumerate() {
        let scalar = T::constant(value);
        if value.is_finite() && !scalar.to_f64().is_finite() {
            return Err(WeightsError::Overflow {
                file: None,
                name: tensor.name.clone(),
                index: unflatten(k, &tensor.shape),
                value,
                expected: T::DTYPE,
                found: tensor.dtype.clone(),
            });
        }
        converted.push(scalar);
    }
    let mut bytes = Vec::with_capacity(converted.len() * size_of::<T>());
    T::extend_le_bytes(&converted, &mut bytes);
    Ok(bytes)
}

/// The index in a row-major tensor of shape `shape` of its `k`-th element (`[r, c]` of a
/// matrix).
fn unflatten(mut k: usize, shape: &[usize]) -> Box<[usize]> {
    let mut index = vec![0; shape.len()];
    for (i, &size) in shape.iter().enumerate().rev() {
        if size > 0 {
            index[i] = k % size;
            k /= size;
        }
    }
    index.into()
}

/// Loads `net`'s parameters from the safetensors file `path`, checking everything first.
///
/// On success every parameter has been overwritten. On error `net` is unchanged, and the
/// error names `path`.
///
/// # Errors
/// [`WeightsError::Read`] if the file cannot be read; otherwise as [`load_from_bytes`], with
/// `file` set to `path`.
pub fn load<T: Real, N: Parameters<T>>(
    net: &mut N,
    path: impl AsRef<Path>,
) -> Result<Loaded, WeightsError> {
    load_with(net, path, &LoadOptions::new())
}

/// Loads `net`'s parameters from the safetensors file `path` as [`load`] does, with other
/// tensor names or dtype conversion as `options` says (see [`LoadOptions`]).
///
/// # Errors
/// [`WeightsError::Read`] if the file cannot be read; otherwise as [`load_from_bytes_with`],
/// with `file` set to `path`.
pub fn load_with<T: Real, N: Parameters<T>>(
    net: &mut N,
    path: impl AsRef<Path>,
    options: &LoadOptions,
) -> Result<Loaded, WeightsError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    load_from_bytes_with(net, &bytes, options).map_err(|error| error.in_file(path))
}

/// A new network, on the heap, with its parameters loaded from the safetensors file `path`.
///
/// Never builds the network on the stack (see [`Parameters::boxed_zeros`]), so it suits
/// networks of any size.
///
/// # Errors
/// As [`load`].
pub fn load_boxed<T: Real, N: Parameters<T>>(
    path: impl AsRef<Path>,
) -> Result<Box<N>, WeightsError> {
    let mut net = N::boxed_zeros();
    load(&mut *net, path)?;
    Ok(net)
}

/// The names of `tensors`, the closest to `name` first (by [`edit_distance`]; ties in data
/// order).
pub(crate) fn closest_first(name: &str, tensors: &[Tensor<'_>]) -> Vec<String> {
    let mut names: Vec<(usize, &str)> = tensors
        .iter()
        .map(|tensor| (edit_distance(name, &tensor.name), tensor.name.as_str()))
        .collect();
    names.sort_by_key(|&(distance, _)| distance);
    names.into_iter().map(|(_, name)| name.to_owned()).collect()
}

/// The bytes of `path`, or [`WeightsError::Read`].
fn read(path: &Path) -> Result<Vec<u8>, WeightsError> {
    fs::read(path).map_err(|source| WeightsError::Read {
        file: PathBuf::from(path),
        source,
    })
}
