//! One test per way a load fails: the exact variant and message, the network unchanged.

use super::*;

#[test]
fn error_missing_tensor() {
    let mut tensors = tiny_tensors();
    tensors.retain(|(name, ..)| *name != "norm.bias");
    let error = load_error(&file_with(&tensors));
    assert!(
        matches!(&error, WeightsError::MissingTensor { name, shape, file: None, .. } if name == "norm.bias" && shape == &[3])
    );
    assert_eq!(
        error.to_string(),
        "tensor `norm.bias` (shape [3]) is missing from the file, which has `out.bias`, \
         `h1.bias`, `norm.weight`, `out.weight`, `h1.weight`, `h2.proj.weight` (closest first)"
    );
}

#[test]
fn error_unexpected_tensor() {
    let mut tensors = tiny_tensors();
    tensors.push(("h3.weight", Dtype::F32, vec![4, 3], vec![0; 48]));
    let error = load_error(&file_with(&tensors));
    assert!(
        matches!(&error, WeightsError::UnexpectedTensor { name, shape, .. } if name == "h3.weight" && shape == &[4, 3])
    );
    assert_eq!(
        error.to_string(),
        "unexpected tensor `h3.weight` (shape [4, 3]): the network has no parameter of that name"
    );
}

#[test]
fn error_shape_mismatch() {
    let mut tensors = tiny_tensors();
    tensors[0].2 = vec![2, 3]; // h1.weight stored as [in, out]
    let error = load_error(&file_with(&tensors));
    assert!(
        matches!(&error, WeightsError::ShapeMismatch { name, expected, found, .. }
        if name == "h1.weight" && expected == &[3, 2] && found == &[2, 3])
    );
    assert_eq!(
        error.to_string(),
        "tensor `h1.weight` has shape [2, 3] but the network expects [3, 2]"
    );
}

#[test]
fn error_shape_mismatch_rank() {
    let mut tensors = tiny_tensors();
    tensors[1].2 = vec![3, 1]; // h1.bias as a column
    let error = load_error(&file_with(&tensors));
    assert_eq!(
        error.to_string(),
        "tensor `h1.bias` has shape [3, 1] but the network expects [3]"
    );
}

#[test]
fn error_dtype_mismatch_f32_file_into_f64_network() {
    let bytes = to_bytes(&numbered::<f32>());
    let mut net = numbered::<f64>();
    let error = load_from_bytes(&mut net, &bytes).unwrap_err();
    assert_eq!(net, numbered::<f64>());
    assert!(
        matches!(&error, WeightsError::DtypeMismatch { name, expected: "F64", found, .. } if name == "h1.weight" && found == "F32")
    );
    assert_eq!(
        error.to_string(),
        "tensor `h1.weight` has dtype F32 but the network's scalar is F64; load it into a network \
         of the file's scalar type, or convert on load with `LoadOptions::convert_dtype`"
    );
}

#[test]
fn error_dtype_mismatch_half_precision() {
    let mut tensors = tiny_tensors();
    tensors[3] = ("norm.weight", Dtype::BF16, vec![3], vec![0; 6]);
    let error = load_error(&file_with(&tensors));
    assert!(
        matches!(&error, WeightsError::DtypeMismatch { name, expected: "F32", found, .. } if name == "norm.weight" && found == "BF16")
    );
    assert_eq!(
        error.to_string(),
        "tensor `norm.weight` has dtype BF16 but the network's scalar is F32; load it into a \
         network of the file's scalar type, or convert on load with `LoadOptions::convert_dtype`"
    );
}

