//! Writing a header: [`header`].

use serde_json::Value;

use crate::PREFIX_LEN;

/// The header of a file holding `tensors` (name, shape, in data order) of dtype `dtype`
/// (`scalar_bytes` wide), with `metadata` (written in the given order), including the 8-byte
/// length prefix and the space padding to a multiple of 8 bytes that `safetensors` writes. The
/// tensor data, row-major, follows it in the same order.
///
/// The JSON is built by hand so that the same tensors always give the same bytes: the
/// `safetensors` crate keeps metadata in a `HashMap`, whose order changes from run to run.
/// Otherwise the layout is the crate's: `__metadata__` first, then the tensors in data order,
/// each `{"dtype":..,"shape":[..],"data_offsets":[begin,end]}`, compact. For the bytes the
/// Python package writes, give the tensors sorted by name and the metadata sorted by key.
pub fn header(
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
            ",{}:{{\"dtype\":{},\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            json_string(name),
            json_string(dtype),
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

/// A JSON string literal for `text`, escaped as `serde_json` (and so `safetensors`) writes it.
fn json_string(text: &str) -> String {
    Value::from(text).to_string()
}
