//! The `.ts` text format of the UEA & UCR time-series classification archive, as sktime reads
//! it: read a file (plain or gzipped) into labelled cases of `channels × steps` values, then
//! into a [`Dataset`] (equal-length cases, flattened) or into sequences of steps
//! (variable-length cases, for a recurrent model).
//!
//! # The format
//!
//! ```text
//! # Comment lines start with `#`; blank lines are ignored.
//! @problemName Tiny
//! @timeStamps false
//! @missing false
//! @univariate false
//! @dimensions 2
//! @equalLength true
//! @seriesLength 3
//! @classLabel true up down
//! @data
//! 1,2,3:10,20,30:up
//! 3,2,1:30,20,10:down
//! ```
//!
//! Headers (`@` lines, the keyword in any ASCII case) come first, each at most once, then
//! `@data`, then one case per line: each dimension's comma-separated values, dimensions
//! separated by `:`, the class label last. Every header is optional but `@classLabel`:
//!
//! | header | takes | this reader |
//! | --- | --- | --- |
//! | `@problemName` | a name | keeps it |
//! | `@timeStamps` | `true`/`false` | rejects `true` (values written as `(t,v)` pairs) |
//! | `@missing` | `true`/`false` | keeps it; a missing value `?` is an error either way |
//! | `@univariate` | `true`/`false` | `true`: every case has 1 dimension |
//! | `@dimensions` | a positive count | every case has that many (else: as many as the first case) |
//! | `@equalLength` | `true`/`false` | `true`: every case is as long as the first |
//! | `@seriesLength` | a positive count | every case has that many steps, unless `@equalLength false` |
//! | `@classLabel` | `true` and the class names, or `false` | a label's index is its position in this list |
//! | `@targetLabel` | `true`/`false` | rejects `true` (regression targets) |
//!
//! Whatever the header says, the dimensions of one case have one length (the case is a
//! `[channels, steps]` array), every case has the same dimensions, and every value is a finite
//! number. A case's label must be one of the declared classes. Each rule broken is a
//! [`TsError`] naming the file and the line (and the case, dimension and value, from 1).
//!
//! Values are parsed as `f64` (correctly rounded) and converted to the network's scalar at the
//! end, as NumPy does when a float64 array becomes float32. Memory is the cases' values
//! (8 bytes each) and one line of text: nothing is allocated from what a header declares.
//!
//! # Examples
//!
//! ```
//! use nn_runtime::data::Dataset;
//! use nn_runtime::ts;
//!
//! let text = "\
//! ## Two cases of 2 channels × 3 steps.
//! @problemName Tiny
//! @dimensions 2
//! @equalLength true
//! @seriesLength 3
//! @classLabel true up down
//! @data
//! 1,2,3:10,20,30:up
//! 3,2,1:30,20,10:down
//! ";
//! let tiny = ts::parse(text, "tiny.ts")?;
//! assert_eq!(tiny.classes(), ["up", "down"]);
//! assert_eq!((tiny.len(), tiny.channels()), (2, 2));
//! let case = &tiny.cases()[1];
//! assert_eq!(case.label(), Some(1)); // `down`
//! assert_eq!(case.channel(1), [30.0, 20.0, 10.0]);
//!
//! // Equal lengths: 2 channels × 3 steps, flattened channels first, one-hot over 2 classes.
//! let data: Dataset<f32, 6, 2> = tiny.dataset()?;
//! assert_eq!(data.inputs.column(0).as_slice(), [1.0, 2.0, 3.0, 10.0, 20.0, 30.0]);
//! assert_eq!(data.labels(), [0, 1]);
//!
//! // Sequences: one 2-wide step after another.
//! let sequences = tiny.sequences::<f32, 2>()?;
//! assert_eq!(sequences[0].steps[2].as_slice(), [3.0, 30.0]);
//!
//! // Mistakes name the file, the line and what to do.
//! let error = ts::parse(&text.replace("10,20,30:up", "10,20:up"), "tiny.ts").unwrap_err();
//! assert_eq!(
//!     error.to_string(),
//!     "`.ts` file `tiny.ts`, line 8: dimension 2 of case 1 has 2 values but dimension 1 \
//!      has 3; the dimensions of a case have the same length"
//! );
//! # Ok::<(), ts::TsError>(())
//! ```

