//! IDX files, the format of MNIST: read images and labels (plain or gzipped) into a
//! [`Dataset`]. (Finding and loading MNIST's four files is the examples' business: see
//! `examples/mnist.rs` and the root package's `mnist` module.)
//!
//! An IDX file is a big-endian header, then the data in row-major order: the magic number
//! `0x0000TTDD` (two zero bytes, the type `TT`, the number of dimensions `DD`), one `u32` per
//! dimension, then the items. MNIST uses unsigned bytes (`TT = 0x08`): images are
//! `0x00000803` (`[count, rows, columns]`), labels `0x00000801` (`[count]`). A file that starts
//! with the gzip magic `1f 8b` is decompressed as it is read, whatever its name.
//!
//! Every check reports the file and what is wrong with it (an [`IdxError`]): a wrong magic
//! number, a file shorter or longer than its header declares, images of the wrong size, image
//! and label files of different lengths, a label out of range, a file that cannot be read, a
//! header that declares more than [`MAX_PAYLOAD`]. Nothing here panics on bad input.
//!
//! # Limits
//!
//! A header may declare at most [`MAX_PAYLOAD`] bytes of data (2 GiB; MNIST's largest file
//! holds 47 MB); a larger one is refused before any data is read ([`IdxError::TooLarge`]).
//! The data is read into memory as it arrives, so a file that declares more than it holds
//! costs only what it holds.
//!
//! # Examples
//!
//! Two 2×2 images and their labels, written as IDX files and loaded as a dataset:
//!
//! ```
//! use nn_runtime::data::Dataset;
//! use nn_runtime::idx;
//!
//! let dir = std::env::temp_dir().join(format!("idx-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let mut images = [idx::IMAGES_MAGIC, 2, 2, 2].map(u32::to_be_bytes).concat();
//! images.extend([0, 51, 102, 255, 255, 0, 0, 0]);
//! let mut labels = [idx::LABELS_MAGIC, 2].map(u32::to_be_bytes).concat();
//! labels.extend([3, 1]);
//! std::fs::write(dir.join("images"), images)?;
//! std::fs::write(dir.join("labels"), labels)?;
//!
//! let images = idx::read_images(dir.join("images"))?;
//! assert_eq!((images.count(), images.rows(), images.cols()), (2, 2, 2));
//! let data: Dataset<f32, 4, 5> = idx::dataset(&images, &idx::read_labels(dir.join("labels"))?)?;
//! assert_eq!(data.inputs[(1, 0)], 0.2); // pixels scaled to [0, 1]
//! assert_eq!(data.targets[(3, 0)], 1.0); // one-hot labels
//!
//! let error = idx::read_labels(dir.join("images")).unwrap_err();
//! assert!(error.to_string().ends_with("magic number 0x00000803 (unsigned bytes, 3 dimensions) \
//!                                      but expected 0x00000801 (unsigned bytes, 1 dimension)"));
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::Real;
use crate::data::Dataset;
use crate::linalg::Batch;

/// The magic number of an IDX file of unsigned bytes with 3 dimensions: images.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// The magic number of an IDX file of unsigned bytes with 1 dimension: labels.
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The most bytes of data (after the header) an IDX file may declare: 2 GiB, 45 times
/// MNIST's training images. A larger header is refused before anything is read.
pub const MAX_PAYLOAD: u64 = 1 << 31;

/// The capacity the data starts with and the most it grows by at once: reading never
/// allocates much more than the file has delivered.
const READ_CHUNK: usize = 1 << 16;

/// The images of an IDX file (`0x00000803`): `count` images of `rows × cols` pixels.
///
/// The fields are private so that the pixels always match the count and size; build one with
/// [`read_images`] or [`Images::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images {
    file: PathBuf,
    count: usize,
    rows: usize,
    cols: usize,
    pixels: Vec<u8>,
}

impl Images {
    /// Images from their pixels (image after image, each row-major), named after `file` in
    /// errors.
    ///
    /// Errors: [`IdxError::PixelCount`] unless `pixels` holds `count × rows × cols` bytes.
    pub fn new(
        file: impl Into<PathBuf>,
        count: usize,
        rows: usize,
        cols: usize,
        pixels: Vec<u8>,
    ) -> Result<Self, IdxError> {
        let file = file.into();
        let needed = count.checked_mul(rows).and_then(|n| n.checked_mul(cols));
        if needed != Some(pixels.len()) {
            return Err(IdxError::PixelCount {
                file,
                count,
                rows,
                cols,
                pixels: pixels.len(),
            });
        }
        Ok(Self {
            file,
            count,
            rows,
            cols,
            pixels,
        })
    }

