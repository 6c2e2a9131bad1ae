//! [`LoadOptions`]: how the network's tensor names map to a file's, and whether a load
//! converts dtypes.

use std::collections::BTreeMap;

use super::WeightsError;
use crate::TensorInfo;
use crate::embed::edit_distance;

/// How a load reads a file that is not exactly the network's: other tensor names (a PyTorch
/// `nn.Sequential`'s `0.weight`, a wrapped module's `model.fc1.weight`), another float dtype.
///
/// The default ([`LoadOptions::new`]) is [`load`](super::load)'s: the file's names are the
/// network's, its dtype the network's scalar. Each option is explicit:
///
/// - [`rename(from, to)`](Self::rename) maps a tensor or a whole layer of the network to the
///   file's name for it: `rename("h1", "0")` reads `h1.weight` from `0.weight` and `h1.bias`
///   from `0.bias`; `rename("h1.weight", "fc.w")` maps one tensor. The renames are split at
///   dots, the most specific wins (`h1.weight` over `h1`).
/// - [`prefix(p)`](Self::prefix) puts `p` in front of every name, after renaming:
///   `prefix("model.")` reads `h1.weight` from `model.h1.weight`.
/// - [`convert_dtype()`](Self::convert_dtype) converts `F16`, `BF16`, `F32` and `F64` tensors
///   to the network's scalar (see there).
///
/// The file must still hold exactly the mapped names. A rename that names no tensor or layer
/// of the network, or a mapping that sends two tensors to one name, is an error
/// ([`WeightsError::UnknownRename`], [`WeightsError::DuplicateFileName`]); a missing tensor's
/// error names the file name looked for.
///
/// [`save_with`](super::save_with) writes a file under the same names, so a file for an
/// `nn.Sequential` is written with the options that read it.
///
/// # Examples
///
/// A PyTorch `nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))` saved inside a
/// module as `model`: its tensors are `model.0.weight`, `model.0.bias`, `model.2.weight`,
/// `model.2.bias`.
///
/// ```
/// use nn_runtime::io::{self, LoadOptions};
/// use nn_runtime::Parameters;
///
/// nn_runtime::network! {
///     pub struct Tiny {
///         input: 2,
///         h1: dense(4, relu),
///         out: dense(1),
///         loss: mse,
///     }
/// }
///
/// # fn main() -> Result<(), nn_runtime::WeightsError> {
/// let pytorch = LoadOptions::new().rename("h1", "0").rename("out", "2").prefix("model.");
///
/// // A file with PyTorch's names (written here with the same options, for the example).
/// let mut trained = Tiny::<f32>::boxed_zeros();
/// trained.out.bias[0] = 0.25;
/// let bytes = io::to_bytes_with(&*trained, &pytorch)?;
///
/// let mut net = Tiny::<f32>::boxed_zeros();
/// io::load_from_bytes_with(&mut *net, &bytes, &pytorch)?;
/// assert_eq!(net.out.bias[0], 0.25);
///
/// // Without the options, the names do not match.
/// let error = io::load_from_bytes(&mut *net, &bytes).unwrap_err();
/// assert!(error.to_string().starts_with(
///     "tensor `h1.weight` (shape [4, 2]) is missing from the file, which has `model.0.weight`"
/// ));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// `(from, to)`: the network's tensor or layer name, the file's.
    renames: Vec<(String, String)>,
    prefix: String,
    convert_dtype: bool,
}

impl LoadOptions {
    /// The options of a plain [`load`](super::load): the network's names, no conversion.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the network's tensor `from` (`h1.weight`), or every tensor of its layer `from`
    /// (`h1`: `h1.weight`, `h1.bias`, `h1.proj.weight`), under the file's name `to` (`0`:
    /// `0.weight`, `0.bias`, `0.proj.weight`).
    ///
    /// Names match whole dot-separated parts (`h1` does not rename `h10.weight`); when
    /// several renames match a tensor, the longest `from` wins. The [`prefix`](Self::prefix)
    /// goes in front of the result.
    #[must_use]
    pub fn rename(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.renames.push((from.into(), to.into()));
        self
    }