mod error;
mod parse;
#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;
use nalgebra::SVector;

use crate::Real;
use crate::data::Dataset;
use crate::idx::read_up_to;

pub use error::TsError;

/// The headers of a `.ts` file, as declared (`None`: the header is absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// `@problemName`: the dataset's name.
    pub problem_name: Option<String>,
    /// `@timeStamps` (only `false` is read).
    pub timestamps: Option<bool>,
    /// `@missing`: whether the file says it has missing values.
    pub missing: Option<bool>,
    /// `@univariate`.
    pub univariate: Option<bool>,
    /// `@dimensions`.
    pub dimensions: Option<usize>,
    /// `@equalLength`.
    pub equal_length: Option<bool>,
    /// `@seriesLength`.
    pub series_length: Option<usize>,
    /// `@classLabel`: whether every case ends with a class label.
    pub class_label: bool,
    /// The class names `@classLabel true` declares, in order: a label's index is its position
    /// here. Empty for `@classLabel false`.
    pub classes: Vec<String>,
}

/// One case: `channels × steps` values (`[C, L]`, channels first, as PyTorch's `Conv1d` and
/// `torch.flatten` lay them out) and its class.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    line: usize,
    label: Option<usize>,
    steps: usize,
    /// `values[c * steps + t]` is channel `c` at step `t`.
    values: Vec<f64>,
}

impl Case {
    /// The 1-based line of the file the case is on.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The index of its class in [`TsFile::classes`]; `None` in a file with
    /// `@classLabel false`.
    pub fn label(&self) -> Option<usize> {
        self.label
    }

    /// Its channels (the file's dimensions).
    pub fn channels(&self) -> usize {
        self.values.len() / self.steps
    }

    /// Its length: the number of steps of every channel.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// All its values, channels first: `values()[c * steps() + t]` is channel `c` at step
    /// `t`, as `torch.flatten` lays out a `[C, L]` tensor.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The values of channel `c` (from 0), one per step.
    ///
    /// # Panics
    /// If `c >= channels()`.
    pub fn channel(&self, c: usize) -> &[f64] {
        &self.values[c * self.steps..(c + 1) * self.steps]
    }

    /// Step `t` (from 0) as a vector of `C` channels, converted to `T`.
    ///
    /// # Panics
    /// If `t >= steps()` or `C != channels()`.
    pub fn step<T: Real, const C: usize>(&self, t: usize) -> SVector<T, C> {
        assert!(
            C == self.channels() && t < self.steps,
            "step {t} of {C} channels asked of a case of {} channels × {} steps",
            self.channels(),
            self.steps
        );
        SVector::from_fn(|c, _| T::constant(self.values[c * self.steps + t]))
    }
}

/// A case as a sequence of steps, for a recurrent model: `steps[t]` holds the `C` channels at
/// step `t`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence<T: Real, const C: usize> {
    /// The steps, in time order.
    pub steps: Vec<SVector<T, C>>,
    /// The index of its class in [`TsFile::classes`].
    pub label: usize,
}

/// A `.ts` file: its headers and its cases, in file order.
///
/// Every case has [`channels`](Self::channels) channels and at least one step; with
/// `@classLabel true`, each has a label below `classes().len()`.
#[derive(Clone, Debug, PartialEq)]
pub struct TsFile {
    file: PathBuf,
    header: Header,
    channels: usize,
    cases: Vec<Case>,
}

impl TsFile {
    /// The file it was read from (the name given to [`parse`] or [`from_reader`]).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Its headers.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The class names, in declared order: a label is an index into this list.
    pub fn classes(&self) -> &[String] {
        &self.header.classes
    }

    /// The cases, in file order.
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// The number of cases (at least 1).
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether there are no cases: never, a file without cases is an error.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// The channels (dimensions) of every case.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The shortest and the longest case's number of steps.
    pub fn length_range(&self) -> (usize, usize) {
        let lengths = self.cases.iter().map(Case::steps);
        let shortest = lengths.clone().min().unwrap_or(0);
        (shortest, lengths.max().unwrap_or(0))
    }

    /// The length of every case, if they all have the same.
    pub fn series_length(&self) -> Option<usize> {
        let (shortest, longest) = self.length_range();
        (shortest == longest).then_some(shortest)
    }

