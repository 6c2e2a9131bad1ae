//! MNIST for the examples and tests: its four file names, finding them in a directory (plain
//! or gzipped), and loading the training and test sets with `nn_runtime::idx`.

use std::fmt;
use std::path::{Path, PathBuf};

use nn_runtime::data::Dataset;
use nn_runtime::idx::{self, IdxError};

/// Pixels per MNIST image (28×28).
pub const PIXELS: usize = 28 * 28;
/// MNIST's classes (the digits 0–9).
pub const CLASSES: usize = 10;
/// The four files of an MNIST directory (each may also be gzipped, with `.gz` appended):
/// training images and labels, then test images and labels.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// An MNIST dataset: 784 pixels in `[0, 1]` per sample, one-hot targets over 10 classes.
pub type MnistDataset = Dataset<f32, PIXELS, CLASSES>;

/// MNIST's training (60 000) and test (10 000) samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Mnist {
    /// The training samples, in file order.
    pub train: MnistDataset,
    /// The test samples, in file order.
    pub test: MnistDataset,
}

/// Why an MNIST directory could not be loaded. Each message names the directory or file.
#[derive(Debug)]
pub enum MnistError {
    /// The directory does not exist (or is not a directory).
    NoDirectory {
        /// The directory.
        dir: PathBuf,
    },
    /// A file is in the directory neither plain nor gzipped.
    Missing {
        /// The path of the plain file that was looked for.
        file: PathBuf,
    },
    /// A file is there but is not a valid IDX file of MNIST's shape.
    Idx(IdxError),
}

impl MnistError {
    /// The file (or, for [`MnistError::NoDirectory`], the directory) the error is about.
    pub fn file(&self) -> &Path {
        match self {
            Self::NoDirectory { dir } => dir,
            Self::Missing { file } => file,
            Self::Idx(error) => error.file(),
        }
    }
}

impl fmt::Display for MnistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = FILES;
        let expected = format!("{a}, {b}, {c} and {d}, each plain or gzipped (`.gz`)");
        match self {
            Self::NoDirectory { dir } => write!(
                f,
                "MNIST directory `{}` does not exist or is not a directory; it must hold \
                 {expected}",
                dir.display()
            ),
            Self::Missing { file } => write!(
                f,
                "missing MNIST file `{0}` (or `{0}.gz`); the directory must hold {expected}",
                file.display()
            ),
            Self::Idx(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for MnistError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Idx(error) => error.source(),
            _ => None,
        }
    }
}

impl From<IdxError> for MnistError {
    fn from(error: IdxError) -> Self {
        Self::Idx(error)
    }
}

/// The path of MNIST file `name` in `dir`: `dir/name` if it exists, else `dir/name.gz`.
///
/// Errors: [`MnistError::NoDirectory`] if `dir` is not a directory, [`MnistError::Missing`]
/// if neither file exists.
pub fn find_file(dir: impl AsRef<Path>, name: &str) -> Result<PathBuf, MnistError> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(MnistError::NoDirectory {
            dir: dir.to_path_buf(),
        });
    }
    let plain = dir.join(name);
    if plain.exists() {
        return Ok(plain);
    }
    let gzipped = dir.join(format!("{name}.gz"));
    if gzipped.exists() {
        return Ok(gzipped);
    }
    Err(MnistError::Missing { file: plain })
}

/// Loads MNIST from `dir`, which holds the four files of [`FILES`], each plain or gzipped
/// (`.gz`): the training and test sets, pixels in `[0, 1]`, one-hot targets.
///
/// Every file is found before any is read, so a missing one is reported at once.
pub fn load(dir: impl AsRef<Path>) -> Result<Mnist, MnistError> {
    let dir = dir.as_ref();
    let [train_images, train_labels, test_images, test_labels] = FILES;
    let paths = [
        find_file(dir, train_images)?,
        find_file(dir, train_labels)?,
        find_file(dir, test_images)?,
        find_file(dir, test_labels)?,
    ];
    let set = |images: &Path, labels: &Path| -> Result<MnistDataset, IdxError> {
        idx::dataset(&idx::read_images(images)?, &idx::read_labels(labels)?)
    };
    Ok(Mnist {
        train: set(&paths[0], &paths[1])?,
        test: set(&paths[2], &paths[3])?,
    })
}

pub mod example;

#[cfg(test)]
mod tests;
