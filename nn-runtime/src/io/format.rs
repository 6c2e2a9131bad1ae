//! The safetensors format: writing a header and tensor data, and parsing a file defensively.
//!
//! A file is `[n: u64 little-endian][n bytes of JSON header, space-padded][tensor data]`; the
//! header maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets
//! into the data section) and `"__metadata__"` to a string-to-string map. Data is row-major
//! (C order), little-endian.

use core::any::Any;
use core::mem::size_of;

use safetensors::tensor::Metadata;
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde_json::{Map, Value};

use super::WeightsError;
use crate::Real;

/// Bytes of the header-length prefix.
const PREFIX_LEN: usize = 8;

/// The largest header `safetensors` accepts (its `MAX_HEADER_SIZE`); a longer declared header
/// means the bytes are something else.
const MAX_HEADER_LEN: u64 = 100_000_000;

/// Appends the little-endian bytes of `value`: 4 for `f32`, 8 for `f64`, bit for bit.
fn encode<T: Real>(value: T, out: &mut Vec<u8>) {
    // `Real` is sealed to f32 and f64; the downcast is resolved at compile time.
    let value: &dyn Any = &value;
    if let Some(value) = value.downcast_ref::<f32>() {
        out.extend_from_slice(&value.to_le_bytes());
    } else if let Some(value) = value.downcast_ref::<f64>() {
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// Reads one `T` from its little-endian bytes (`bytes` is exactly `size_of::<T>()` long).
fn decode<T: Real>(bytes: &[u8]) -> T {
    let mut value = T::zero();
    let slot: &mut dyn Any = &mut value;
    if let Some(slot) = slot.downcast_mut::<f32>()
        && let Ok(bytes) = bytes.try_into()
    {
        *slot = f32::from_le_bytes(bytes);
    } else if let Some(slot) = slot.downcast_mut::<f64>()
        && let Ok(bytes) = bytes.try_into()
    {
        *slot = f64::from_le_bytes(bytes);
    }
    value
}

/// Appends a tensor in the file's row-major order, from nalgebra's column-major `storage`:
/// element `(r, c)` of an `[out, in]` matrix goes from `storage[c * out + r]` to position
/// `r * in + c`. A vector is copied as is.
pub(super) fn encode_tensor<T: Real>(shape: &[usize], storage: &[T], out: &mut Vec<u8>) {
    match *shape {
        [rows, cols] => {
            for r in 0..rows {
                for c in 0..cols {
                    encode(storage[c * rows + r], out);
                }
            }
        }
        _ => storage.iter().for_each(|&value| encode(value, out)),
    }
}

/// Fills nalgebra's column-major `storage` from a tensor's row-major little-endian `bytes`;
/// the inverse of [`encode_tensor`]. The shape and length have been validated.
pub(super) fn decode_tensor<T: Real>(shape: &[usize], bytes: &[u8], storage: &mut [T]) {
    let chunks = bytes.chunks_exact(size_of::<T>());
    match *shape {
        [rows, cols] => {
            for (k, chunk) in chunks.enumerate() {
                let (r, c) = (k / cols, k % cols);
                if let Some(slot) = storage.get_mut(c * rows + r) {
                    *slot = decode(chunk);
                }
            }
        }
        _ => storage
            .iter_mut()
            .zip(chunks)
            .for_each(|(slot, chunk)| *slot = decode(chunk)),
    }
}

/// A JSON string literal for `text`, escaped as `serde_json` (and so `safetensors`) writes it.
fn json_string(text: &str) -> String {
    Value::from(text).to_string()
}

/// The header of a file holding `tensors` (name, shape, in data order) of dtype `dtype`, with
/// `metadata` (sorted by key), including the 8-byte length prefix and the space padding to a
/// multiple of 8 bytes that `safetensors` writes.
///
/// The JSON is built by hand so that the same network always gives the same bytes: the
/// `safetensors` crate keeps metadata in a `HashMap`, whose order changes from run to run.
/// Otherwise the layout is the crate's: `__metadata__` first, then the tensors in data order,
/// each `{"dtype":..,"shape":[..],"data_offsets":[begin,end]}`, compact.
pub(super) fn header(
    dtype: &str,
    scalar_bytes: usize,
    metadata: &[(&str, &str)],
    tensors: &[(&str, &[usize])],
) -> Vec<u8> {
    let mut json = String::from("{\"__metadata__\":{");
    for (i, (key, value)) in metadata.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&json_string(key));
        json.push(':');
        json.push_str(&json_string(value));
    }
    json.push('}');
    let mut offset = 0;
    for (name, shape) in tensors {
        let end = offset + shape.iter().product::<usize>() * scalar_bytes;
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        json.push_str(&format!(
            ",{}:{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            json_string(name),
            dims.join(","),
        ));
        offset = end;
    }
    json.push('}');
    let padded_len = json.len().next_multiple_of(PREFIX_LEN);
    let mut bytes = Vec::with_capacity(PREFIX_LEN + padded_len + offset);
    bytes.extend_from_slice(&(padded_len as u64).to_le_bytes());
    bytes.extend_from_slice(json.as_bytes());
    bytes.resize(PREFIX_LEN + padded_len, b' ');
    bytes
}

/// Parses and validates a whole file: its header (as `safetensors`' [`Metadata`]) and its
/// data section, whose every tensor's `data_offsets` the header has been checked to lie in.
///
/// Never panics and never allocates more than a small multiple of `bytes.len()`. Before
/// handing the bytes to `safetensors`, checks what its parser assumes: that the header fits in
/// the file, and that no tensor's end offset lies past the end of the data (`safetensors` 0.8
/// adds the last offset to the header length unchecked, which overflows and panics in a debug
/// build for offsets near `u64::MAX`). The header is therefore parsed twice; it is small.
pub(super) fn parse(bytes: &[u8]) -> Result<(Metadata, &[u8]), WeightsError> {
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
                "its first 8 bytes give a header length of {header_len} bytes but only {} follow",
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

    match SafeTensors::read_metadata(bytes) {
        Ok((_, metadata)) => Ok((metadata, data)),
        Err(SafeTensorError::MetadataIncompleteBuffer) => Err(corrupt(format!(
            "{} bytes after the end of the last tensor",
            data_len.saturating_sub(data_end)
        ))),
        Err(SafeTensorError::TensorInvalidInfo) => Err(corrupt(
            explain_size_mismatch(entries)
                .unwrap_or_else(|| SafeTensorError::TensorInvalidInfo.to_string()),
        )),
        Err(error) => Err(corrupt(error.to_string())),
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
