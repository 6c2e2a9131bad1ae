//! Parsing: what a file holds, every way it can be wrong (one message each), hostile bytes.

use super::*;

/// A safetensors file with `header` (JSON) and `data` bytes of tensor data.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

const TWO_TENSORS: &str = r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"w":{"dtype":"F64","shape":[2,3],"data_offsets":[12,60]}}"#;

#[test]
fn tensors_come_in_data_order_with_their_bytes() {
    let data: Vec<u8> = (0..60).collect();
    let bytes = file(TWO_TENSORS, &data);
    let file = File::parse(&bytes).unwrap();
    let names: Vec<_> = file.tensors().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["b", "w"]);
    let w = file.tensor("w").unwrap();
    assert_eq!((w.dtype.as_str(), w.shape.as_slice()), ("F64", &[2, 3][..]));
    assert_eq!(w.data, &data[12..]);
    assert_eq!(file.tensor("b").unwrap().data, &data[..12]);
    assert!(file.tensor("x").is_none());
    assert_eq!(file.metadata()["format"], "pt");
}

#[test]
fn the_header_written_parses_back() {
    let mut bytes = header("F32", 4, &[("a", "\"q\"")], &[("b", &[2]), ("a", &[1, 1])]);
    assert_eq!(bytes.len() % 8, 0);
    bytes.extend_from_slice(&[0; 12]);
    let file = File::parse(&bytes).unwrap();
    assert_eq!(file.metadata()["a"], "\"q\"");
    assert_eq!(file.tensor("a").unwrap().data.len(), 4);
    assert_eq!(file.tensors()[0].name, "b");
}

