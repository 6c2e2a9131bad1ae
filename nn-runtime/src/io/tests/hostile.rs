//! Bytes built to break the parser, and random ones: errors, never a panic.

use super::*;

/// `safetensors` 0.8 computes `last offset + 8 + header length` unchecked: offsets summing to
/// near `u64::MAX` overflow it (a panic in debug builds). The loader rejects them first.
#[test]
fn hostile_offsets_near_u64_max_are_rejected_without_panic() {
    // U8 tensors of 2^61 - 1 bytes (8 bits each: the largest that passes the shape check),
    // eight of them and one of 7 bytes: the last ends at u64::MAX.
    let sizes = [(1u64 << 61) - 1; 8].into_iter().chain([7]);
    let mut entries = Vec::new();
    let mut begin = 0u64;
    for (i, size) in sizes.enumerate() {
        let end = begin + size;
        entries.push(format!(
            r#""t{i}":{{"dtype":"U8","shape":[{size}],"data_offsets":[{begin},{end}]}}"#
        ));
        begin = end;
    }
    assert_eq!(begin, u64::MAX);
    let header = format!("{{{}}}", entries.join(","));
    let error = load_error(&raw_file(header.as_bytes(), 0));
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

/// Both JSON parsers keep the last of duplicate keys: a hostile first entry is not seen by
/// either, and a hostile last one is seen by the guard.
#[test]
fn duplicate_keys_are_seen_alike_by_guard_and_parser() {
    let hostile = format!(
        r#"{{"dtype":"U8","shape":[{0}],"data_offsets":[0,{0}]}}"#,
        u64::MAX
    );
    let sane = r#"{"dtype":"F32","shape":[3],"data_offsets":[0,12]}"#;
    let header = format!(r#"{{"h1.bias":{hostile},"h1.bias":{sane}}}"#);
    assert!(matches!(
        load_error(&raw_file(header.as_bytes(), 12)),
        WeightsError::MissingTensor { .. }
    ));
    let header = format!(r#"{{"h1.bias":{sane},"h1.bias":{hostile}}}"#);
    assert!(matches!(
        load_error(&raw_file(header.as_bytes(), 12)),
        WeightsError::Truncated { .. }
    ));
}

/// Random bytes, and valid files with bytes flipped, cut, inserted or overwritten, never panic
/// the loader, and every failure leaves the network as it was.
#[test]
fn fuzz_never_panics() {
    let valid = to_bytes(&numbered::<f32>());
    let mut rng = StdRng::seed_from_u64(0x5afe_7e45);
    let mut outcomes = [0usize; 2];
    for case in 0..4000 {
        let bytes = mutate(&valid, case, &mut rng);
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut net = numbered::<f32>();
            let result = load_from_bytes(&mut net, &bytes);
            if result.is_err() {
                assert_eq!(net, numbered::<f32>());
            }
            result.is_ok()
        }));
        let Ok(ok) = result else {
            panic!("case {case} panicked on {bytes:?}")
        };
        outcomes[usize::from(ok)] += 1;
    }
    // Flips in tensor data still load: the cases exercise both paths.
    assert!(outcomes[0] > 1000 && outcomes[1] > 100, "{outcomes:?}");
}

/// Case `case` of the fuzz test: a mutation of `valid` or random bytes.
fn mutate(valid: &[u8], case: usize, rng: &mut StdRng) -> Vec<u8> {
    let mut bytes = valid.to_vec();
    let at = |rng: &mut StdRng, len: usize| rng.random_range(0..len.max(1));
    match case % 6 {
        0 => {
            let len = rng.random_range(0..512);
            (0..len).map(|_| rng.random()).collect()
        }
        1 => {
            // Flip bits, mostly in the header (where the interesting failures are).
            for _ in 0..rng.random_range(1..4) {
                let i = if rng.random_bool(0.8) {
                    at(rng, 8 + 400)
                } else {
                    at(rng, bytes.len())
                };
                if let Some(byte) = bytes.get_mut(i) {
                    *byte ^= 1 << rng.random_range(0..8);
                }
            }
            bytes
        }
        2 => {
            bytes.truncate(at(rng, valid.len()));
            bytes
        }
        3 => {
            let i = at(rng, bytes.len());
            let extra: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
            bytes.splice(i..i, extra);
            bytes
        }
        4 => {
            // Overwrite a header byte with a JSON-significant one or a digit.
            const CHARS: &[u8] = b"{}[]\",:0123456789-e. \\";
            let i = at(rng, 8 + 400);
            if let Some(byte) = bytes.get_mut(i) {
                *byte = CHARS[rng.random_range(0..CHARS.len())];
            }
            bytes
        }
        _ => {
            // A random header length over valid content.
            let len: u64 = if rng.random_bool(0.5) {
                rng.random()
            } else {
                rng.random_range(0..1024)
            };
            bytes[..8].copy_from_slice(&len.to_le_bytes());
            bytes
        }
    }
}
