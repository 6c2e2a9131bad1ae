//! Reading a [`Dataset`] from a CSV file: every column a feature but one, the label (feature
//! `csv`).
//!
//! A file is plain or gzipped (told by its first bytes, not its name), with a header line or
//! without. Lines are numbered from 1 as an editor shows them (the header is line 1), columns
//! from 0 as [`Column::Index`] counts them. Every cell is checked where it enters: a line
//! with the wrong number of columns, a cell that is not a number and a missing label are a
//! [`CsvError`] naming the file, the line and the column (and its header name); the rows then
//! go through [`Dataset::classification`] or [`Dataset::regression`], whose checks (label in
//! range, finite values) name the line too.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{DataError, Dataset};
use crate::Real;

/// A column of a CSV file: by its header name or by its index (from 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// The column whose header cell is this name (the file must have a header).
    Name(String),
    /// The column at this index, from 0.
    Index(usize),
}

impl From<&str> for Column {
    fn from(name: &str) -> Self {
        Column::Name(name.to_string())
    }
}

impl From<String> for Column {
    fn from(name: String) -> Self {
        Column::Name(name)
    }
}

impl From<usize> for Column {
    fn from(index: usize) -> Self {
        Column::Index(index)
    }
}

/// How to read a CSV file: which column is the label, whether the first line is a header,
/// and the delimiter. Every other column is a feature, in file order.
///
/// # Examples
///
/// ```
/// use nn_runtime::data::{Csv, Dataset};
/// let text = "label,x,y\n1,0.5,2\n0,1.5,-1\n";
/// let data = Dataset::<f32, 2, 2>::parse_csv("points.csv", text.as_bytes(), &Csv::label("label"))?;
/// assert_eq!(data.labels(), [1, 0]);
/// assert_eq!(data.inputs.column(1).as_slice(), &[1.5, -1.0]);
/// // No header, the label last, semicolons:
/// let plain = Csv::label(2).header(false).delimiter(b';');
/// let same = Dataset::<f32, 2, 2>::parse_csv("points.csv", b"0.5;2;1\n1.5;-1;0\n", &plain)?;
/// assert_eq!(same, data);
/// # Ok::<(), nn_runtime::data::CsvError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Csv {
    /// The label (or regression target) column.
    pub label: Column,
    /// Whether the first line is a header of column names (default: yes).
    pub header: bool,
    /// The byte between cells (default: `b','`).
    pub delimiter: u8,
}

impl Csv {
    /// Reads the label from `column` (a header name, or an index from 0); a header line and
    /// commas unless changed.
    pub fn label(column: impl Into<Column>) -> Self {
        Self {
            label: column.into(),
            header: true,
            delimiter: b',',
        }
    }

    /// Says whether the first line is a header.
    pub fn header(self, header: bool) -> Self {
        Self { header, ..self }
    }

    /// Sets the byte between cells (`b';'`, `b'\t'`, …).
    pub fn delimiter(self, delimiter: u8) -> Self {
        Self { delimiter, ..self }
    }
}

/// Why a CSV file could not become a dataset. Lines are numbered from 1 (the header is line
/// 1), columns from 0.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// The file could not be opened, read or decompressed.
    #[error("CSV file `{}`: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A line is not valid CSV (for example, not UTF-8, or an unclosed quote).
    #[error("CSV file `{}` line {line}: {message}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// The line.
        line: u64,
        /// What the CSV reader reported.
        message: String,
    },
    /// The label column is named, but no header cell has that name (or there is no header).
    #[error(
        "CSV file `{}` has no column named `{name}` for the label{}",
        file.display(),
        if header.is_empty() {
            " (the file is read without a header: give the column's index instead)".to_string()
        } else {
            format!("; its columns are `{}`", header.join("`, `"))
        }
    )]
    NoLabelColumn {
        /// The file.
        file: PathBuf,
        /// The name asked for.
        name: String,
        /// The header cells (empty when read without a header).
        header: Vec<String>,
    },
    /// The label column's index is past the columns a line of the file has.
    #[error(
        "CSV file `{}`: the label is column {index}, but a line has only {columns} columns \
         (numbered from 0): the network's inputs and the label",
        file.display()
    )]
    LabelIndex {
        /// The file.
        file: PathBuf,
        /// The label column asked for.
        index: usize,
        /// The network's input width plus one.
        columns: usize,
    },
    /// A line has a number of columns other than the network's inputs plus the label.
    #[error(
        "CSV file `{}` line {line} has {found} columns, but {expected} are needed: {} features \
         for the network and the label",
        file.display(),
        expected - 1
    )]
    Width {
        /// The file.
        file: PathBuf,
        /// The line.
        line: u64,
        /// The network's input width plus one (the label).
        expected: usize,
        /// The line's number of columns.
        found: usize,
    },
    /// A cell is not a number.
    #[error("CSV file `{}` line {line} column {column}: `{value}` is not a number", file.display())]
    NotNumber {
        /// The file.
        file: PathBuf,
        /// The line.
        line: u64,
        /// The column, with its header name if there is one.
        column: ColumnName,
        /// The cell.
        value: String,
    },
    /// The label cell is empty.
    #[error(
        "CSV file `{}` line {line} column {column}: the label is missing; every row needs one",
        file.display()
    )]
    MissingLabel {
        /// The file.
        file: PathBuf,
        /// The line.
        line: u64,
        /// The label column, with its header name if there is one.
        column: ColumnName,
    },
    /// A class label is a number but not a class index (negative or fractional).
    #[error(
        "CSV file `{}` line {line} column {column}: label `{value}` is not a class index \
         (0, 1, 2, …)",
        file.display()
    )]
    NotClass {
        /// The file.
        file: PathBuf,
        /// The line.
        line: u64,
        /// The label column, with its header name if there is one.
        column: ColumnName,
        /// The cell.
        value: String,
    },
    /// The values of a line do not fit the network (label out of range, NaN, …).
    #[error("CSV file `{}` line {line}: {source}", file.display())]
    Row {
        /// The file.
        file: PathBuf,
        /// The line.
        line: u64,
        /// What [`Dataset::classification`] or [`Dataset::regression`] found (its row is the
        /// data row, from 0).
        source: DataError,
    },
}

