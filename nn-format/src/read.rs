//! Parsing a file defensively: [`File::parse`].

use std::collections::BTreeMap;

use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde_json::{Map, Value};

use crate::{MAX_HEADER_LEN, PREFIX_LEN, WeightsError};

/// A parsed, validated safetensors file: its tensors (borrowing their data from the bytes) and
/// its metadata.
#[derive(Clone, Debug)]
pub struct File<'a> {
    /// In data order (by `data_offsets`).
    tensors: Vec<Tensor<'a>>,
    /// Tensor name to index in `tensors`.
    index: BTreeMap<String, usize>,
    metadata: BTreeMap<String, String>,
}

/// One tensor of a [`File`], as the header describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tensor<'a> {
    /// The name in the file (`h1.weight`).
    pub name: String,
    /// The safetensors dtype (`F32`, `F64`, `BF16`, `I64`, ...).
    pub dtype: String,
    /// The shape in the file: `[out, in]` for a PyTorch weight.
    pub shape: Vec<usize>,
    /// The data, row-major and little-endian; exactly as long as dtype and shape say.
    pub data: &'a [u8],
}

impl<'a> File<'a> {
    /// Parses and validates a whole file: its length prefix and header, its metadata (a map of
    /// strings), and every tensor's dtype, shape and `data_offsets` against the data section.
    ///
    /// Never panics and never allocates more than a small multiple of `bytes.len()`. Before
    /// handing the bytes to `safetensors`, checks what its parser assumes or explains badly:
    /// that the header fits in the file, that no tensor's end offset lies past the end of the
    /// data (`safetensors` 0.8 adds the last offset to the header length unchecked, which
    /// overflows and panics in a debug build for offsets near `u64::MAX`), and that the
    /// metadata are strings (naming the key that is not). The header is therefore parsed
    /// twice; it is small.
    ///
    /// # Errors
    /// [`WeightsError::NotSafetensors`], [`WeightsError::Truncated`],
    /// [`WeightsError::Corrupt`], [`WeightsError::MetadataNotObject`] or
    /// [`WeightsError::MetadataNotString`], without a file (see [`WeightsError::in_file`]).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WeightsError> {
        let len = bytes.len() as u64;
        let Some((prefix, rest)) = bytes.split_first_chunk::<PREFIX_LEN>() else {
            return Err(WeightsError::Truncated {
                file: None,
                len,
                needed: PREFIX_LEN as u64,
            });
        };
        let header_len = u64::from_le_bytes(*prefix);
        if header_len > MAX_HEADER_LEN {
            return Err(not_safetensors(format!(
                "its first 8 bytes give a header length of {header_len} bytes, more than the \
                 {MAX_HEADER_LEN} safetensors allows"
            )));
        }
        // `header_len <= MAX_HEADER_LEN`, so it fits in a usize.
        let Some((header, data)) = rest.split_at_checked(header_len as usize) else {
            // A cut-off safetensors file still starts its header with `{`.
            return Err(if rest.first().is_none_or(|&byte| byte == b'{') {
                WeightsError::Truncated {
                    file: None,
                    len,
                    needed: PREFIX_LEN as u64 + header_len,
                }
            } else {
                not_safetensors(format!(
                    "its first 8 bytes give a header length of {header_len} bytes but only {} \
                     follow",
                    rest.len()
                ))
            });
        };
        if !header.starts_with(b"{") {
            return Err(not_safetensors("the header does not start with `{`".into()));
        }

        let header: Value = serde_json::from_slice(header)
            .map_err(|error| corrupt(format!("invalid JSON in header: {error}")))?;
        let Some(entries) = header.as_object() else {
            return Err(corrupt("the header is not a JSON object".into()));
        };
        let data_end = data_end(entries);
        let data_len = data.len() as u64;
        if data_end > data_len {
            let needed = (PREFIX_LEN as u64 + header_len).saturating_add(data_end);
            return Err(WeightsError::Truncated {
                file: None,
                len,
                needed,
            });
        }
        check_metadata(entries)?;
        for (name, entry) in tensor_entries(entries) {
            check_tensor_entry(entry)
                .map_err(|problem| corrupt(format!("tensor `{name}` {problem}")))?;
        }

