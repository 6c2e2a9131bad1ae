//! The `.ts` parser: headers, then one case per line, checked as they are read.

use alloc::string::String;
use alloc::vec::Vec;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use super::error::excerpt;
use super::{Case, Header, TsError, TsFile};

/// The headers, spelled as the archive spells them; matched ignoring ASCII case, as sktime
/// does.
const HEADERS: [&str; 10] = [
    PROBLEM_NAME,
    TIMESTAMPS,
    MISSING,
    UNIVARIATE,
    DIMENSIONS,
    EQUAL_LENGTH,
    SERIES_LENGTH,
    CLASS_LABEL,
    TARGET_LABEL,
    DATA,
];
const PROBLEM_NAME: &str = "@problemName";
const TIMESTAMPS: &str = "@timeStamps";
const MISSING: &str = "@missing";
const UNIVARIATE: &str = "@univariate";
const DIMENSIONS: &str = "@dimensions";
const EQUAL_LENGTH: &str = "@equalLength";
const SERIES_LENGTH: &str = "@seriesLength";
const CLASS_LABEL: &str = "@classLabel";
const TARGET_LABEL: &str = "@targetLabel";
const DATA: &str = "@data";

const BOOLEAN: &str = "`true` or `false`";
const COUNT: &str = "a positive whole number";

/// Reads a whole `.ts` text from `reader`; `file` names it in errors. `gzipped` says whether
/// `reader` decompresses (its errors are then gzip errors).
pub(super) fn parse_lines(
    mut reader: impl BufRead,
    file: &Path,
    gzipped: bool,
) -> Result<TsFile, TsError> {
    let mut parser = Parser::new(file);
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        let read = reader.read_until(b'\n', &mut bytes).map_err(|source| {
            let file = file.to_path_buf();
            match gzipped {
                true => TsError::Gzip { file, source },
                false => TsError::Read { file, source },
            }
        })?;
        if read == 0 {
            return parser.finish();
        }
        parser.line += 1;
        let text = core::str::from_utf8(&bytes).map_err(|_| parser.not_text())?;
        // A byte-order mark some editors write is not part of the first line's text.
        let text = match parser.line {
            1 => text.strip_prefix('\u{feff}').unwrap_or(text),
            _ => text,
        };
        parser.line(text.trim())?;
    }
}

/// Where the parser is, and what it has read so far.
struct Parser<'a> {
    file: &'a Path,
    /// The current line, from 1.
    line: usize,
    /// Whether a line other than a blank one was seen.
    seen_text: bool,
    header: Header,
    /// The line of each header seen, by its index in [`HEADERS`].
    header_lines: [Option<usize>; HEADERS.len()],
    /// The line of `@data`, once read.
    data: Option<usize>,
    class_index: HashMap<String, usize>,
    /// The dimensions every case has, once known (from the header or the first case).
    dimensions: Option<usize>,
    /// The length every case has, once known, and whether `@seriesLength` declared it.
    length: Option<(usize, bool)>,
    cases: Vec<Case>,
}

impl<'a> Parser<'a> {
    fn new(file: &'a Path) -> Self {
        Parser {
            file,
            line: 0,
            seen_text: false,
            header: Header::default(),
            header_lines: [None; HEADERS.len()],
            data: None,
            class_index: HashMap::new(),
            dimensions: None,
            length: None,
            cases: Vec::new(),
        }
    }

    /// Takes one line, trimmed.
    fn line(&mut self, text: &str) -> Result<(), TsError> {
        if text.is_empty() {
            return Ok(());
        }
        self.seen_text = true;
        if text.starts_with('#') {
            return Ok(());
        }
        if let Some(rest) = text.strip_prefix('@') {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (keyword, value) = rest.split_at(end);
            if self.data.is_some() {
                return Err(TsError::HeaderAfterData {
                    file: self.file.to_path_buf(),
                    line: self.line,
                    header: excerpt(&alloc::format!("@{keyword}")),
                });
            }
            return self.header_line(keyword, value.trim());
        }
        match self.data {
            Some(_) => self.case(text),
            None => Err(TsError::BeforeData {
                file: self.file.to_path_buf(),
                line: self.line,
                text: excerpt(text),
            }),
        }
    }

