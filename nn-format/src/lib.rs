//! The safetensors weight-file format of [`nn-runtime`](https://docs.rs/nn-runtime), written once
//! for both its users: loading and saving at run time (`nn_runtime::io`) and embedding at compile
//! time (`nn_runtime::embed!`, in the proc-macro crate `nn-macros`, which cannot depend on the
//! runtime). Depend on `nn-runtime`, not on this crate directly.
//!
//! A file is `[n: u64 little-endian][n bytes of JSON header, space-padded][tensor data]`; the
//! header maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets
//! into the data section) and `"__metadata__"` to a string-to-string map. Data is row-major
//! (C order, PyTorch's), little-endian.
//!
//! - [`File::parse`] reads a file defensively: it never panics whatever the bytes, and every
//!   failure is a [`WeightsError`] saying what is wrong (naming the tensor or metadata key).
//! - [`header`] writes a header byte for byte as the `safetensors` Python package does, and
//!   deterministically.
//! - [`to_column_major`] and [`to_row_major`] convert a tensor's bytes between the file's
//!   order and nalgebra's.
//!
//! - [`decode`] reads the floating-point dtypes a load may convert from (`F16`, `BF16`, `F32`,
//!   `F64`) exactly into `f64`.
//!
//! Not a general safetensors library: it knows what `nn` networks hold (`F32` or `F64`
//! tensors of rank 1 and 2, see [`Scalar`]).
//!
//! # Examples
//!
//! ```
//! let bytes = nn_format::header("F32", 4, &[("format", "pt")], &[("w", &[2, 1])]);
//! let mut bytes = bytes;
//! bytes.extend([1f32, 2.0].iter().flat_map(|x| x.to_le_bytes()));
//! let file = nn_format::File::parse(&bytes)?;
//! assert_eq!(file.metadata()["format"], "pt");
//! let w = file.tensor("w").expect("written above");
//! assert_eq!((w.dtype.as_str(), w.shape.as_slice()), ("F32", &[2, 1][..]));
//! assert_eq!(w.data.len(), 8);
//! # Ok::<(), nn_format::WeightsError>(())
//! ```

mod convert;
mod error;
mod layout;
mod read;
mod write;

pub use convert::{FLOAT_DTYPES, bf16_to_f64, decode, f16_to_f64};
pub use error::{LISTED_NAMES, WeightsError};
pub use layout::{to_column_major, to_row_major};
pub use read::{File, Tensor};
pub use write::header;

/// Bytes of the header-length prefix.
pub const PREFIX_LEN: usize = 8;

/// The largest header `safetensors` accepts (its `MAX_HEADER_SIZE`); a longer declared header
/// means the bytes are something else.
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// The scalar types a network is built over, as safetensors names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scalar {
    /// `f32`, dtype `F32`.
    F32,
    /// `f64`, dtype `F64`.
    F64,
}

impl Scalar {
    /// The scalar of the safetensors dtype `dtype` (`"F32"`, `"F64"`); `None` for any other.
    pub fn from_dtype(dtype: &str) -> Option<Self> {
        match dtype {
            "F32" => Some(Self::F32),
            "F64" => Some(Self::F64),
            _ => None,
        }
    }

    /// The safetensors dtype name: `"F32"` or `"F64"`.
    pub fn dtype(self) -> &'static str {
        match self {
            Self::F32 => "F32",
            Self::F64 => "F64",
        }
    }

    /// The width of one scalar in bytes: 4 or 8.
    pub fn width(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F64 => 8,
        }
    }
}

#[cfg(test)]
mod tests;
