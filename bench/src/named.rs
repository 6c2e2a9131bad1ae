//! nn networks from and to named tensors in PyTorch layout, through nn's own safetensors I/O
//! (`nn_runtime::io`), so that every layer kind (dense, recurrent, convolution) is converted
//! to nn's storage exactly as a user's weight file would be.

use nn_runtime::Parameters;

/// A tensor: PyTorch name, row-major values, PyTorch shape.
pub type Named<'a> = (&'a str, &'a [f32], Vec<usize>);

/// The bytes of a safetensors file holding `tensors` as F32.
pub fn safetensors(tensors: &[Named<'_>]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, values, shape) in tensors {
        assert_eq!(
            values.len(),
            shape.iter().product::<usize>(),
            "{name}: shape {shape:?}"
        );
        let start = data.len();
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        header.insert(
            (*name).to_string(),
            serde_json::json!({ "dtype": "F32", "shape": shape, "data_offsets": [start, data.len()] }),
        );
    }
    let mut header = serde_json::Value::Object(header).to_string().into_bytes();
    // The data starts 8-byte aligned, as the safetensors writers do.
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.extend(data);
    bytes
}

/// A boxed nn network holding `tensors` (every one of its tensors, by PyTorch name).
pub fn load<N: Parameters<f32>>(tensors: &[Named<'_>]) -> Box<N> {
    let mut net = N::boxed_zeros();
    if let Err(e) = nn_runtime::io::load_from_bytes(&mut *net, &safetensors(tensors)) {
        panic!("loading the bench's weights into nn: {e}");
    }
    net
}

/// `net`'s tensors by PyTorch name, row-major, as `nn_runtime::io` saves them.
pub fn export<N: Parameters<f32>>(net: &N) -> Vec<(String, Vec<f32>)> {
    let bytes = nn_runtime::io::to_bytes(net);
    let len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..8 + len]).expect("nn's safetensors header");
    let data = &bytes[8 + len..];
    N::TENSORS
        .iter()
        .map(|t| {
            let offsets = &header[t.name]["data_offsets"];
            let (s, e) = (
                offsets[0].as_u64().expect("offset") as usize,
                offsets[1].as_u64().expect("offset") as usize,
            );
            assert_eq!(header[t.name]["dtype"], "F32", "{}: f32", t.name);
            let values = data[s..e]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect();
            (t.name.to_string(), values)
        })
        .collect()
}
