//! The error of reading or writing a weight file: one type, one set of messages, for loading
//! at run time (`nn_runtime::io`) and embedding at compile time (`embed!`).

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a weight file could not be saved or loaded.
///
/// Every variant that concerns a file's contents carries `file`: the path when the bytes came
/// from a file (the message then starts with ``weights file `path`: ``; see
/// [`in_file`](Self::in_file)), `None` when they came from memory. Shapes are PyTorch's
/// (`[out, in]` for a weight).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// The file could not be read (missing, unreadable, a directory, ...).
    #[error("cannot read weights file `{}`: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// The file could not be written; an existing file at that path is left as it was.
    #[error("cannot write weights file `{}`: {source}", file.display())]
    Write {
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// The bytes do not start like a safetensors file: the 8-byte little-endian header length
    /// is implausible, or the header is not a JSON object.
    #[error("{}not a safetensors file: {reason}", FileLabel(file))]
    NotSafetensors {
        /// The file, when loading from a path.
        file: Option<PathBuf>,
        /// What is wrong with it.
        reason: String,
    },

    /// The file ends before its header, or before the tensor data its header describes.
    #[error(
        "{}truncated: it has {len} bytes but its header needs {needed}",
        FileLabel(file)
    )]
    Truncated {
        /// The file, when loading from a path.
        file: Option<PathBuf>,
        /// Length of the file in bytes.
        len: u64,
        /// Length it would need to hold what its beginning declares.
        needed: u64,
    },

    /// The header is not a valid safetensors header (bad JSON, unknown dtype, offsets that
    /// overlap or disagree with a shape, bytes after the last tensor, ...).
    #[error("{}corrupt safetensors file: {reason}", FileLabel(file))]
    Corrupt {
        /// The file, when loading from a path.
        file: Option<PathBuf>,
        /// What the safetensors parser (or the length check before it) reported.
        reason: String,
    },

    /// The header's `__metadata__` is not a JSON object.
    #[error(
        "{}`__metadata__` is {found}, but safetensors metadata must be an object of strings \
         such as {{\"format\": \"pt\"}}",
        FileLabel(file)
    )]
    MetadataNotObject {
        /// The file, when loading from a path.
        file: Option<PathBuf>,
        /// What it is instead, in words (`an array`, `null`, `the number 3`).
        found: String,
    },

    /// A value of the header's `__metadata__` is not a string (safetensors allows only strings).
    #[error(
        "{}metadata `{key}` is {found}, but safetensors metadata values must be strings; \
         store it as a string",
        FileLabel(file)
    )]
    MetadataNotString {
        /// The file, when loading from a path.
        file: Option<PathBuf>,
        /// The metadata key (`epochs`).
        key: String,
        /// What the value is instead, in words (`the number 10`, `an array`).
        found: String,
    },

    /// A tensor's dtype is not one a network can be built over (`F32`, `F64`); reported where
    /// the network's scalar is not known yet (`embed!` reading the file).
    #[error(
        "{}tensor `{name}` has dtype {found}, but a network's scalar is F32 or F64; convert the file",
        FileLabel(file)
    )]
    UnsupportedDtype {
        /// The file, when loading from a path.
        file: Option<PathBuf>,
        /// The tensor's name.
        name: String,
        /// The tensor's dtype in the file (`F16`, `BF16`, `I64`, ...).
        found: String,
    },

    /// A parameter of the network has no tensor in the file.
    #[error(
        "{}tensor `{name}` (shape {shape:?}){} is missing from the file, {}",
        FileLabel(file),
        LookedFor(name, looked_for),
        Available::new(available)
    )]
    MissingTensor {
        /// The file, when loading from a path.
        file: Option<PathBuf>,
        /// The parameter's name (`h1.weight`).
        name: String,
        /// The name looked for in the file: `name` after the load's renames and prefix
        /// (`model.0.weight`); the message shows it when it differs from `name`. (A `Box<str>`
        /// keeps the error small.)
        looked_for: Box<str>,
        /// The parameter's PyTorch shape.
        shape: Vec<usize>,
        /// The names of the file's tensors, the closest to `looked_for` first (by edit distance);
        /// the message lists the first [`LISTED_NAMES`].
        available: Vec<String>,
    },

    /// The file has a tensor that is not a parameter of the network.
    #[error(
        "{}unexpected tensor `{name}` (shape {shape:?}): the network has no parameter of that name",
        FileLabel(file)
    )]
    UnexpectedTensor {
        /// The file, when loading from a path.
        file: Option<PathBuf>,
        /// The tensor's name in the file.
        name: String,
        /// The tensor's shape in the file.
        shape: Vec<usize>,
    },

    /// A tensor has the wrong shape.
    #[error(
        "{}tensor `{name}` has shape {found:?} but the network expects {expected:?}",
        FileLabel(file)
    )]
    ShapeMismatch {
        /// The file, when loading from a path.
        file: Option<PathBuf>,
        /// The tensor's name.
        name: String,
        /// The parameter's PyTorch shape.
        expected: Vec<usize>,
        /// The tensor's shape in the file.
        found: Vec<usize>,
    },

    /// A tensor has a different dtype from the network's scalar, and the load does not convert
    /// it: by default nothing is converted (load an `F64` file into a `Net<f64>`, or ask for
    /// conversion), and only the float dtypes of [`FLOAT_DTYPES`](crate::FLOAT_DTYPES) ever are.
    #[error(
        "{}tensor `{name}` has dtype {found} but the network's scalar is {expected}; {}",
        FileLabel(file),
        DtypeFix(found)
    )]
    DtypeMismatch {
        /// The file, when loading from a path.
        file: Option<PathBuf>,
        /// The tensor's name.
        name: String,
        /// The network's dtype, `Real::DTYPE`: `F32` or `F64`.
        expected: &'static str,
        /// The tensor's dtype in the file (`F16`, `BF16`, `F64`, `I64`, ...).
        found: String,
    },

    /// A value of a tensor converted on load is finite in the file but beyond the largest
    /// finite value of the network's scalar (an `F64` 1e300 into `f32`); it would become
    /// infinity.
    #[error(
        "{}tensor `{name}` element {index:?} is {value:e}, which overflows {expected} (largest \
         finite {}); load the file into a network of scalar {found}",
        FileLabel(file),
        Largest(expected)
    )]
    Overflow {
        /// The file, when loading from a path.
        file: Option<PathBuf>,
        /// The tensor's name in the file.
        name: String,
        /// The element's PyTorch index (`[row, column]` of a weight).
        index: Box<[usize]>,
        /// The element's value in the file.
        value: f64,
        /// The network's dtype (`F32`).
        expected: &'static str,
        /// The tensor's dtype in the file (`F64`).
        found: String,
    },

    /// A load or save maps two of the network's tensors to the same name in the file.
    #[error(
        "tensors `{first}` and `{second}` both map to `{file_name}` in the file; give each \
         tensor its own name"
    )]
    DuplicateFileName {
        /// The first of the two tensors, in the network's order (`h1.weight`).
        first: String,
        /// The second (`h2.weight`).
        second: String,
        /// The name both map to (`0.weight`).
        file_name: String,
    },

    /// A rename of a load or save names no tensor or layer of the network.
    #[error(
        "rename `{from}` names no tensor or layer of the network, {}; rename one of those, or a \
         layer such as `{}`",
        Available::new(available).network(),
        available.first().map_or("h1", |name| name.split('.').next().unwrap_or(name))
    )]
    UnknownRename {
        /// What the rename maps from (`h9`, `h1.weigth`).
        from: String,
        /// The network's tensor names, the closest to `from` first.
        available: Vec<String>,
    },
}

