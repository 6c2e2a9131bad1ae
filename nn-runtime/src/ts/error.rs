//! [`TsError`]: why a `.ts` file could not be read or converted.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::data::DataError;

/// Why a `.ts` file could not be read, or its cases could not become what was asked.
///
/// Every message names the file; errors in its text also name the line. Lines, cases,
/// dimensions and values are numbered from 1, as a text editor counts them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TsError {
    /// The file could not be opened or read.
    #[error("cannot read `.ts` file `{}`: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },

    /// The file starts with the gzip magic but does not decompress (corrupt or cut short).
    #[error("`.ts` file `{}`: invalid gzip data: {source}", file.display())]
    Gzip {
        /// The file.
        file: PathBuf,
        /// What the decompressor said.
        source: io::Error,
    },

    /// A line is not UTF-8 text.
    #[error("{}: not UTF-8 text; a `.ts` file is text", At(file, *line))]
    NotText {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
    },

    /// The file holds nothing but blank lines.
    #[error(
        "`.ts` file `{}` is empty; it needs headers such as `@classLabel`, then `@data` and \
         one case per line",
        file.display()
    )]
    Empty {
        /// The file.
        file: PathBuf,
    },

    /// A line starts with `@` but names no header this reader knows.
    #[error(
        "{}: unknown header `{header}`; the headers are @problemName, @timeStamps, @missing, \
         @univariate, @dimensions, @equalLength, @seriesLength, @classLabel and @data",
        At(file, *line)
    )]
    UnknownHeader {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The header as written, `@` included.
        header: String,
    },

    /// A header's value is not what the header takes.
    #[error("{}: `{header}` takes {expected}, found {}", At(file, *line), Found(found))]
    HeaderValue {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The header, spelled as this reader documents it (`@seriesLength`).
        header: &'static str,
        /// What it takes, in words.
        expected: &'static str,
        /// What follows the header on the line (empty when nothing does).
        found: String,
    },

    /// A header appears twice.
    #[error(
        "{}: `{header}` appears twice (first on line {first}); keep one",
        At(file, *line)
    )]
    DuplicateHeader {
        /// The file.
        file: PathBuf,
        /// The line of the second one.
        line: usize,
        /// The header.
        header: &'static str,
        /// The line of the first one.
        first: usize,
    },

    /// `@univariate true` with `@dimensions` other than 1.
    #[error(
        "{}: `@dimensions {dimensions}` contradicts `@univariate true` on line {univariate}; \
         a univariate file has 1 dimension",
        At(file, *line)
    )]
    UnivariateDimensions {
        /// The file.
        file: PathBuf,
        /// The line of `@dimensions`.
        line: usize,
        /// The declared dimensions.
        dimensions: usize,
        /// The line of `@univariate true`.
        univariate: usize,
    },

    /// `@classLabel` names the same class twice.
    #[error(
        "{}: `@classLabel` declares class `{class}` twice; each class is named once",
        At(file, *line)
    )]
    DuplicateClass {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The class.
        class: String,
    },

    /// A valid header that asks for something this reader does not support.
    #[error("{}: {what} is not supported; {fix}", At(file, *line))]
    Unsupported {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// What the header asks for.
        what: &'static str,
        /// What to do instead.
        fix: &'static str,
    },

    /// `@classLabel` is missing before `@data`: a case's last field is then ambiguous.
    #[error(
        "{}: no `@classLabel` header before `@data`; declare `@classLabel true` and the class \
         names, or `@classLabel false` for cases without labels",
        At(file, *line)
    )]
    NoClassLabel {
        /// The file.
        file: PathBuf,
        /// The line of `@data`.
        line: usize,
    },

    /// The file has no `@data` line.
    #[error(
        "`.ts` file `{}` has no `@data` line; the cases follow a line `@data` after the headers",
        file.display()
    )]
    NoData {
        /// The file.
        file: PathBuf,
    },

    /// `@data` is followed by no case.
    #[error("{}: no cases after `@data`; write one case per line", At(file, *line))]
    NoCases {
        /// The file.
        file: PathBuf,
        /// The line of `@data`.
        line: usize,
    },

    /// A header after `@data`.
    #[error("{}: header `{header}` after `@data`; headers go before `@data`", At(file, *line))]
    HeaderAfterData {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The header as written.
        header: String,
    },

    /// A line before `@data` that is neither a header nor a comment.
    #[error(
        "{}: `{text}` is neither a header (`@…`) nor a comment (`#…`); cases go after `@data`",
        At(file, *line)
    )]
    BeforeData {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The start of the line (at most 40 characters).
        text: String,
    },

    /// A case has the wrong number of `:`-separated fields.
    #[error(
        "{}: case {case} has {} but {} expected ({}{}); a case lists every dimension, \
         separated by `:`{}",
        At(file, *line),
        Count(*found, "field"),
        expected(*dimensions, *labelled),
        Count(*dimensions, "dimension"),
        if *labelled { ", then the class label" } else { "" },
        if *labelled { ", then `:` and its class label" } else { "" }
    )]
    Fields {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The case.
        case: usize,
        /// Its fields.
        found: usize,
        /// The dimensions of every case (from `@dimensions`, `@univariate true` or the first
        /// case).
        dimensions: usize,
        /// Whether cases end with a class label (`@classLabel true`).
        labelled: bool,
    },

    /// A value is empty (`1,,2`, a trailing comma, or an empty dimension).
    #[error(
        "{}: value {value} of dimension {dimension} of case {case} is empty; values are \
         separated by single commas",
        At(file, *line)
    )]
    EmptyValue {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The case.
        case: usize,
        /// The dimension.
        dimension: usize,
        /// The value's position in the dimension.
        value: usize,
    },

    /// A value is `?`, the format's missing value.
    #[error(
        "{}: value {value} of dimension {dimension} of case {case} is missing (`?`); this \
         reader takes complete series: fill in or drop the missing values first",
        At(file, *line)
    )]
    Missing {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The case.
        case: usize,
        /// The dimension.
        dimension: usize,
        /// The value's position in the dimension.
        value: usize,
    },

    /// A value is not a number, or not a finite one.
    #[error(
        "{}: value {value} of dimension {dimension} of case {case} is `{text}`, not a finite \
         number",
        At(file, *line)
    )]
    NotANumber {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The case.
        case: usize,
        /// The dimension.
        dimension: usize,
        /// The value's position in the dimension.
        value: usize,
        /// The value as written (at most 40 characters).
        text: String,
    },

    /// The dimensions of one case have different lengths.
    #[error(
        "{}: dimension {dimension} of case {case} has {} but dimension 1 has {first}; the \
         dimensions of a case have the same length",
        At(file, *line),
        Count(*length, "value")
    )]
    UnequalDimensions {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The case.
        case: usize,
        /// The dimension.
        dimension: usize,
        /// Its length.
        length: usize,
        /// The length of the case's first dimension.
        first: usize,
    },

    /// A case's length differs from `@seriesLength`, or from the first case's under
    /// `@equalLength true`.
    #[error(
        "{}: case {case} has {} but {}; fix the case or declare `@equalLength false`",
        At(file, *line),
        Count(*length, "step"),
        match declared {
            true => alloc::format!("`@seriesLength` is {expected}"),
            false => alloc::format!(
                "the first case has {expected} and `@equalLength` is true"
            ),
        }
    )]
    Length {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The case.
        case: usize,
        /// Its length.
        length: usize,
        /// The length every case must have.
        expected: usize,
        /// Whether `expected` comes from `@seriesLength` (else from the first case).
        declared: bool,
    },

    /// A case's class label is not one of those `@classLabel` declares.
    #[error(
        "{}: case {case} has class label `{label}`, which `@classLabel` does not declare \
         (it declares {}); add it there or fix the case",
        At(file, *line),
        Names(classes)
    )]
    UnknownLabel {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The case.
        case: usize,
        /// The label as written (at most 40 characters).
        label: String,
        /// The declared classes.
        classes: Vec<String>,
    },

    /// Cases of `channels × steps` values do not fit a network that takes `expected` inputs.
    #[error(
        "`.ts` file `{}`: cases are {} × {} = {} values but the network takes {expected} \
         inputs",
        file.display(),
        Count(*channels, "channel"),
        Count(*steps, "step"),
        channels * steps
    )]
    Width {
        /// The file.
        file: PathBuf,
        /// Channels (dimensions) per case.
        channels: usize,
        /// Steps per case.
        steps: usize,
        /// The network's input width.
        expected: usize,
    },

    /// Cases have `channels` channels but the sequence steps have `expected`.
    #[error(
        "`.ts` file `{}`: cases have {} but steps of {expected} were asked for",
        file.display(),
        Count(*channels, "channel")
    )]
    Channels {
        /// The file.
        file: PathBuf,
        /// Channels (dimensions) per case.
        channels: usize,
        /// The step width asked for.
        expected: usize,
    },

    /// The file's classes are not the network's outputs.
    #[error(
        "`.ts` file `{}` declares {} but the network has {expected} outputs",
        file.display(),
        Count(*classes, "class")
    )]
    Classes {
        /// The file.
        file: PathBuf,
        /// Classes the file declares.
        classes: usize,
        /// The network's output width.
        expected: usize,
    },

    /// A fixed-width dataset was asked of cases of different lengths.
    #[error(
        "`.ts` file `{}`: cases have {shortest} to {longest} steps, but a dataset needs one \
         length; pad or truncate the cases, or read them as sequences",
        file.display()
    )]
    VariableLength {
        /// The file.
        file: PathBuf,
        /// The shortest case's length.
        shortest: usize,
        /// The longest case's length.
        longest: usize,
    },

    /// Labelled samples were asked of a file with `@classLabel false`.
    #[error(
        "`.ts` file `{}` has no class labels (`@classLabel false`); read its cases directly",
        file.display()
    )]
    Unlabelled {
        /// The file.
        file: PathBuf,
    },

    /// The cases were rejected as a dataset.
    #[error("`.ts` file `{}`: {source}", file.display())]
    Data {
        /// The file.
        file: PathBuf,
        /// Why.
        source: DataError,
    },
}