/// A column as errors name it: its index, and its header name if the file has a header
/// (displays as ``3 (`pixel_0_3`)``).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnName {
    /// The index, from 0.
    pub index: usize,
    /// The header cell, if the file has a header.
    pub name: Option<String>,
}

impl core::fmt::Display for ColumnName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{} (`{name}`)", self.index),
            None => write!(f, "{}", self.index),
        }
    }
}

/// The cells of a file, read and checked: features per row, the label cell's value, the line.
struct Rows<T> {
    features: Vec<Vec<T>>,
    labels: Vec<(f64, String)>,
    lines: Vec<u64>,
    label_column: ColumnName,
}

impl<T: Real, const IN: usize, const OUT: usize> Dataset<T, IN, OUT> {
    /// A classification dataset from the CSV file at `path` (plain or gzipped): the label
    /// column of `csv` holds class indices (`0`, `1`, … or `2.0`), every other column is a
    /// feature. See [`Dataset::classification`] for the targets and checks.
    ///
    /// # Examples
    ///
    /// ```
    /// use nn_runtime::data::{Csv, Dataset};
    /// let digits = Dataset::<f32, 64, 10>::read_csv(
    ///     concat!(env!("CARGO_MANIFEST_DIR"), "/../data/digits.csv.gz"),
    ///     &Csv::label("label"),
    /// )?;
    /// assert_eq!(digits.len(), 1797);
    /// # Ok::<(), nn_runtime::data::CsvError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`CsvError`] naming the file, the line and the column: the file cannot be read, a
    /// line has other than `IN + 1` columns, a cell is not a number, a label is missing or not
    /// a class index, or (through [`Dataset::classification`]) out of range.
    pub fn read_csv(path: impl AsRef<Path>, csv: &Csv) -> Result<Self, CsvError> {
        let path = path.as_ref();
        Self::parse_csv(path, &read_file(path)?, csv)
    }

    /// [`Dataset::read_csv`] of the CSV text `bytes` (plain or gzipped); `file` names it in
    /// errors.
    ///
    /// # Errors
    ///
    /// As [`Dataset::read_csv`].
    pub fn parse_csv(file: impl AsRef<Path>, bytes: &[u8], csv: &Csv) -> Result<Self, CsvError> {
        let file = file.as_ref();
        let rows = read_rows::<T, IN>(file, bytes, csv)?;
        let mut labels = Vec::with_capacity(rows.labels.len());
        for ((label, cell), &line) in rows.labels.iter().zip(&rows.lines) {
            if *label < 0.0 || label.fract() != 0.0 {
                return Err(CsvError::NotClass {
                    file: file.to_path_buf(),
                    line,
                    column: rows.label_column.clone(),
                    value: cell.clone(),
                });
            }
            labels.push(*label as usize);
        }
        Self::classification(&rows.features, &labels).map_err(|e| at_line(file, &rows.lines, e))
    }

    /// A regression dataset from the CSV file at `path` (plain or gzipped): the label column
    /// of `csv` is the target (so `OUT` is 1, checked when it compiles), every other column a
    /// feature.
    ///
    /// # Errors
    ///
    /// As [`Dataset::read_csv`], without the class checks.
    pub fn read_csv_regression(path: impl AsRef<Path>, csv: &Csv) -> Result<Self, CsvError> {
        let path = path.as_ref();
        Self::parse_csv_regression(path, &read_file(path)?, csv)
    }