        let metadata = match SafeTensors::read_metadata(bytes) {
            Ok((_, metadata)) => metadata,
            Err(SafeTensorError::MetadataIncompleteBuffer) => {
                return Err(corrupt(format!(
                    "{} bytes after the end of the last tensor",
                    data_len.saturating_sub(data_end)
                )));
            }
            Err(SafeTensorError::TensorInvalidInfo) => {
                return Err(corrupt(
                    explain_size_mismatch(entries)
                        .unwrap_or_else(|| SafeTensorError::TensorInvalidInfo.to_string()),
                ));
            }
            Err(error) => return Err(corrupt(error.to_string())),
        };

        let mut tensors = Vec::new();
        for name in metadata.offset_keys() {
            let Some(info) = metadata.info(&name) else {
                continue;
            };
            let (begin, end) = info.data_offsets;
            // In bounds: `read_metadata` checked the offsets against the data.
            let Some(data) = data.get(begin..end) else {
                return Err(corrupt(format!(
                    "the data of tensor `{name}` lies outside the file"
                )));
            };
            tensors.push(Tensor {
                dtype: info.dtype.to_string(),
                shape: info.shape.clone(),
                data,
                name,
            });
        }
        let index = tensors
            .iter()
            .enumerate()
            .map(|(i, tensor)| (tensor.name.clone(), i))
            .collect();
        let metadata = metadata
            .metadata()
            .iter()
            .flatten()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(File {
            tensors,
            index,
            metadata,
        })
    }

    /// Every tensor, in data order (by `data_offsets`; by name for files `safetensors` or
    /// `nn` wrote with one dtype).
    pub fn tensors(&self) -> &[Tensor<'a>] {
        &self.tensors
    }

    /// The tensor `name`, if the file has it.
    pub fn tensor(&self, name: &str) -> Option<&Tensor<'a>> {
        self.tensors.get(*self.index.get(name)?)
    }

    /// The file's `__metadata__` (empty if it has none).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }
}

/// The tensor entries of a header (every key but `__metadata__`), as parsed by `serde_json`.
///
/// Duplicate keys: `serde_json` and `safetensors` both keep the last, so both see the same
/// entries.
fn tensor_entries(entries: &Map<String, Value>) -> impl Iterator<Item = (&String, &Value)> {
    entries.iter().filter(|(name, _)| *name != "__metadata__")
}

/// The largest end offset any tensor declares (0 for none). Lenient: entries not shaped like
/// tensors are left for `safetensors` to reject.
fn data_end(entries: &Map<String, Value>) -> u64 {
    tensor_entries(entries)
        .filter_map(|(_, entry)| entry.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0)
}

/// Checks that `__metadata__`, if present, is an object of strings, naming the first key
/// (in the file's order) whose value is not; `safetensors` would say only ``invalid type:
/// integer `10`, expected a string at line 1 column 42``.
fn check_metadata(entries: &Map<String, Value>) -> Result<(), WeightsError> {
    let Some(metadata) = entries.get("__metadata__") else {
        return Ok(());
    };
    let Some(metadata) = metadata.as_object() else {
        return Err(WeightsError::MetadataNotObject {
            file: None,
            found: describe(metadata),
        });
    };
    match metadata.iter().find(|(_, value)| !value.is_string()) {
        Some((key, value)) => Err(WeightsError::MetadataNotString {
            file: None,
            key: key.clone(),
            found: describe(value),
        }),
        None => Ok(()),
    }
}