impl TsError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        use TsError::*;
        match self {
            Read { file, .. }
            | Gzip { file, .. }
            | NotText { file, .. }
            | Empty { file }
            | UnknownHeader { file, .. }
            | HeaderValue { file, .. }
            | DuplicateHeader { file, .. }
            | UnivariateDimensions { file, .. }
            | DuplicateClass { file, .. }
            | Unsupported { file, .. }
            | NoClassLabel { file, .. }
            | NoData { file }
            | NoCases { file, .. }
            | HeaderAfterData { file, .. }
            | BeforeData { file, .. }
            | Fields { file, .. }
            | EmptyValue { file, .. }
            | Missing { file, .. }
            | NotANumber { file, .. }
            | UnequalDimensions { file, .. }
            | Length { file, .. }
            | UnknownLabel { file, .. }
            | Width { file, .. }
            | Channels { file, .. }
            | Classes { file, .. }
            | VariableLength { file, .. }
            | Unlabelled { file }
            | Data { file, .. } => file,
        }
    }

    /// The 1-based line the error is about, when it is about one.
    pub fn line(&self) -> Option<usize> {
        use TsError::*;
        match self {
            NotText { line, .. }
            | UnknownHeader { line, .. }
            | HeaderValue { line, .. }
            | DuplicateHeader { line, .. }
            | UnivariateDimensions { line, .. }
            | DuplicateClass { line, .. }
            | Unsupported { line, .. }
            | NoClassLabel { line, .. }
            | NoCases { line, .. }
            | HeaderAfterData { line, .. }
            | BeforeData { line, .. }
            | Fields { line, .. }
            | EmptyValue { line, .. }
            | Missing { line, .. }
            | NotANumber { line, .. }
            | UnequalDimensions { line, .. }
            | Length { line, .. }
            | UnknownLabel { line, .. } => Some(*line),
            Read { .. }
            | Gzip { .. }
            | Empty { .. }
            | NoData { .. }
            | Width { .. }
            | Channels { .. }
            | Classes { .. }
            | VariableLength { .. }
            | Unlabelled { .. }
            | Data { .. } => None,
        }
    }
}

/// At most the first 40 characters of `text`, with `…` when it was longer: user text quoted
/// in a message stays readable even when a whole line of numbers is wrong.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => alloc::format!("{}…", &text[..end]),
        None => String::from(text),
    }
}

/// Displays "`.ts` file `path`, line N".
struct At<'a>(&'a Path, usize);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`.ts` file `{}`, line {}", self.0.display(), self.1)
    }
}

/// Displays "3 fields", "1 field".
struct Count(usize, &'static str);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = match (self.0, self.1) {
            (1, _) => "",
            (_, "class") => "es",
            _ => "s",
        };
        write!(f, "{} {}{plural}", self.0, self.1)
    }
}

/// Displays a header's value as found: "`yes`", or "nothing".
struct Found<'a>(&'a str);

impl fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            "" => f.write_str("nothing"),
            found => write!(f, "`{found}`"),
        }
    }
}

/// Displays class names: "`a`, `b`, `c`".
struct Names<'a>(&'a [String]);

impl fmt::Display for Names<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{name}`")?;
        }
        Ok(())
    }
}

/// The number of fields a case has: its dimensions, then its label if it has one.
fn expected(dimensions: usize, labelled: bool) -> usize {
    dimensions + usize::from(labelled)
}