/// A dtype that is not a float never converts, with or without the option, and the message
/// does not offer the option.
#[test]
fn error_dtype_mismatch_integer_never_converts() {
    let mut tensors = tiny_tensors();
    tensors[1] = ("h1.bias", Dtype::I64, vec![3], vec![0; 24]);
    let bytes = file_with(&tensors);
    for options in [LoadOptions::new(), LoadOptions::new().convert_dtype()] {
        let mut net = numbered::<f32>();
        let error = load_from_bytes_with(&mut net, &bytes, &options).unwrap_err();
        assert_eq!(net, numbered::<f32>());
        assert_eq!(
            error.to_string(),
            "tensor `h1.bias` has dtype I64 but the network's scalar is F32; only F16, BF16, F32 \
             and F64 tensors convert on load; convert the file to one of those"
        );
    }
}

/// A finite `F64` value beyond `f32::MAX` is an error naming the tensor and the element, not an
/// infinity; the network is unchanged even though earlier tensors converted.
#[test]
fn error_overflow_converting_f64_to_f32() {
    for (value, shown) in [(1e300, "1e300"), (-f64::MAX, "-1.7976931348623157e308")] {
        let mut source = numbered::<f64>();
        source.out.weight[(1, 2)] = value; // [2, 3]: row 1, column 2
        let mut net = numbered::<f32>();
        let options = LoadOptions::new().convert_dtype();
        let error = load_from_bytes_with(&mut net, &to_bytes(&source), &options).unwrap_err();
        assert_eq!(net, numbered::<f32>(), "a failed load changed the network");
        assert!(
            matches!(&error, WeightsError::Overflow { name, index, expected: "F32", found, .. }
            if name == "out.weight" && **index == [1, 2] && found == "F64")
        );
        assert_eq!(
            error.to_string(),
            format!(
                "tensor `out.weight` element [1, 2] is {shown}, which overflows F32 (largest finite \
                 3.4028235e38); load the file into a network of scalar F64"
            )
        );
    }
}