// `Result<_, WeightsError>` stays cheap to return (and under clippy's `result_large_err`).
const _: () = assert!(size_of::<WeightsError>() <= 120);

impl WeightsError {
    /// The file the error is about, if it came from a path.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::Read { file, .. } | Self::Write { file, .. } => Some(file),
            Self::NotSafetensors { file, .. }
            | Self::Truncated { file, .. }
            | Self::Corrupt { file, .. }
            | Self::MetadataNotObject { file, .. }
            | Self::MetadataNotString { file, .. }
            | Self::UnsupportedDtype { file, .. }
            | Self::MissingTensor { file, .. }
            | Self::UnexpectedTensor { file, .. }
            | Self::ShapeMismatch { file, .. }
            | Self::DtypeMismatch { file, .. }
            | Self::Overflow { file, .. } => file.as_deref(),
            Self::DuplicateFileName { .. } | Self::UnknownRename { .. } => None,
        }
    }

    /// Records `path` as the file the error is about (for the variants about its contents;
    /// [`Read`](Self::Read) and [`Write`](Self::Write) have one already).
    #[must_use]
    pub fn in_file(mut self, path: &Path) -> Self {
        match &mut self {
            Self::Read { .. }
            | Self::Write { .. }
            | Self::DuplicateFileName { .. }
            | Self::UnknownRename { .. } => {}
            Self::NotSafetensors { file, .. }
            | Self::Truncated { file, .. }
            | Self::Corrupt { file, .. }
            | Self::MetadataNotObject { file, .. }
            | Self::MetadataNotString { file, .. }
            | Self::UnsupportedDtype { file, .. }
            | Self::MissingTensor { file, .. }
            | Self::UnexpectedTensor { file, .. }
            | Self::ShapeMismatch { file, .. }
            | Self::DtypeMismatch { file, .. }
            | Self::Overflow { file, .. } => *file = Some(path.to_path_buf()),
        }
        self
    }
}