    /// Takes the header `@keyword value`.
    fn header_line(&mut self, keyword: &str, value: &str) -> Result<(), TsError> {
        let Some(index) = HEADERS
            .iter()
            .position(|h| h[1..].eq_ignore_ascii_case(keyword))
        else {
            return Err(TsError::UnknownHeader {
                file: self.file.to_path_buf(),
                line: self.line,
                header: excerpt(&alloc::format!("@{keyword}")),
            });
        };
        let name = HEADERS[index];
        if let Some(first) = self.header_lines[index] {
            return Err(TsError::DuplicateHeader {
                file: self.file.to_path_buf(),
                line: self.line,
                header: name,
                first,
            });
        }
        self.header_lines[index] = Some(self.line);
        match name {
            PROBLEM_NAME if value.is_empty() => return Err(self.value_error(name, "a name", value)),
            PROBLEM_NAME => self.header.problem_name = Some(String::from(value)),
            TIMESTAMPS => {
                self.header.timestamps = Some(self.boolean(name, value)?);
                if self.header.timestamps == Some(true) {
                    return Err(self.unsupported(
                        "a series with timestamps (`@timeStamps true`)",
                        "write the values without timestamps",
                    ));
                }
            }
            MISSING => self.header.missing = Some(self.boolean(name, value)?),
            UNIVARIATE => self.header.univariate = Some(self.boolean(name, value)?),
            DIMENSIONS => self.header.dimensions = Some(self.count(name, value)?),
            EQUAL_LENGTH => self.header.equal_length = Some(self.boolean(name, value)?),
            SERIES_LENGTH => self.header.series_length = Some(self.count(name, value)?),
            CLASS_LABEL => self.class_label(value)?,
            TARGET_LABEL => {
                if self.boolean(name, value)? {
                    return Err(self.unsupported(
                        "a regression target (`@targetLabel true`)",
                        "this reader loads classification files, whose cases end with a class \
                         label",
                    ));
                }
            }
            _ => return self.data_line(value),
        }
        Ok(())
    }

    /// Takes `@classLabel true name…` or `@classLabel false`.
    fn class_label(&mut self, value: &str) -> Result<(), TsError> {
        const EXPECTED: &str = "`true` and the class names, or `false`";
        let mut tokens = value.split_whitespace();
        let labelled = match tokens.next() {
            Some(t) if t.eq_ignore_ascii_case("true") => true,
            Some(t) if t.eq_ignore_ascii_case("false") => false,
            _ => return Err(self.value_error(CLASS_LABEL, EXPECTED, value)),
        };
        let classes: Vec<&str> = tokens.collect();
        if labelled == classes.is_empty() {
            return Err(self.value_error(CLASS_LABEL, EXPECTED, value));
        }
        for class in classes {
            let index = self.header.classes.len();
            if self
                .class_index
                .insert(String::from(class), index)
                .is_some()
            {
                return Err(TsError::DuplicateClass {
                    file: self.file.to_path_buf(),
                    line: self.line,
                    class: excerpt(class),
                });
            }
            self.header.classes.push(String::from(class));
        }
        self.header.class_label = labelled;
        Ok(())
    }

    /// Takes `@data`: the headers are complete, so checks them together.
    fn data_line(&mut self, value: &str) -> Result<(), TsError> {
        if !value.is_empty() {
            return Err(self.value_error(DATA, "nothing", value));
        }
        if self.seen(CLASS_LABEL).is_none() {
            return Err(TsError::NoClassLabel {
                file: self.file.to_path_buf(),
                line: self.line,
            });
        }
        let header = &self.header;
        if let (Some(true), Some(dimensions), Some(univariate), Some(line)) = (
            header.univariate,
            header.dimensions,
            self.seen(UNIVARIATE),
            self.seen(DIMENSIONS),
        ) && dimensions != 1
        {
            return Err(TsError::UnivariateDimensions {
                file: self.file.to_path_buf(),
                line,
                dimensions,
                univariate,
            });
        }
        self.dimensions = match header.univariate {
            Some(true) => Some(1),
            _ => header.dimensions,
        };
        if header.equal_length != Some(false) {
            self.length = header.series_length.map(|length| (length, true));
        }
        self.data = Some(self.line);
        Ok(())
    }

