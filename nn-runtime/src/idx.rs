//! IDX files, the format of MNIST: read images and labels (plain or gzipped) into a
//! [`Dataset`].
//!
//! An IDX file is a big-endian header, then the data in row-major order: the magic number
//! `0x0000TTDD` (two zero bytes, the type `TT`, the number of dimensions `DD`), one `u32` per
//! dimension, then the items. MNIST uses unsigned bytes (`TT = 0x08`): images are
//! `0x00000803` (`[count, rows, columns]`), labels `0x00000801` (`[count]`). A file that starts
//! with the gzip magic `1f 8b` is decompressed as it is read, whatever its name.
//!
//! Every check reports the file and what is wrong with it (an [`IdxError`]): a wrong magic
//! number, a file shorter or longer than its header declares, images of the wrong size, image
//! and label files of different lengths, a label out of range, a missing file. Nothing here
//! panics on bad input.
//!
//! # Examples
//!
//! Two 28×28 images and their labels, written as MNIST's four files and loaded back:
//!
//! ```
//! use nn_runtime::idx;
//!
//! let dir = std::env::temp_dir().join(format!("idx-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let images = |count: u32| {
//!     let mut bytes = [0x0000_0803, count, 28, 28].map(u32::to_be_bytes).concat();
//!     bytes.extend((0..count as usize * 784).map(|i| (i % 256) as u8));
//!     bytes
//! };
//! let labels = |classes: &[u8]| {
//!     let mut bytes = [0x0000_0801, classes.len() as u32].map(u32::to_be_bytes).concat();
//!     bytes.extend_from_slice(classes);
//!     bytes
//! };
//! std::fs::write(dir.join("train-images-idx3-ubyte"), images(2))?;
//! std::fs::write(dir.join("train-labels-idx1-ubyte"), labels(&[3, 9]))?;
//! std::fs::write(dir.join("t10k-images-idx3-ubyte"), images(1))?;
//! std::fs::write(dir.join("t10k-labels-idx1-ubyte"), labels(&[7]))?;
//!
//! let mnist = idx::load_mnist(&dir)?;
//! assert_eq!((mnist.train.len(), mnist.test.len()), (2, 1));
//! assert_eq!(mnist.train.inputs[(255, 0)], 1.0); // pixels scaled to [0, 1]
//! assert_eq!(mnist.train.targets[(9, 1)], 1.0); // one-hot labels
//!
//! std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte"))?;
//! let error = idx::load_mnist(&dir).unwrap_err();
//! assert!(error.to_string().starts_with("missing MNIST file"));
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

/// Pixels per MNIST image (28×28).
pub const MNIST_PIXELS: usize = 28 * 28;
/// MNIST's classes (the digits 0–9).
pub const MNIST_CLASSES: usize = 10;
/// The four files of an MNIST directory (each may also be gzipped, with `.gz` appended):
/// training images and labels, then test images and labels.
pub const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// An MNIST dataset: 784 pixels in `[0, 1]` per sample, one-hot targets over 10 classes.
pub type MnistDataset = Dataset<f32, MNIST_PIXELS, MNIST_CLASSES>;