/// Each way a file can be wrong, and its whole message.
#[test]
fn problems_with_the_file_are_explained() {
    let cases: [(Vec<u8>, &str); 10] = [
        (
            b"abc".to_vec(),
            "truncated: it has 3 bytes but its header needs 8",
        ),
        (
            b"h1,h2,h3\n1,2,3\n".to_vec(),
            "not a safetensors file: its first 8 bytes give a header length of \
             3704259288519946600 bytes, more than the 100000000 safetensors allows",
        ),
        (
            b"\x20\0\0\0\0\0\0\0short".to_vec(),
            "not a safetensors file: its first 8 bytes give a header length of 32 bytes but \
             only 5 follow",
        ),
        (
            file("[1]", b""),
            "not a safetensors file: the header does not start with `{`",
        ),
        (
            file("{\"w\":", b""),
            "corrupt safetensors file: invalid JSON in header: EOF while parsing a value at \
             line 1 column 5",
        ),
        (
            file(
                r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                b"1234",
            ),
            "truncated: it has 66 bytes but its header needs 70",
        ),
        (
            file(
                r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                b"12345678",
            ),
            "corrupt safetensors file: tensor `w` of dtype F32 and shape [3] takes 12 bytes but \
             its data_offsets [0, 8] span 8",
        ),
        (
            file(r#"{"__metadata__":{"format":"pt","epochs":10}}"#, b""),
            "metadata `epochs` is the number 10, but safetensors metadata values must be \
             strings; store it as a string",
        ),
        (
            file(r#"{"__metadata__":{"ok":true}}"#, b""),
            "metadata `ok` is the boolean true, but safetensors metadata values must be \
             strings; store it as a string",
        ),
        (
            file(r#"{"__metadata__":"pt"}"#, b""),
            "`__metadata__` is the string \"pt\", but safetensors metadata must be an object of strings \
             such as {\"format\": \"pt\"}",
        ),
    ];
    for (bytes, expected) in cases {
        let error = File::parse(&bytes).unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
}

/// A tensor entry of the wrong form is named, with the field and what it holds, where
/// `safetensors` would give only a line and column.
#[test]
fn malformed_tensor_entries_are_named() {
    let cases = [
        (
            r#"{"w":[0,4]}"#,
            "tensor `w` is the array [0,4], but a tensor entry is an object with `dtype`, \
             `shape` and `data_offsets`",
        ),
        (
            r#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#,
            "tensor `w` has no `dtype`; a tensor entry has `dtype`, `shape` and `data_offsets`",
        ),
        (
            r#"{"w":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}"#,
            "tensor `w` has `dtype` the string \"F17\", which is not a safetensors dtype such \
             as \"F32\"",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}"#,
            "tensor `w` has `shape` the string \"1\", but a shape is an array of sizes such as \
             [128, 64]",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
            "tensor `w` has `shape` the array [-1], but a shape is an array of sizes such as \
             [128, 64]",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}"#,
            "tensor `w` has `data_offsets` the array [4], but data offsets are a begin and an \
             end byte such as [0, 512]",
        ),
    ];
    for (header, expected) in cases {
        let error = File::parse(&file(header, &[0; 4])).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("corrupt safetensors file: {expected}")
        );
    }
    let long = "x".repeat(100);
    let header = format!(r#"{{"__metadata__":{{"a":["{long}"]}}}}"#);
    assert_eq!(
        File::parse(&file(&header, b"")).unwrap_err().to_string(),
        "metadata `a` is an array, but safetensors metadata values must be strings; store it \
         as a string"
    );
}

#[test]
fn errors_in_a_file_name_it() {
    let error = File::parse(b"abc")
        .unwrap_err()
        .in_file(std::path::Path::new("w.safetensors"));
    assert_eq!(
        error.to_string(),
        "weights file `w.safetensors`: truncated: it has 3 bytes but its header needs 8"
    );
}

#[test]
fn a_missing_tensor_lists_at_most_ten_names() {
    let error = |available: Vec<String>| {
        WeightsError::MissingTensor {
            file: None,
            name: "h1.bias".into(),
            looked_for: "h1.bias".into(),
            shape: vec![3],
            available,
        }
        .to_string()
    };
    assert_eq!(
        error(vec![]),
        "tensor `h1.bias` (shape [3]) is missing from the file, which has no tensors"
    );
    let names = (0..12).map(|i| format!("t{i}")).collect();
    assert_eq!(
        error(names),
        "tensor `h1.bias` (shape [3]) is missing from the file, which has `t0`, `t1`, `t2`, \
         `t3`, `t4`, `t5`, `t6`, `t7`, `t8`, `t9` and 2 more (closest first)"
    );
}

/// `safetensors` 0.8 overflows (a panic in debug builds) adding the last end offset to the
/// header length: offsets near `u64::MAX` must be rejected first.
#[test]
fn hostile_offsets_near_u64_max_are_rejected_without_panic() {
    let mut entries = Vec::new();
    let mut begin = 0u64;
    for (i, size) in [(1u64 << 61) - 1; 8].into_iter().chain([7]).enumerate() {
        let end = begin + size;
        entries.push(format!(
            r#""t{i}":{{"dtype":"U8","shape":[{size}],"data_offsets":[{begin},{end}]}}"#
        ));
        begin = end;
    }
    let header = format!("{{{}}}", entries.join(","));
    let error = File::parse(&file(&header, b"")).unwrap_err();
    assert!(
        matches!(
            error,
            WeightsError::Truncated {
                needed: u64::MAX,
                ..
            }
        ),
        "{error}"
    );
}

/// Random bytes, and a valid file with bytes flipped or cut, never panic the parser.
#[test]
fn never_panics() {
    let valid = file(TWO_TENSORS, &[0; 60]);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // xorshift64*: reproducible without a dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for _ in 0..3000 {
        let mut bytes = valid.clone();
        match next() % 3 {
            0 => {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = next() as u8;
            }
            1 => bytes.truncate((next() % bytes.len() as u64) as usize),
            _ => {
                let at = (next() % 8) as usize;
                bytes[at] = next() as u8;
            }
        }
        if let Ok(file) = File::parse(&bytes) {
            for tensor in file.tensors() {
                let width = Scalar::from_dtype(&tensor.dtype).map_or(1, Scalar::width);
                to_column_major(&tensor.shape, tensor.data, width);
            }
        }
    }
    assert!(File::parse(&valid).is_ok());
}