    /// [`Dataset::read_csv_regression`] of the CSV text `bytes` (plain or gzipped); `file`
    /// names it in errors.
    ///
    /// # Errors
    ///
    /// As [`Dataset::read_csv_regression`].
    pub fn parse_csv_regression(
        file: impl AsRef<Path>,
        bytes: &[u8],
        csv: &Csv,
    ) -> Result<Self, CsvError> {
        const {
            assert!(
                OUT == 1,
                "a CSV file gives one target column: read it into a `Dataset<T, IN, 1>`"
            )
        };
        let file = file.as_ref();
        let rows = read_rows::<T, IN>(file, bytes, csv)?;
        let targets: Vec<[T; 1]> = rows.labels.iter().map(|(v, _)| [T::constant(*v)]).collect();
        Self::regression(&rows.features, &targets).map_err(|e| at_line(file, &rows.lines, e))
    }
}

/// The bytes of `path`, decompressed if they start with the gzip magic.
fn read_file(path: &Path) -> Result<Vec<u8>, CsvError> {
    std::fs::read(path).map_err(|source| CsvError::Io {
        file: path.to_path_buf(),
        source,
    })
}

/// Reads and checks every cell: `IN` features and one label per line.
fn read_rows<T: Real, const IN: usize>(
    file: &Path,
    bytes: &[u8],
    csv: &Csv,
) -> Result<Rows<T>, CsvError> {
    let mut text = Vec::new();
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut text)
            .map_err(|source| CsvError::Io {
                file: file.to_path_buf(),
                source,
            })?;
        &text[..]
    } else {
        bytes
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(csv.header)
        .delimiter(csv.delimiter)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(bytes);
    // The CSV reader's own line count skips blank lines; count the newlines before a
    // record's first byte instead, so the number is the one an editor shows.
    let mut lines = LineCounter::new(bytes);
    let syntax = |e: ::csv::Error| CsvError::Syntax {
        file: file.to_path_buf(),
        line: e
            .position()
            .map_or(0, |p| LineCounter::new(bytes).line_at(p.byte())),
        message: e.to_string(),
    };
    let header: Vec<String> = if csv.header {
        reader
            .headers()
            .map_err(syntax)?
            .iter()
            .map(str::to_string)
            .collect()
    } else {
        Vec::new()
    };
    let label = match &csv.label {
        Column::Index(index) => *index,
        Column::Name(name) => {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| CsvError::NoLabelColumn {
                    file: file.to_path_buf(),
                    name: name.clone(),
                    header: header.clone(),
                })?
        }
    };
    if label > IN {
        return Err(CsvError::LabelIndex {
            file: file.to_path_buf(),
            index: label,
            columns: IN + 1,
        });
    }
    let column = |index: usize| ColumnName {
        index,
        name: header.get(index).cloned(),
    };
    let mut rows = Rows {
        features: Vec::new(),
        labels: Vec::new(),
        lines: Vec::new(),
        label_column: column(label),
    };
    for record in reader.records() {
        let record = record.map_err(syntax)?;
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        if record.len() != IN + 1 {
            return Err(CsvError::Width {
                file: file.to_path_buf(),
                line,
                expected: IN + 1,
                found: record.len(),
            });
        }
        let mut values = Vec::with_capacity(IN);
        for (index, cell) in record.iter().enumerate() {
            if index == label && cell.is_empty() {
                return Err(CsvError::MissingLabel {
                    file: file.to_path_buf(),
                    line,
                    column: column(index),
                });
            }
            let value: f64 = cell.parse().map_err(|_| CsvError::NotNumber {
                file: file.to_path_buf(),
                line,
                column: column(index),
                value: cell.to_string(),
            })?;
            if index == label {
                rows.labels.push((value, cell.to_string()));
            } else {
                values.push(T::constant(value));
            }
        }
        rows.features.push(values);
        rows.lines.push(line);
    }
    Ok(rows)
}

/// Line numbers (from 1) of byte offsets, asked in increasing order.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the record read from byte `offset`: 1 plus the newlines before it, once
    /// past the blank lines the reader skipped (a record's position is where reading began).
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while matches!(self.bytes.get(offset), Some(b'\n' | b'\r')) {
            offset += 1;
        }
        if offset > self.offset {
            let newlines = self.bytes[self.offset..offset]
                .iter()
                .filter(|&&b| b == b'\n');
            self.line += newlines.count() as u64;
            self.offset = offset;
        }
        self.line
    }
}

/// A [`DataError`] about data row `row`, placed at its line of the file.
fn at_line(file: &Path, lines: &[u64], error: DataError) -> CsvError {
    let row = match &error {
        DataError::Width { row, .. }
        | DataError::TargetWidth { row, .. }
        | DataError::NotFinite { row, .. }
        | DataError::LabelOutOfRange { row, .. }
        | DataError::NotBinary { row, .. } => Some(*row),
        _ => None,
    };
    CsvError::Row {
        file: file.to_path_buf(),
        line: row.and_then(|r| lines.get(r)).copied().unwrap_or(0),
        source: error,
    }
}