    /// Takes one case: its dimensions, each a list of values, then its label.
    fn case(&mut self, text: &str) -> Result<(), TsError> {
        let number = self.cases.len() + 1;
        let labelled = self.header.class_label;
        let fields: Vec<&str> = text.split(':').collect();
        // Without a declaration, the first case says how many dimensions every case has.
        let dimensions = *self
            .dimensions
            .get_or_insert((fields.len() - usize::from(labelled)).max(1));
        if fields.len() != dimensions + usize::from(labelled) {
            return Err(TsError::Fields {
                file: self.file.to_path_buf(),
                line: self.line,
                case: number,
                found: fields.len(),
                dimensions,
                labelled,
            });
        }
        let mut values = Vec::new();
        let mut steps = 0;
        for (dimension, field) in fields[..dimensions].iter().enumerate() {
            let length = self.values(field, number, dimension + 1, &mut values)?;
            if dimension == 0 {
                steps = length;
            } else if length != steps {
                return Err(TsError::UnequalDimensions {
                    file: self.file.to_path_buf(),
                    line: self.line,
                    case: number,
                    dimension: dimension + 1,
                    length,
                    first: steps,
                });
            }
        }
        if self.length.is_none() && self.header.equal_length == Some(true) {
            self.length = Some((steps, false));
        }
        if let Some((expected, declared)) = self.length
            && steps != expected
        {
            return Err(TsError::Length {
                file: self.file.to_path_buf(),
                line: self.line,
                case: number,
                length: steps,
                expected,
                declared,
            });
        }
        let label = match labelled {
            true => Some(self.label(fields[dimensions].trim(), number)?),
            false => None,
        };
        values.shrink_to_fit();
        self.cases.push(Case {
            line: self.line,
            label,
            steps,
            values,
        });
        Ok(())
    }

    /// Appends the comma-separated values of one dimension to `values`; returns how many.
    fn values(
        &self,
        field: &str,
        case: usize,
        dimension: usize,
        values: &mut Vec<f64>,
    ) -> Result<usize, TsError> {
        let mut count = 0;
        for text in field.split(',').map(str::trim) {
            count += 1;
            match text.parse::<f64>() {
                Ok(number) if number.is_finite() => values.push(number),
                _ => return Err(self.bad_value(text, case, dimension, count)),
            }
        }
        Ok(count)
    }

    /// Why `text`, value `value` of `dimension` of `case`, is not a number.
    fn bad_value(&self, text: &str, case: usize, dimension: usize, value: usize) -> TsError {
        let (file, line) = (self.file.to_path_buf(), self.line);
        match text {
            "" => TsError::EmptyValue {
                file,
                line,
                case,
                dimension,
                value,
            },
            "?" => TsError::Missing {
                file,
                line,
                case,
                dimension,
                value,
            },
            _ => TsError::NotANumber {
                file,
                line,
                case,
                dimension,
                value,
                text: excerpt(text),
            },
        }
    }

    /// The index of class `label`, which `@classLabel` must declare.
    fn label(&self, label: &str, case: usize) -> Result<usize, TsError> {
        self.class_index
            .get(label)
            .copied()
            .ok_or_else(|| TsError::UnknownLabel {
                file: self.file.to_path_buf(),
                line: self.line,
                case,
                label: excerpt(label),
                classes: self.header.classes.clone(),
            })
    }

    /// The end of the text: the file, if it had data.
    fn finish(self) -> Result<TsFile, TsError> {
        let file = self.file.to_path_buf();
        let Some(data) = self.data else {
            return Err(match self.seen_text {
                true => TsError::NoData { file },
                false => TsError::Empty { file },
            });
        };
        let Some(channels) = self.dimensions.filter(|_| !self.cases.is_empty()) else {
            return Err(TsError::NoCases { file, line: data });
        };
        Ok(TsFile {
            file,
            header: self.header,
            channels,
            cases: self.cases,
        })
    }

    /// The line `header` was on, if it was seen.
    fn seen(&self, header: &str) -> Option<usize> {
        let index = HEADERS.iter().position(|&h| h == header)?;
        self.header_lines[index]
    }

    /// `true` or `false`, as the only value of `header`.
    fn boolean(&self, header: &'static str, value: &str) -> Result<bool, TsError> {
        match value {
            _ if value.eq_ignore_ascii_case("true") => Ok(true),
            _ if value.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(self.value_error(header, BOOLEAN, value)),
        }
    }

    /// A positive whole number, as the only value of `header`.
    fn count(&self, header: &'static str, value: &str) -> Result<usize, TsError> {
        match value.parse::<usize>() {
            Ok(count) if count > 0 => Ok(count),
            _ => Err(self.value_error(header, COUNT, value)),
        }
    }

    fn value_error(&self, header: &'static str, expected: &'static str, found: &str) -> TsError {
        TsError::HeaderValue {
            file: self.file.to_path_buf(),
            line: self.line,
            header,
            expected,
            found: excerpt(found),
        }
    }

    fn unsupported(&self, what: &'static str, fix: &'static str) -> TsError {
        TsError::Unsupported {
            file: self.file.to_path_buf(),
            line: self.line,
            what,
            fix,
        }
    }

    fn not_text(&self) -> TsError {
        TsError::NotText {
            file: self.file.to_path_buf(),
            line: self.line,
        }
    }
}