#[test]
fn error_truncated() {
    let bytes = to_bytes(&numbered::<f32>());
    let len = bytes.len() as u64;
    // Cut in the data, in the header, in the length prefix.
    let error = load_error(&bytes[..bytes.len() - 1]);
    assert!(
        matches!(error, WeightsError::Truncated { len: l, needed, file: None } if l == len - 1 && needed == len)
    );
    assert_eq!(
        error.to_string(),
        format!(
            "truncated: it has {} bytes but its header needs {len}",
            len - 1
        )
    );
    let error = load_error(&bytes[..20]);
    assert!(matches!(error, WeightsError::Truncated { len: 20, .. }));
    let error = load_error(&bytes[..5]);
    assert!(matches!(
        error,
        WeightsError::Truncated {
            len: 5,
            needed: 8,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "truncated: it has 5 bytes but its header needs 8"
    );
    assert!(matches!(
        load_error(&[]),
        WeightsError::Truncated {
            len: 0,
            needed: 8,
            ..
        }
    ));
}

#[test]
fn error_corrupt_header() {
    let mut bytes = to_bytes(&numbered::<f32>());
    let at = bytes.windows(7).position(|w| w == b"\"dtype\"").unwrap();
    bytes[at + 1] = b'D'; // "Dtype": the tensor entry lacks its dtype
    let error = load_error(&bytes);
    assert!(matches!(&error, WeightsError::Corrupt { file: None, .. }));
    assert_eq!(
        error.to_string(),
        "corrupt safetensors file: tensor `h1.bias` has no `dtype`; a tensor entry has \
         `dtype`, `shape` and `data_offsets`"
    );

    let mut bytes = to_bytes(&numbered::<f32>());
    bytes[9] = b'!'; // not JSON
    let error = load_error(&bytes);
    assert_eq!(
        error.to_string(),
        "corrupt safetensors file: invalid JSON in header: key must be a string at line 1 column 2"
    );
}

#[test]
fn error_corrupt_trailing_bytes() {
    let mut bytes = to_bytes(&numbered::<f32>());
    bytes.extend_from_slice(&[0; 4]);
    let error = load_error(&bytes);
    assert!(
        matches!(&error, WeightsError::Corrupt { reason, .. } if reason == "4 bytes after the end of the last tensor")
    );
    assert_eq!(
        error.to_string(),
        "corrupt safetensors file: 4 bytes after the end of the last tensor"
    );
}

#[test]
fn error_corrupt_offsets() {
    // Valid JSON, offsets that overlap.
    let header = br#"{"h1.weight":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]},"h1.bias":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}"#;
    let error = load_error(&raw_file(header, 24));
    assert_eq!(
        error.to_string(),
        "corrupt safetensors file: invalid offset for tensor `h1.bias`"
    );
}

#[test]
fn error_corrupt_size_names_the_tensor() {
    // h1.bias [3] of F32 is 12 bytes; its offsets say 16.
    let header = br#"{"h1.bias":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#;
    let error = load_error(&raw_file(header, 16));
    assert_eq!(
        error.to_string(),
        "corrupt safetensors file: tensor `h1.bias` of dtype F32 and shape [3] takes 12 bytes but \
         its data_offsets [0, 16] span 16"
    );
}

#[test]
fn error_not_safetensors() {
    let error = load_error(b"PK\x03\x04 this is a zip archive, as torch.save writes");
    assert!(matches!(
        &error,
        WeightsError::NotSafetensors { file: None, .. }
    ));
    assert_eq!(
        error.to_string(),
        "not a safetensors file: its first 8 bytes give a header length of 7595448452415441744 bytes, more \
         than the 100000000 safetensors allows"
    );
    let error = load_error(b"\x10\0\0\0\0\0\0\0[1, 2, 3]       ");
    assert_eq!(
        error.to_string(),
        "not a safetensors file: the header does not start with `{`"
    );
    let error = load_error(b"\xff\0\0\0\0\0\0\0short text");
    assert_eq!(
        error.to_string(),
        "not a safetensors file: its first 8 bytes give a header length of 255 bytes but only 10 follow"
    );
    let error = load_error(&[0; 64]);
    assert!(matches!(error, WeightsError::NotSafetensors { .. }));
}

#[test]
fn error_metadata_value_not_a_string() {
    let header = br#"{"__metadata__":{"format":"pt","epochs":10},"h1.bias":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#;
    let error = load_error(&raw_file(header, 12));
    assert_eq!(
        error.to_string(),
        "metadata `epochs` is the number 10, but safetensors metadata values must be strings; \
         store it as a string"
    );
    let header = br#"{"__metadata__":{"tags":["a","b"]}}"#;
    assert_eq!(
        load_error(&raw_file(header, 0)).to_string(),
        "metadata `tags` is the array [\"a\",\"b\"], but safetensors metadata values must be strings; \
         store it as a string"
    );
}

#[test]
fn error_metadata_not_an_object() {
    let header = br#"{"__metadata__":["format","pt"]}"#;
    assert_eq!(
        load_error(&raw_file(header, 0)).to_string(),
        "`__metadata__` is the array [\"format\",\"pt\"], but safetensors metadata must be an object of strings \
         such as {\"format\": \"pt\"}"
    );
    let header = br#"{"__metadata__":null}"#;
    assert_eq!(
        load_error(&raw_file(header, 0)).to_string(),
        "`__metadata__` is null, but safetensors metadata must be an object of strings \
         such as {\"format\": \"pt\"}"
    );
}

#[test]
fn error_missing_tensor_lists_the_file_closest_first() {
    let mut tensors = tiny_tensors();
    tensors.retain(|(name, ..)| *name != "h1.bias");
    tensors.push(("h1.biases", Dtype::F32, vec![3], vec![0; 12]));
    let error = load_error(&file_with(&tensors));
    assert_eq!(
        error.to_string(),
        "tensor `h1.bias` (shape [3]) is missing from the file, which has `h1.biases`, \
         `out.bias`, `norm.bias`, `h1.weight`, `out.weight`, `norm.weight`, `h2.proj.weight` \
         (closest first)"
    );
}