/// How many names of the file's tensors a [`WeightsError::MissingTensor`] message lists.
pub const LISTED_NAMES: usize = 10;

/// ``which has `a`, `b` (closest first)``: the start of the list in `available`.
struct Available<'a>(&'a [String], &'static str);

impl<'a> Available<'a> {
    fn new(names: &'a [String]) -> Self {
        Self(names, "which has")
    }

    /// The same list, for the network's tensors: ``whose tensors are `a`, `b` (closest first)``.
    fn network(self) -> Self {
        Self(self.0, "whose tensors are")
    }
}

impl fmt::Display for Available<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((first, rest)) = self.0.split_first() else {
            return write!(f, "{} no tensors", self.1);
        };
        write!(f, "{} `{first}`", self.1)?;
        for name in rest.iter().take(LISTED_NAMES - 1) {
            write!(f, ", `{name}`")?;
        }
        if let Some(more) = self
            .0
            .len()
            .checked_sub(LISTED_NAMES)
            .filter(|&more| more > 0)
        {
            write!(f, " and {more} more")?;
        }
        f.write_str(" (closest first)")
    }
}

/// ``weights file `path`: `` when there is a file, nothing otherwise.
struct FileLabel<'a>(&'a Option<PathBuf>);

impl fmt::Display for FileLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, "weights file `{}`: ", path.display()),
            None => Ok(()),
        }
    }
}

/// ``, looked for as `model.h1.weight`,`` when the name looked for in the file differs from the
/// network's, nothing otherwise.
struct LookedFor<'a>(&'a str, &'a str);

impl fmt::Display for LookedFor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == self.1 {
            return Ok(());
        }
        write!(f, ", looked for as `{}`,", self.1)
    }
}

/// How to load a tensor of dtype `found` into a network of another scalar: convert on load
/// if [`decode`](crate::decode) reads it, otherwise convert the file.
struct DtypeFix<'a>(&'a str);

impl fmt::Display for DtypeFix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if crate::FLOAT_DTYPES.contains(&self.0) {
            f.write_str(
                "load it into a network of the file's scalar type, or convert on load with \
                 `LoadOptions::convert_dtype`",
            )
        } else {
            f.write_str(
                "only F16, BF16, F32 and F64 tensors convert on load; convert the file to one \
                 of those",
            )
        }
    }
}

/// The largest finite value of the dtype `dtype` (`3.4028235e38` for `F32`).
struct Largest<'a>(&'a str);

impl fmt::Display for Largest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            "F32" => write!(f, "{:e}", f32::MAX),
            "F64" => write!(f, "{:e}", f64::MAX),
            other => write!(f, "{other} value"),
        }
    }
}