    /// Puts `prefix` in front of every file name (after renaming): `prefix("model.")` reads
    /// `h1.weight` from `model.h1.weight`, the name PyTorch gives it inside a parent module's
    /// attribute `model`. The dot is part of the prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Converts a tensor whose dtype is `F16`, `BF16`, `F32` or `F64` but not the network's
    /// scalar: an `F64`, `F16` or `BF16` file into a `Net<f32>`, an `F32`, `F16` or `BF16`
    /// file into a `Net<f64>`.
    ///
    /// Every value the scalar can hold is loaded exactly (all of them into `f64`; into `f32`
    /// all of `F16` and `BF16`, and the `F64` values that are `f32` values). Other `F64`
    /// values round to the nearest `f32`, ties to even, as `as f32` does (values below `f32`'s
    /// subnormals round to zero). A finite value beyond `f32::MAX` (1e300) is an error,
    /// [`WeightsError::Overflow`], naming the tensor and the element, never a silent
    /// infinity. Infinities and NaNs are kept (as a load without conversion keeps them).
    ///
    /// Without this option, a dtype other than the scalar's is a
    /// [`WeightsError::DtypeMismatch`]. Other dtypes (`I64`, `F8_E4M3`, ...) never convert.
    #[must_use]
    pub fn convert_dtype(mut self) -> Self {
        self.convert_dtype = true;
        self
    }

    /// Whether [`convert_dtype`](Self::convert_dtype) was asked for.
    pub(super) fn converts(&self) -> bool {
        self.convert_dtype
    }

    /// The file's name for each of `tensors`, in their order.
    ///
    /// # Errors
    /// [`WeightsError::UnknownRename`] for a rename matching no tensor,
    /// [`WeightsError::DuplicateFileName`] for two tensors given one name.
    pub(super) fn file_names(&self, tensors: &[TensorInfo]) -> Result<Vec<String>, WeightsError> {
        if let Some((from, _)) = self
            .renames
            .iter()
            .find(|(from, _)| !tensors.iter().any(|info| rest(info.name, from).is_some()))
        {
            let mut available: Vec<(usize, &str)> = tensors
                .iter()
                .map(|info| (edit_distance(from, info.name), info.name))
                .collect();
            available.sort_by_key(|&(distance, _)| distance);
            return Err(WeightsError::UnknownRename {
                from: from.clone(),
                available: available.into_iter().map(|(_, name)| name.into()).collect(),
            });
        }

        let names: Vec<String> = tensors
            .iter()
            .map(|info| self.file_name(info.name))
            .collect();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, name) in names.iter().enumerate() {
            if let Some(&first) = seen.get(name.as_str()) {
                return Err(WeightsError::DuplicateFileName {
                    first: tensors[first].name.into(),
                    second: tensors[index].name.into(),
                    file_name: name.clone(),
                });
            }
            seen.insert(name, index);
        }
        Ok(names)
    }

    /// The file's name for the network's tensor `name`: the longest matching rename applied,
    /// then the prefix.
    fn file_name(&self, name: &str) -> String {
        let renamed = self
            .renames
            .iter()
            .filter_map(|(from, to)| Some((from.len(), to, rest(name, from)?)))
            .max_by_key(|&(len, _, _)| len)
            .map_or_else(|| name.to_owned(), |(_, to, rest)| format!("{to}{rest}"));
        format!("{}{renamed}", self.prefix)
    }
}

/// What follows `from` in `name` if `from` is `name` or its first dot-separated parts
/// (`rest("h1.weight", "h1")` is `Some(".weight")`, `rest("h10.weight", "h1")` is `None`).
fn rest<'a>(name: &'a str, from: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(from)?;
    (rest.is_empty() || rest.starts_with('.')).then_some(rest)
}