    /// The file they came from (named in errors).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Number of images.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Rows per image.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns per image.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `count × rows × cols` pixels: image after image, each row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }
}

/// The labels of an IDX file (`0x00000801`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    /// The file they came from (named in errors).
    pub file: PathBuf,
    /// One label per sample.
    pub labels: Vec<u8>,
}

/// Why IDX files could not be read or turned into a dataset. Each message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdxError {
    /// The file could not be opened or read.
    #[error("cannot read IDX file `{}`: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },

    /// The file starts with the gzip magic but does not decompress (corrupt or cut short).
    #[error("IDX file `{}`: invalid gzip data: {source}", file.display())]
    Gzip {
        /// The file.
        file: PathBuf,
        /// What the decompressor said.
        source: io::Error,
    },

    /// The file does not start with the magic number expected of it.
    #[error(
        "IDX file `{}`: magic number {} but expected {}",
        file.display(),
        Magic(*found),
        Magic(*expected)
    )]
    Magic {
        /// The file.
        file: PathBuf,
        /// The first four bytes, big-endian.
        found: u32,
        /// [`IMAGES_MAGIC`] or [`LABELS_MAGIC`].
        expected: u32,
    },

    /// The file (decompressed, if gzipped) is shorter or longer than its header declares.
    #[error("IDX file `{}`: {}", file.display(), Length(self))]
    Length {
        /// The file.
        file: PathBuf,
        /// Bytes the header declares (header included); when the header itself is cut
        /// short, the header's length.
        expected: u128,
        /// Bytes in the file (decompressed).
        actual: u64,
        /// The dimensions of the header; empty when the header itself is cut short.
        dims: Vec<u32>,
        /// Whether the file is gzipped (the lengths are then those of the decompressed data).
        gzipped: bool,
    },

    /// The header declares more than [`MAX_PAYLOAD`] bytes of data.
    #[error(
        "IDX file `{}`: its header declares {} items, {declared} bytes of data, over the \
         {MAX_PAYLOAD} bytes (2 GiB) this reader takes; the header is corrupt or this is \
         not an IDX file",
        file.display(),
        Shape(dims)
    )]
    TooLarge {
        /// The file.
        file: PathBuf,
        /// The dimensions of the header.
        dims: Vec<u32>,
        /// Bytes of data they declare (the product of the dimensions).
        declared: u128,
    },

    /// An [`Images`] value was given pixels that do not match its count and size.
    #[error(
        "images `{}`: {count} images of {rows}×{cols} need {} pixels but {pixels} were given",
        file.display(),
        *count as u128 * *rows as u128 * *cols as u128
    )]
    PixelCount {
        /// The file the images are named after.
        file: PathBuf,
        /// Number of images.
        count: usize,
        /// Rows per image.
        rows: usize,
        /// Columns per image.
        cols: usize,
        /// Pixels given.
        pixels: usize,
    },

    /// The images do not have the number of pixels the dataset takes.
    #[error(
        "IDX file `{}`: images are {rows}×{cols} ({} pixels) but {expected} pixels per image \
         are expected{}",
        file.display(),
        *rows as u64 * *cols as u64,
        Square(*expected)
    )]
    Dimensions {
        /// The images file.
        file: PathBuf,
        /// Rows per image.
        rows: usize,
        /// Columns per image.
        cols: usize,
        /// Pixels per image that the dataset takes.
        expected: usize,
    },

    /// The images and labels files hold different numbers of samples.
    #[error(
        "images file `{}` has {images} images but labels file `{}` has {labels} labels",
        images_file.display(),
        labels_file.display()
    )]
    CountMismatch {
        /// The images file.
        images_file: PathBuf,
        /// Images in it.
        images: usize,
        /// The labels file.
        labels_file: PathBuf,
        /// Labels in it.
        labels: usize,
    },

    /// A label is not below the number of classes.
    #[error(
        "IDX file `{}`: label {label} of sample {index} is out of range for {classes} classes \
         (labels 0..{classes})",
        file.display()
    )]
    Label {
        /// The labels file.
        file: PathBuf,
        /// The sample, from 0.
        index: usize,
        /// The label.
        label: u8,
        /// The number of classes.
        classes: usize,
    },
}