/// The images of an IDX file (`0x00000803`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images {
    /// The file they came from (named in errors).
    pub file: PathBuf,
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count × rows × cols` pixels: image after image, each row-major.
    pub pixels: Vec<u8>,
}

/// The labels of an IDX file (`0x00000801`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    /// The file they came from (named in errors).
    pub file: PathBuf,
    /// One label per sample.
    pub labels: Vec<u8>,
}

/// MNIST's training (60 000) and test (10 000) samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Mnist {
    /// The training samples, in file order.
    pub train: MnistDataset,
    /// The test samples, in file order.
    pub test: MnistDataset,
}

/// Why IDX files could not be read or turned into a dataset. Each message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdxError {
    /// The MNIST directory does not exist (or is not a directory).
    #[error(
        "MNIST directory `{}` does not exist or is not a directory; it must hold {}",
        dir.display(),
        ExpectedFiles
    )]
    NoDirectory {
        /// The directory.
        dir: PathBuf,
    },

    /// An MNIST file is in the directory neither plain nor gzipped.
    #[error(
        "missing MNIST file `{}` (or `{}.gz`); the directory must hold {}",
        file.display(),
        file.display(),
        ExpectedFiles
    )]
    Missing {
        /// The path of the plain file that was looked for.
        file: PathBuf,
    },

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

    /// The images do not have the number of pixels the dataset takes.
    #[error(
        "IDX file `{}`: images are {rows}×{cols} ({} pixels) but {expected} pixels per image \
         are expected{}",
        file.display(),
        *rows as u64 * *cols as u64,
        if *expected == MNIST_PIXELS { " (28×28)" } else { "" }
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
    /// The file (or, for [`IdxError::NoDirectory`], the directory) the error is about; the
    /// images file for [`IdxError::CountMismatch`].
    pub fn file(&self) -> &Path {
        match self {
            Self::NoDirectory { dir } => dir,
            Self::Missing { file }
            | Self::Read { file, .. }
            | Self::Gzip { file, .. }
            | Self::Magic { file, .. }
            | Self::Length { file, .. }
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
        let shape = dims
            .iter()
            .map(|d| alloc::format!("{d}"))
            .collect::<Vec<_>>()
            .join("×");
        let declared =
            alloc::format!("its header declares {shape} items, {expected} bytes with the header");
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

/// The list of MNIST's file names, for the messages.
struct ExpectedFiles;

impl fmt::Display for ExpectedFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = MNIST_FILES;
        write!(f, "{a}, {b}, {c} and {d}, each plain or gzipped (`.gz`)")
    }
}

/// Reads an IDX file of images (`0x00000803`, unsigned bytes, `[count, rows, cols]`),
/// decompressing it if it is gzipped.
pub fn read_images(path: impl AsRef<Path>) -> Result<Images, IdxError> {
    let path = path.as_ref();
    let (dims, pixels) = read_idx(path, IMAGES_MAGIC)?;
    let [count, rows, cols] = [dims[0], dims[1], dims[2]].map(|d| d as usize);
    Ok(Images {
        file: path.to_path_buf(),
        count,
        rows,
        cols,
        pixels,
    })
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

/// The path of MNIST file `name` in `dir`: `dir/name` if it exists, else `dir/name.gz`.
///
/// Errors: [`IdxError::NoDirectory`] if `dir` is not a directory, [`IdxError::Missing`] if
/// neither file exists.
pub fn mnist_file(dir: impl AsRef<Path>, name: &str) -> Result<PathBuf, IdxError> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(IdxError::NoDirectory {
            dir: dir.to_path_buf(),
        });
    }
    let plain = dir.join(name);
    if plain.exists() {
        return Ok(plain);
    }
    let gzipped = dir.join(alloc::format!("{name}.gz"));
    if gzipped.exists() {
        return Ok(gzipped);
    }
    Err(IdxError::Missing { file: plain })
}

/// Loads MNIST from `dir`, which holds the four files of [`MNIST_FILES`], each plain or
/// gzipped (`.gz`): the training and test sets, pixels in `[0, 1]`, one-hot targets.
///
/// Every file is found before any is read, so a missing one is reported at once.
pub fn load_mnist(dir: impl AsRef<Path>) -> Result<Mnist, IdxError> {
    let dir = dir.as_ref();
    let mut paths = Vec::with_capacity(MNIST_FILES.len());
    for name in MNIST_FILES {
        paths.push(mnist_file(dir, name)?);
    }
    let train = dataset(&read_images(&paths[0])?, &read_labels(&paths[1])?)?;
    let test = dataset(&read_images(&paths[2])?, &read_labels(&paths[3])?)?;
    Ok(Mnist { train, test })
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

    // Reads one byte past the declared data, to tell an exact length from a longer one,
    // without trusting the header for an allocation.
    let limit = u64::try_from(items).unwrap_or(u64::MAX).saturating_add(1);
    let mut data = Vec::with_capacity(items.min(1 << 26) as usize);
    let mut taken = source.take(limit);
    taken.read_to_end(&mut data).map_err(stream_error)?;
    let mut actual = data.len() as u64;
    if (data.len() as u128) > items {
        actual += io::copy(&mut taken.into_inner(), &mut io::sink()).map_err(stream_error)?;
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

/// Fills as much of `buf` as `source` has; returns how much that was.
fn read_up_to(source: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
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
mod tests {
    use std::io::Write;

    use super::*;

    /// A fresh directory under the system's temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            // Each test uses its own name; the process id keeps concurrent runs apart.
            let dir =
                std::env::temp_dir().join(alloc::format!("nn-idx-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(data);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn write(path: &Path, bytes: &[u8]) -> PathBuf {
        std::fs::write(path, bytes).unwrap();
        path.to_path_buf()
    }

    /// `count` 2×2 images whose pixels are `0, 1, 2, ...`.
    fn tiny_images(count: u32) -> Vec<u8> {
        let data: Vec<u8> = (0..count * 4).map(|i| (i * 17 % 256) as u8).collect();
        idx_bytes(IMAGES_MAGIC, &[count, 2, 2], &data)
    }

    #[test]
    fn plain_and_gzipped_files_round_trip() {
        let dir = TempDir::new("round-trip");
        let bytes = tiny_images(3);
        let labels = idx_bytes(LABELS_MAGIC, &[3], &[2, 0, 1]);
        for gzipped in [false, true] {
            let (images_file, labels_file) = if gzipped {
                (
                    write(&dir.path("images.gz"), &gzip(&bytes)),
                    write(&dir.path("labels.gz"), &gzip(&labels)),
                )
            } else {
                (
                    write(&dir.path("images"), &bytes),
                    write(&dir.path("labels"), &labels),
                )
            };
            let images = read_images(&images_file).unwrap();
            assert_eq!((images.count, images.rows, images.cols), (3, 2, 2));
            assert_eq!(images.pixels, &bytes[16..]);
            assert_eq!(images.file, images_file);
            let labels = read_labels(&labels_file).unwrap();
            assert_eq!(labels.labels, [2, 0, 1]);

            let data: Dataset<f32, 4, 3> = dataset(&images, &labels).unwrap();
            assert_eq!(data.len(), 3);
            for sample in 0..3 {
                for pixel in 0..4 {
                    let raw = images.pixels[sample * 4 + pixel];
                    assert_eq!(data.inputs[(pixel, sample)], f32::from(raw) / 255.0);
                }
                for class in 0..3 {
                    let hot = usize::from(labels.labels[sample]) == class;
                    assert_eq!(data.targets[(class, sample)], f32::from(u8::from(hot)));
                }
            }
        }
    }

    #[test]
    fn pixels_are_scaled_to_the_unit_interval() {
        let dir = TempDir::new("scale");
        let images = write(
            &dir.path("images"),
            &idx_bytes(IMAGES_MAGIC, &[1, 1, 2], &[0, 255]),
        );
        let labels = write(&dir.path("labels"), &idx_bytes(LABELS_MAGIC, &[1], &[0]));
        let data: Dataset<f64, 2, 1> =
            dataset(&read_images(images).unwrap(), &read_labels(labels).unwrap()).unwrap();
        assert_eq!(data.inputs.as_slice(), [0.0, 1.0]);
    }

    #[test]
    fn wrong_magic_names_found_and_expected() {
        let dir = TempDir::new("magic");
        let labels = write(&dir.path("labels"), &idx_bytes(LABELS_MAGIC, &[1], &[0]));
        let error = read_images(&labels).unwrap_err();
        assert_eq!(
            error.to_string(),
            alloc::format!(
                "IDX file `{}`: magic number 0x00000801 (unsigned bytes, 1 dimension) but \
                 expected 0x00000803 (unsigned bytes, 3 dimensions)",
                labels.display()
            )
        );
        let png = write(&dir.path("png"), b"\x89PNG\r\n\x1a\n");
        let error = read_labels(&png).unwrap_err();
        assert_eq!(
            error.to_string(),
            alloc::format!(
                "IDX file `{}`: magic number 0x89504e47 (not an IDX file) but expected \
                 0x00000801 (unsigned bytes, 1 dimension)",
                png.display()
            )
        );
        assert!(matches!(
            error,
            IdxError::Magic {
                found: 0x8950_4e47,
                expected: LABELS_MAGIC,
                ..
            }
        ));
    }

    #[test]
    fn truncated_data_says_expected_and_actual_bytes() {
        let dir = TempDir::new("truncated");
        let bytes = tiny_images(3);
        let cut = &bytes[..bytes.len() - 5];
        let plain = write(&dir.path("images"), cut);
        assert_eq!(
            read_images(&plain).unwrap_err().to_string(),
            alloc::format!(
                "IDX file `{}`: truncated: 23 bytes, but its header declares 3×2×2 items, \
                 28 bytes with the header (5 missing)",
                plain.display()
            )
        );
        let gzipped = write(&dir.path("images.gz"), &gzip(cut));
        assert_eq!(
            read_images(&gzipped).unwrap_err().to_string(),
            alloc::format!(
                "IDX file `{}`: truncated: 23 bytes (decompressed), but its header declares \
                 3×2×2 items, 28 bytes with the header (5 missing)",
                gzipped.display()
            )
        );
    }

    #[test]
    fn truncated_header_says_expected_and_actual_bytes() {
        let dir = TempDir::new("header");
        let bytes = tiny_images(1);
        let cut = write(&dir.path("images"), &bytes[..10]);
        assert_eq!(
            read_images(&cut).unwrap_err().to_string(),
            alloc::format!(
                "IDX file `{}`: truncated: 10 bytes, but the header alone needs 16",
                cut.display()
            )
        );
        let empty = write(&dir.path("empty"), &[]);
        assert_eq!(
            read_labels(&empty).unwrap_err().to_string(),
            alloc::format!(
                "IDX file `{}`: truncated: 0 bytes, but the header alone needs 4",
                empty.display()
            )
        );
        let one = write(&dir.path("one"), &[0x1f]);
        assert_eq!(
            read_labels(&one).unwrap_err().to_string(),
            alloc::format!(
                "IDX file `{}`: truncated: 1 bytes, but the header alone needs 4",
                one.display()
            )
        );
    }

    #[test]
    fn bytes_after_the_data_are_an_error() {
        let dir = TempDir::new("long");
        let labels = write(
            &dir.path("labels"),
            &idx_bytes(LABELS_MAGIC, &[2], &[1, 2, 3, 4]),
        );
        assert_eq!(
            read_labels(&labels).unwrap_err().to_string(),
            alloc::format!(
                "IDX file `{}`: 12 bytes, but its header declares 2 items, 10 bytes with the header (2 too many)",
                labels.display()
            )
        );
    }

    #[test]
    fn a_huge_header_is_reported_not_allocated() {
        let dir = TempDir::new("huge");
        let images = write(
            &dir.path("images"),
            &idx_bytes(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[1, 2]),
        );
        let error = read_images(&images).unwrap_err();
        assert_eq!(
            error.to_string(),
            alloc::format!(
                "IDX file `{}`: truncated: 18 bytes, but its header declares \
                 4294967295×4294967295×4294967295 items, \
                 79228162458924105385300197391 bytes with the header (79228162458924105385300197373 missing)",
                images.display()
            )
        );
    }

    #[test]
    fn corrupt_gzip_is_reported() {
        let dir = TempDir::new("gzip");
        let compressed = gzip(&tiny_images(40));
        let cut = write(&dir.path("cut.gz"), &compressed[..compressed.len() / 2]);
        let error = read_images(&cut).unwrap_err();
        assert!(matches!(error, IdxError::Gzip { .. }), "{error}");
        assert!(
            error.to_string().starts_with(&alloc::format!(
                "IDX file `{}`: invalid gzip data: ",
                cut.display()
            )),
            "{error}"
        );
        let garbage = write(&dir.path("garbage.gz"), &[0x1f, 0x8b, 0, 0, 0, 0]);
        let error = read_images(&garbage).unwrap_err();
        assert!(matches!(error, IdxError::Gzip { .. }), "{error}");
        // Bytes after the gzip stream are not silently dropped.
        let mut trailing = gzip(&tiny_images(2));
        trailing.extend_from_slice(b"junk");
        let trailing = write(&dir.path("trailing.gz"), &trailing);
        let error = read_images(&trailing).unwrap_err();
        assert!(matches!(error, IdxError::Gzip { .. }), "{error}");
        // Two gzip members are one stream, as for gunzip.
        let bytes = tiny_images(2);
        let mut members = gzip(&bytes[..10]);
        members.extend(gzip(&bytes[10..]));
        let members = write(&dir.path("members.gz"), &members);
        assert_eq!(read_images(&members).unwrap().pixels, &bytes[16..]);
    }

    #[test]
    fn images_of_the_wrong_size_are_named() {
        let dir = TempDir::new("dims");
        let images = write(&dir.path("images"), &tiny_images(1));
        let labels = write(&dir.path("labels"), &idx_bytes(LABELS_MAGIC, &[1], &[0]));
        let (images, labels) = (read_images(images).unwrap(), read_labels(labels).unwrap());
        let error = dataset::<f32, MNIST_PIXELS, 10>(&images, &labels).unwrap_err();
        assert_eq!(
            error.to_string(),
            alloc::format!(
                "IDX file `{}`: images are 2×2 (4 pixels) but 784 pixels per image are \
                 expected (28×28)",
                images.file.display()
            )
        );
        let error = dataset::<f32, 5, 10>(&images, &labels).unwrap_err();
        assert_eq!(
            error.to_string(),
            alloc::format!(
                "IDX file `{}`: images are 2×2 (4 pixels) but 5 pixels per image are expected",
                images.file.display()
            )
        );
    }

    #[test]
    fn image_and_label_counts_must_agree() {
        let dir = TempDir::new("counts");
        let images = write(&dir.path("images"), &tiny_images(3));
        let labels = write(&dir.path("labels"), &idx_bytes(LABELS_MAGIC, &[2], &[0, 1]));
        let error = dataset::<f32, 4, 10>(
            &read_images(&images).unwrap(),
            &read_labels(&labels).unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            alloc::format!(
                "images file `{}` has 3 images but labels file `{}` has 2 labels",
                images.display(),
                labels.display()
            )
        );
    }

    #[test]
    fn labels_must_be_below_the_class_count() {
        let dir = TempDir::new("label");
        let images = write(&dir.path("images"), &tiny_images(3));
        let labels = write(
            &dir.path("labels"),
            &idx_bytes(LABELS_MAGIC, &[3], &[9, 10, 255]),
        );
        let error = dataset::<f32, 4, 10>(
            &read_images(&images).unwrap(),
            &read_labels(&labels).unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            alloc::format!(
                "IDX file `{}`: label 10 of sample 1 is out of range for 10 classes (labels 0..10)",
                labels.display()
            )
        );
    }

    #[test]
    fn unreadable_file_is_named() {
        let dir = TempDir::new("unreadable");
        let missing = dir.path("nothing");
        let error = read_images(&missing).unwrap_err();
        assert!(matches!(error, IdxError::Read { .. }));
        assert!(
            error.to_string().starts_with(&alloc::format!(
                "cannot read IDX file `{}`: ",
                missing.display()
            )),
            "{error}"
        );
    }

    /// Writes MNIST's four files with `train` and `test` samples of 28×28, some gzipped.
    fn write_mnist(dir: &TempDir, train: u32, test: u32) {
        let images = |count: u32| {
            let data: Vec<u8> = (0..count as usize * MNIST_PIXELS)
                .map(|i| (i % 256) as u8)
                .collect();
            idx_bytes(IMAGES_MAGIC, &[count, 28, 28], &data)
        };
        let labels = |count: u32| {
            let data: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
            idx_bytes(LABELS_MAGIC, &[count], &data)
        };
        write(
            &dir.path("train-images-idx3-ubyte.gz"),
            &gzip(&images(train)),
        );
        write(&dir.path("train-labels-idx1-ubyte"), &labels(train));
        write(&dir.path("t10k-images-idx3-ubyte"), &images(test));
        write(&dir.path("t10k-labels-idx1-ubyte.gz"), &gzip(&labels(test)));
    }

    #[test]
    fn mnist_directory_loads_plain_and_gzipped_files() {
        let dir = TempDir::new("mnist");
        write_mnist(&dir, 12, 5);
        let mnist = load_mnist(&dir.0).unwrap();
        assert_eq!((mnist.train.len(), mnist.test.len()), (12, 5));
        assert_eq!(mnist.train.inputs[(255, 0)], 1.0);
        assert_eq!(mnist.train.inputs[(0, 1)], 16.0 / 255.0);
        assert_eq!(mnist.test.targets.column(4).iamax(), 4);
        assert_eq!(mnist.train.targets.column(11).iamax(), 1);
        assert_eq!(mnist.train.targets.sum(), 12.0);
    }

    #[test]
    fn missing_mnist_file_names_the_path_and_the_expected_names() {
        let dir = TempDir::new("missing");
        write_mnist(&dir, 2, 1);
        std::fs::remove_file(dir.path("t10k-images-idx3-ubyte")).unwrap();
        let error = load_mnist(&dir.0).unwrap_err();
        let expected = dir.path("t10k-images-idx3-ubyte");
        assert_eq!(
            error.to_string(),
            alloc::format!(
                "missing MNIST file `{0}` (or `{0}.gz`); the directory must hold \
                 train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and \
                 t10k-labels-idx1-ubyte, each plain or gzipped (`.gz`)",
                expected.display()
            )
        );
        assert_eq!(error.file(), expected);
    }

    #[test]
    fn missing_mnist_directory_is_named() {
        let dir = TempDir::new("no-dir");
        let absent = dir.path("absent");
        assert_eq!(
            load_mnist(&absent).unwrap_err().to_string(),
            alloc::format!(
                "MNIST directory `{}` does not exist or is not a directory; it must hold \
                 train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and \
                 t10k-labels-idx1-ubyte, each plain or gzipped (`.gz`)",
                absent.display()
            )
        );
    }

    #[test]
    fn mnist_errors_name_the_bad_file() {
        let dir = TempDir::new("mnist-bad");
        write_mnist(&dir, 3, 2);
        let labels = dir.path("train-labels-idx1-ubyte");
        write(&labels, &idx_bytes(LABELS_MAGIC, &[3], &[0, 1, 12]));
        let error = load_mnist(&dir.0).unwrap_err();
        assert_eq!(
            error.to_string(),
            alloc::format!(
                "IDX file `{}`: label 12 of sample 2 is out of range for 10 classes (labels 0..10)",
                labels.display()
            )
        );
    }
}