/// Checks that a tensor entry of the header has the form `safetensors` reads (an object
/// with a known `dtype`, a `shape` of sizes and two `data_offsets`); otherwise says what is
/// wrong, as the end of a sentence starting with the tensor (``has no `dtype`; ..``), where
/// `safetensors` would give only a line and column.
fn check_tensor_entry(entry: &Value) -> Result<(), String> {
    const FIELDS: &str = "`dtype`, `shape` and `data_offsets`";
    let Some(fields) = entry.as_object() else {
        return Err(format!(
            "is {}, but a tensor entry is an object with {FIELDS}",
            describe(entry)
        ));
    };
    let field = |name: &str| {
        fields
            .get(name)
            .ok_or_else(|| format!("has no `{name}`; a tensor entry has {FIELDS}"))
    };
    let (dtype, shape, offsets) = (field("dtype")?, field("shape")?, field("data_offsets")?);
    if serde_json::from_value::<Dtype>(dtype.clone()).is_err() {
        return Err(format!(
            "has `dtype` {}, which is not a safetensors dtype such as \"F32\"",
            describe(dtype)
        ));
    }
    let sizes = |value: &Value| {
        value.as_array().map(|items| {
            items
                .iter()
                .all(|item| item.as_u64().is_some_and(|n| usize::try_from(n).is_ok()))
        })
    };
    if sizes(shape) != Some(true) {
        return Err(format!(
            "has `shape` {}, but a shape is an array of sizes such as [128, 64]",
            describe(shape)
        ));
    }
    if sizes(offsets) != Some(true) || offsets.as_array().map(Vec::len) != Some(2) {
        return Err(format!(
            "has `data_offsets` {}, but data offsets are a begin and an end byte such as \
             [0, 512]",
            describe(offsets)
        ));
    }
    Ok(())
}

/// Values whose JSON text is at most this long are quoted in messages.
const QUOTED_LEN: usize = 40;

/// A JSON value in words, for a message: `the number 10`, `the string "F17"`, `the array
/// [4]`, `null`; a string, array or object whose JSON text is longer than [`QUOTED_LEN`] is
/// only named (`an array`).
fn describe(value: &Value) -> String {
    let (the, a) = match value {
        Value::Null => return "null".into(),
        Value::Bool(_) => ("the boolean", "a boolean"),
        Value::Number(_) => ("the number", "a number"),
        Value::String(_) => ("the string", "a string"),
        Value::Array(_) => ("the array", "an array"),
        Value::Object(_) => ("the object", "an object"),
    };
    let text = value.to_string();
    if text.len() <= QUOTED_LEN {
        format!("{the} {text}")
    } else {
        a.into()
    }
}

/// Names the first tensor whose dtype and shape disagree with the length of its data offsets,
/// for a better message than `safetensors`' (which names none).
fn explain_size_mismatch(entries: &Map<String, Value>) -> Option<String> {
    let mut tensors: Vec<(u64, String)> = tensor_entries(entries)
        .filter_map(|(name, entry)| {
            let dtype: Dtype = serde_json::from_value(entry.get("dtype")?.clone()).ok()?;
            let shape: Vec<u64> = serde_json::from_value(entry.get("shape")?.clone()).ok()?;
            let [begin, end]: [u64; 2] =
                serde_json::from_value(entry.get("data_offsets")?.clone()).ok()?;
            let bits = shape
                .iter()
                .try_fold(dtype.bitsize() as u64, |bits, &dim| bits.checked_mul(dim))?;
            let span = end.checked_sub(begin)?;
            (bits / 8 != span).then(|| {
                let message = format!(
                    "tensor `{name}` of dtype {dtype} and shape {shape:?} takes {} bytes but its \
                     data_offsets [{begin}, {end}] span {span}",
                    bits / 8
                );
                (begin, message)
            })
        })
        .collect();
    tensors.sort();
    tensors.into_iter().next().map(|(_, message)| message)
}

/// [`WeightsError::NotSafetensors`] without a file.
fn not_safetensors(reason: String) -> WeightsError {
    WeightsError::NotSafetensors { file: None, reason }
}

/// [`WeightsError::Corrupt`] without a file.
fn corrupt(reason: String) -> WeightsError {
    WeightsError::Corrupt { file: None, reason }
}