impl IdxError {
    /// The file the error is about; the images file for [`IdxError::CountMismatch`].
    pub fn file(&self) -> &Path {
        match self {
            Self::Read { file, .. }
            | Self::Gzip { file, .. }
            | Self::Magic { file, .. }
            | Self::Length { file, .. }
            | Self::TooLarge { file, .. }
            | Self::PixelCount { file, .. }
            | Self::Dimensions { file, .. }
            | Self::Label { file, .. } => file,
            Self::CountMismatch { images_file, .. } => images_file,
        }
    }
}

/// `0x00000803 (unsigned bytes, 3 dimensions)`, or what else the number is.
struct Magic(u32);

impl fmt::Display for Magic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [zero1, zero2, kind, dims] = self.0.to_be_bytes();
        write!(f, "0x{:08x} ", self.0)?;
        let kind = match kind {
            0x08 => "unsigned bytes",
            0x09 => "signed bytes",
            0x0b => "i16",
            0x0c => "i32",
            0x0d => "f32",
            0x0e => "f64",
            _ => "",
        };
        if zero1 != 0 || zero2 != 0 || kind.is_empty() {
            return write!(f, "(not an IDX file)");
        }
        let plural = if dims == 1 { "" } else { "s" };
        write!(f, "({kind}, {dims} dimension{plural})")
    }
}

/// The message of [`IdxError::Length`].
struct Length<'a>(&'a IdxError);

impl fmt::Display for Length<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let IdxError::Length {
            expected,
            actual,
            dims,
            gzipped,
            ..
        } = self.0
        else {
            return Ok(());
        };
        let decompressed = if *gzipped { " (decompressed)" } else { "" };
        if dims.is_empty() {
            return write!(
                f,
                "truncated: {actual} bytes{decompressed}, but the header alone needs {expected}"
            );
        }
        let declared = alloc::format!(
            "its header declares {} items, {expected} bytes with the header",
            Shape(dims)
        );
        let actual = u128::from(*actual);
        if actual < *expected {
            write!(
                f,
                "truncated: {actual} bytes{decompressed}, but {declared} ({} missing)",
                expected - actual
            )
        } else {
            write!(
                f,
                "{actual} bytes{decompressed}, but {declared} ({} too many)",
                actual - expected
            )
        }
    }
}

/// Dimensions as `60000×28×28`.
struct Shape<'a>(&'a [u32]);

impl fmt::Display for Shape<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "×" };
            write!(f, "{sep}{d}")?;
        }
        Ok(())
    }
}

/// ` (28×28)` after a pixel count that is a square, else nothing.
struct Square(usize);

impl fmt::Display for Square {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = (self.0 as f64).sqrt().round() as usize;
        if side > 1 && side * side == self.0 {
            write!(f, " ({side}×{side})")?;
        }
        Ok(())
    }
}

/// Reads an IDX file of images (`0x00000803`, unsigned bytes, `[count, rows, cols]`),
/// decompressing it if it is gzipped.
pub fn read_images(path: impl AsRef<Path>) -> Result<Images, IdxError> {
    let path = path.as_ref();
    let (dims, pixels) = read_idx(path, IMAGES_MAGIC)?;
    let [count, rows, cols] = [dims[0], dims[1], dims[2]].map(|d| d as usize);
    Images::new(path, count, rows, cols, pixels)
}

/// Reads an IDX file of labels (`0x00000801`, unsigned bytes, `[count]`), decompressing it if
/// it is gzipped. The labels are not checked here: [`dataset`] checks them against the number
/// of classes.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Labels, IdxError> {
    let path = path.as_ref();
    let (_, labels) = read_idx(path, LABELS_MAGIC)?;
    Ok(Labels {
        file: path.to_path_buf(),
        labels,
    })
}