    /// The cases as a classification dataset: case `i`, flattened channels first
    /// (`x[c * L + t]`, as `torch.flatten` of `[C, L]`), is column `i` of the inputs, its
    /// class one-hot in column `i` of the targets.
    ///
    /// Needs labels, cases of one length `L`, `IN == C × L` and `OUT` = the number of
    /// classes; else a [`TsError`] saying which.
    pub fn dataset<T: Real, const IN: usize, const OUT: usize>(
        &self,
    ) -> Result<Dataset<T, IN, OUT>, TsError> {
        let labels = self.labels()?;
        let (shortest, longest) = self.length_range();
        if shortest != longest {
            return Err(TsError::VariableLength {
                file: self.file.clone(),
                shortest,
                longest,
            });
        }
        if IN != self.channels * shortest {
            return Err(TsError::Width {
                file: self.file.clone(),
                channels: self.channels,
                steps: shortest,
                expected: IN,
            });
        }
        self.check_classes(OUT)?;
        let rows: Vec<Vec<T>> = self
            .cases
            .iter()
            .map(|case| case.values.iter().map(|&v| T::constant(v)).collect())
            .collect();
        Dataset::classification(&rows, &labels).map_err(|source| TsError::Data {
            file: self.file.clone(),
            source,
        })
    }

    /// The cases as sequences of `C`-channel steps with their labels, whatever their
    /// lengths.
    ///
    /// Needs labels and `C` = the file's channels; else a [`TsError`] saying which.
    pub fn sequences<T: Real, const C: usize>(&self) -> Result<Vec<Sequence<T, C>>, TsError> {
        let labels = self.labels()?;
        if C != self.channels {
            return Err(TsError::Channels {
                file: self.file.clone(),
                channels: self.channels,
                expected: C,
            });
        }
        let sequences = self.cases.iter().zip(labels).map(|(case, label)| Sequence {
            steps: (0..case.steps).map(|t| case.step(t)).collect(),
            label,
        });
        Ok(sequences.collect())
    }

    /// Every case's label, or why there are none.
    fn labels(&self) -> Result<Vec<usize>, TsError> {
        let labels: Option<Vec<usize>> = self.cases.iter().map(Case::label).collect();
        labels.ok_or_else(|| TsError::Unlabelled {
            file: self.file.clone(),
        })
    }

    /// Checks that the file has `outputs` classes.
    fn check_classes(&self, outputs: usize) -> Result<(), TsError> {
        match self.header.classes.len() {
            classes if classes == outputs => Ok(()),
            classes => Err(TsError::Classes {
                file: self.file.clone(),
                classes,
                expected: outputs,
            }),
        }
    }
}

/// Reads the `.ts` file at `path`, plain or gzipped (told by its first bytes, not its name).
///
/// # Examples
///
/// ```
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/sequences/GunPoint_TRAIN.ts.gz");
/// let gun_point = nn_runtime::ts::read(path)?;
/// assert_eq!(gun_point.header().problem_name.as_deref(), Some("GunPoint"));
/// assert_eq!((gun_point.len(), gun_point.channels()), (50, 1));
/// assert_eq!(gun_point.series_length(), Some(150));
/// # Ok::<(), nn_runtime::ts::TsError>(())
/// ```
pub fn read(path: impl AsRef<Path>) -> Result<TsFile, TsError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| TsError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    from_reader(file, path)
}

/// Reads a `.ts` text from `reader`, plain or gzipped (told by its first bytes); `name` is
/// the file named in errors.
pub fn from_reader(mut reader: impl Read, name: impl AsRef<Path>) -> Result<TsFile, TsError> {
    let name = name.as_ref();
    let mut head = [0u8; 2];
    let got = read_up_to(&mut reader, &mut head).map_err(|source| TsError::Read {
        file: name.to_path_buf(),
        source,
    })?;
    let whole = BufReader::new(head[..got].chain(reader));
    if head[..got] == [0x1f, 0x8b] {
        parse::parse_lines(BufReader::new(MultiGzDecoder::new(whole)), name, true)
    } else {
        parse::parse_lines(whole, name, false)
    }
}

/// Reads a `.ts` text held in memory; `name` is the file named in errors.
pub fn parse(text: &str, name: impl AsRef<Path>) -> Result<TsFile, TsError> {
    parse::parse_lines(text.as_bytes(), name.as_ref(), false)
}