/// A classification dataset from `images` and their `labels`: pixels scaled from `0..=255` to
/// `[0, 1]`, labels as one-hot targets over `OUT` classes, in file order.
///
/// Errors: images without `IN` pixels, different numbers of images and labels, a label `>= OUT`.
pub fn dataset<T: Real, const IN: usize, const OUT: usize>(
    images: &Images,
    labels: &Labels,
) -> Result<Dataset<T, IN, OUT>, IdxError> {
    if images.rows.checked_mul(images.cols) != Some(IN) {
        return Err(IdxError::Dimensions {
            file: images.file.clone(),
            rows: images.rows,
            cols: images.cols,
            expected: IN,
        });
    }
    if images.count != labels.labels.len() {
        return Err(IdxError::CountMismatch {
            images_file: images.file.clone(),
            images: images.count,
            labels_file: labels.file.clone(),
            labels: labels.labels.len(),
        });
    }
    if let Some((index, &label)) = labels
        .labels
        .iter()
        .enumerate()
        .find(|&(_, &label)| usize::from(label) >= OUT)
    {
        return Err(IdxError::Label {
            file: labels.file.clone(),
            index,
            label,
            classes: OUT,
        });
    }
    let scale: [T; 256] = core::array::from_fn(|p| T::constant(p as f64 / 255.0));
    // A sample's pixels are contiguous in the file, as a column is in the batch.
    let inputs = Batch::<T, IN>::from_iterator(
        images.count,
        images.pixels.iter().map(|&p| scale[usize::from(p)]),
    );
    let mut targets = Batch::<T, OUT>::zeros(images.count);
    for (sample, &label) in labels.labels.iter().enumerate() {
        targets[(usize::from(label), sample)] = T::one();
    }
    Ok(Dataset { inputs, targets })
}

/// Reads the IDX file at `path`, which must start with `magic` (unsigned bytes): its
/// dimensions and its data, exactly as long as they declare.
fn read_idx(path: &Path, magic: u32) -> Result<(Vec<u32>, Vec<u8>), IdxError> {
    let file = || path.to_path_buf();
    let read_error = |source| IdxError::Read {
        file: file(),
        source,
    };
    let mut buffered = BufReader::new(File::open(path).map_err(read_error)?);
    let gzipped = buffered
        .fill_buf()
        .map_err(read_error)?
        .starts_with(&[0x1f, 0x8b]);
    let mut source: Box<dyn Read> = if gzipped {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let stream_error = |source| match gzipped {
        true => IdxError::Gzip {
            file: file(),
            source,
        },
        false => IdxError::Read {
            file: file(),
            source,
        },
    };
    let header_error = |expected: usize, actual: usize| IdxError::Length {
        file: file(),
        expected: expected as u128,
        actual: actual as u64,
        dims: Vec::new(),
        gzipped,
    };

    let mut head = [0u8; 4];
    let got = read_up_to(&mut source, &mut head).map_err(stream_error)?;
    if got < head.len() {
        return Err(header_error(head.len(), got));
    }
    let found = u32::from_be_bytes(head);
    if found != magic {
        return Err(IdxError::Magic {
            file: file(),
            found,
            expected: magic,
        });
    }
    let rank = (magic & 0xff) as usize;
    let mut sizes = alloc::vec![0u8; 4 * rank];
    let got = read_up_to(&mut source, &mut sizes).map_err(stream_error)?;
    if got < sizes.len() {
        return Err(header_error(4 + sizes.len(), 4 + got));
    }
    let dims: Vec<u32> = sizes
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let header = 4 + 4 * rank as u64;
    // At most three factors below 2³²: no overflow in u128.
    let items: u128 = dims.iter().map(|&d| u128::from(d)).product();

    if items > u128::from(MAX_PAYLOAD) {
        return Err(IdxError::TooLarge {
            file: file(),
            dims,
            declared: items,
        });
    }
    let data = read_payload(&mut source, items as usize).map_err(stream_error)?;
    // Count what follows the declared data (without keeping it), to report the length.
    let mut actual = data.len() as u64;
    if data.len() as u128 == items {
        actual += io::copy(&mut source, &mut io::sink()).map_err(stream_error)?;
    }
    if u128::from(actual) != items {
        return Err(IdxError::Length {
            file: file(),
            expected: u128::from(header) + items,
            actual: header + actual,
            dims,
            gzipped,
        });
    }
    Ok((dims, data))
}

/// Reads up to `declared` bytes from `source`, growing the buffer as the bytes arrive (by at
/// most what it already holds, or [`READ_CHUNK`]), so a header that declares more than the
/// file holds costs only what the file holds.
fn read_payload(source: &mut dyn Read, declared: usize) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    while data.len() < declared {
        let start = data.len();
        let want = (declared - start).min(start.max(READ_CHUNK));
        data.reserve_exact(want);
        data.resize(start + want, 0);
        let got = read_up_to(source, &mut data[start..])?;
        data.truncate(start + got);
        if got < want {
            break;
        }
    }
    Ok(data)
}

/// Fills as much of `buf` as `source` has; returns how much that was (also used by `ts`).
pub(crate) fn read_up_to(source: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests;
