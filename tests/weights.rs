//! Weight files: interop with the Python `safetensors` package and numpy, round trips, and every
//! way a load can fail (a typed error naming the file, and the network left unchanged).
//!
//! The fixtures in `tests/fixtures/safetensors/` come from `generate.py` and
//! `generate_pytorch.py` there (run them to regenerate; these tests need no Python).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use nn_runtime::io::{self, ARCHITECTURE_KEY, LoadOptions, Loaded, WeightsError};
use nn_runtime::nalgebra::SVector;
use nn_runtime::{Parameters, Real};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

nn_runtime::network! {
    /// The network of the interop fixture: a residual and a layer norm.
    #[derive(Debug)]
    pub struct Interop {
        input: 4,
        h1: dense(8, relu),
        h2: dense(8, tanh) + h1,
        norm: layer_norm,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// `Interop` with another activation: the same tensors, another declaration.
    pub struct InteropGelu {
        input: 4,
        h1: dense(8, gelu),
        h2: dense(8, tanh) + h1,
        norm: layer_norm,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// `Interop` without its layer norm: a subset of its tensors.
    pub struct NoNorm {
        input: 4,
        h1: dense(8, relu),
        h2: dense(8, tanh) + h1,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// `Interop` with a wider first layer: the same names, other shapes.
    pub struct Wider {
        input: 4,
        h1: dense(9, relu),
        h2: dense(8, tanh) + project(h1),
        norm: layer_norm,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// The network of `generate_pytorch.py`: in PyTorch, `nn.Sequential(nn.Linear(4, 8),
    /// nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))`.
    pub struct Mlp {
        input: 4,
        h1: dense(8, relu),
        h2: dense(8, tanh),
        out: dense(3),
        loss: mse,
    }
}

nn_runtime::network! {
    /// A network with 65536 weights, to hold every `F16` bit pattern.
    pub struct F16Table {
        input: 256,
        out: dense(256),
        loss: mse,
    }
}

/// Largest difference allowed between nn's `f32` forward pass and numpy's `f64` one on the
/// fixture. Logits are O(1); an f32 pass through 4 layers of width ≤ 8 accumulates a few
/// ulps (ε = 1.2e-7), measured ≈ 2e-7; 1e-6 leaves room and still catches any layout slip
/// (a transposed weight is off by O(1)).
const INTEROP_TOLERANCE: f64 = 1e-6;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/safetensors")
        .join(name)
}

/// A fresh directory for this test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nn-weights-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An `Interop` with seeded random parameters.
fn random<T: Real>(seed: u64) -> Box<Interop<T>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = Interop::<T>::boxed_zeros();
    for index in 0..Interop::<T>::TENSORS.len() {
        for value in net.tensor_mut(index) {
            *value = T::constant(rng.random_range(-1.0..1.0));
        }
    }
    net
}

/// Every parameter's bits, tensor by tensor: equal iff the networks are bit-identical.
fn bits<T: Real, N: Parameters<T>>(net: &N) -> Vec<Vec<u64>> {
    (0..N::TENSORS.len())
        .map(|index| {
            net.tensor(index)
                .iter()
                .map(|value| value.to_f64().to_bits())
                .collect()
        })
        .collect()
}

/// Loads `path` into a random `Interop<f32>`, asserts the load failed and left the network
/// bit-identical, and returns the error.
fn load_error(path: &Path) -> WeightsError {
    let mut net = random::<f32>(7);
    let before = bits(&*net);
    let error = io::load(&mut *net, path).unwrap_err();
    assert_eq!(bits(&*net), before, "a failed load changed the network");
    error
}

fn rows(cases: &Value, key: &str) -> Vec<Vec<f64>> {
    serde_json::from_value(cases[key].clone()).unwrap()
}

#[test]
fn interop_fixture_reproduces_numpy_outputs() {
    let mut net = Interop::<f32>::boxed_zeros();
    let loaded = io::load(&mut *net, fixture("interop.safetensors")).unwrap();
    // Written by Python: PyTorch's metadata, no recorded declaration.
    assert_eq!(
        loaded.metadata.get("format").map(String::as_str),
        Some("pt")
    );
    assert_eq!(loaded.architecture, None);
    assert!(!loaded.architecture_differs);

    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("interop_cases.json")).unwrap())
            .unwrap();
    let (inputs, expected) = (rows(&cases, "x"), rows(&cases, "logits"));
    assert_eq!(inputs.len(), 16);
    let mut max_error = 0.0f64;
    for (x, expected) in inputs.iter().zip(&expected) {
        let x = SVector::<f32, 4>::from_iterator(x.iter().map(|&v| v as f32));
        let logits: SVector<f32, 3> = net.forward(&x);
        for (&got, &want) in logits.iter().zip(expected) {
            max_error = max_error.max((f64::from(got) - want).abs());
        }
    }
    eprintln!("interop: max |nn f32 - numpy f64| over 16 samples × 3 logits = {max_error:.3e}");
    assert!(max_error < INTEROP_TOLERANCE, "max error {max_error:e}");
}

#[test]
fn interop_weights_land_in_the_pytorch_positions() {
    let net: Box<Interop> = io::load_boxed(fixture("interop.safetensors")).unwrap();
    // The file's h1.weight is [8, 4] row-major: bytes of element (r, c) at 4 * (r * 4 + c)
    // from its data offset; nalgebra's (r, c) must be that element.
    let bytes = std::fs::read(fixture("interop.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let begin = header["h1.weight"]["data_offsets"][0].as_u64().unwrap() as usize;
    let data = &bytes[8 + header_len + begin..];
    for r in 0..8 {
        for c in 0..4 {
            let at = 4 * (r * 4 + c);
            let value = f32::from_le_bytes(data[at..at + 4].try_into().unwrap());
            assert_eq!(
                net.h1.weight[(r, c)].to_bits(),
                value.to_bits(),
                "({r}, {c})"
            );
        }
    }
}

/// What nn writes has the layout the Python package writes: the same tensor entries (dtype,
/// shape, data offsets, in the same order), the same data bytes, and the metadata plus the
/// recorded declaration.
#[test]
fn saved_file_has_the_layout_python_writes() {
    let python = std::fs::read(fixture("interop.safetensors")).unwrap();
    let mut net = Interop::<f32>::boxed_zeros();
    io::load_from_bytes(&mut *net, &python).unwrap();
    let ours = io::to_bytes(&*net);

    let split = |bytes: &[u8]| {
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(header_len % 8, 0, "header padded to 8 bytes");
        let header: serde_json::Map<String, Value> =
            serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
        (header, bytes[8 + header_len..].to_vec())
    };
    let (mut python_header, python_data) = split(&python);
    let (mut our_header, our_data) = split(&ours);
    assert_eq!(our_data, python_data);

    let python_metadata = python_header.remove("__metadata__").unwrap();
    let our_metadata = our_header.remove("__metadata__").unwrap();
    assert_eq!(python_metadata, serde_json::json!({ "format": "pt" }));
    assert_eq!(
        our_metadata,
        serde_json::json!({ "format": "pt", ARCHITECTURE_KEY: Interop::<f32>::ARCHITECTURE })
    );
    assert_eq!(our_header, python_header);
    // Same order in the data section (the JSON maps above compare unordered).
    let by_offset = |header: &serde_json::Map<String, Value>| {
        let mut names: Vec<(u64, String)> = header
            .iter()
            .map(|(name, entry)| (entry["data_offsets"][0].as_u64().unwrap(), name.clone()))
            .collect();
        names.sort();
        names.into_iter().map(|(_, name)| name).collect::<Vec<_>>()
    };
    assert_eq!(by_offset(&our_header), by_offset(&python_header));
    assert_eq!(
        by_offset(&our_header),
        [
            "h1.bias",
            "h1.weight",
            "h2.bias",
            "h2.weight",
            "norm.bias",
            "norm.weight",
            "out.bias",
            "out.weight"
        ]
    );
    // And after the metadata, our header is byte-identical to Python's (padding aside).
    let tensors_text = |bytes: &[u8]| {
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let text = std::str::from_utf8(&bytes[8..8 + header_len])
            .unwrap()
            .trim_end();
        text[text.find(r#","h1.bias":"#).unwrap()..].to_owned()
    };
    assert_eq!(tensors_text(&ours), tensors_text(&python));
}

#[test]
fn round_trip_through_a_file_is_bit_identical_f32() {
    let dir = scratch("round-trip-f32");
    let path = dir.join("interop.safetensors");
    let net = random::<f32>(1);
    io::save(&*net, &path).unwrap();
    let again: Box<Interop<f32>> = io::load_boxed(&path).unwrap();
    assert_eq!(bits(&*again), bits(&*net));
    // Saving twice gives the same bytes.
    let first = std::fs::read(&path).unwrap();
    io::save(&*again, &path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), first);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn round_trip_through_a_file_is_bit_identical_f64() {
    let dir = scratch("round-trip-f64");
    let path = dir.join("interop.safetensors");
    let net = random::<f64>(2);
    io::save(&*net, &path).unwrap();
    let mut again = Interop::<f64>::boxed_zeros();
    let loaded = io::load(&mut *again, &path).unwrap();
    assert_eq!(bits(&*again), bits(&*net));
    assert_eq!(
        loaded.architecture.as_deref(),
        Some(Interop::<f64>::ARCHITECTURE)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn error_missing_tensor() {
    let dir = scratch("missing");
    let path = dir.join("no-norm.safetensors");
    io::save(&*NoNorm::<f32>::boxed_zeros(), &path).unwrap();
    let error = load_error(&path);
    assert!(
        matches!(&error, WeightsError::MissingTensor { name, shape, file: Some(file), .. }
        if name == "norm.weight" && shape == &[8] && file == &path)
    );
    assert_eq!(
        error.to_string(),
        format!(
            "weights file `{}`: tensor `norm.weight` (shape [8]) is missing from the file, \
             which has `out.weight`, `h1.weight`, `h2.weight`, `out.bias`, `h1.bias`, \
             `h2.bias` (closest first)",
            path.display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn error_unexpected_tensor() {
    let mut net = NoNorm::<f32>::boxed_zeros();
    let error = io::load(&mut *net, fixture("interop.safetensors")).unwrap_err();
    assert_eq!(bits(&*net), bits(&*NoNorm::<f32>::boxed_zeros()));
    assert!(
        matches!(&error, WeightsError::UnexpectedTensor { name, shape, .. }
        if name == "norm.bias" && shape == &[8])
    );
    assert_eq!(
        error.to_string(),
        format!(
            "weights file `{}`: unexpected tensor `norm.bias` (shape [8]): the network has no \
             parameter of that name",
            fixture("interop.safetensors").display()
        )
    );
}

#[test]
fn error_shape_mismatch() {
    let mut net = Wider::<f32>::boxed_zeros();
    let error = io::load(&mut *net, fixture("interop.safetensors")).unwrap_err();
    assert_eq!(bits(&*net), bits(&*Wider::<f32>::boxed_zeros()));
    assert!(
        matches!(&error, WeightsError::ShapeMismatch { name, expected, found, .. }
        if name == "h1.weight" && expected == &[9, 4] && found == &[8, 4])
    );
    assert_eq!(
        error.to_string(),
        format!(
            "weights file `{}`: tensor `h1.weight` has shape [8, 4] but the network expects [9, 4]",
            fixture("interop.safetensors").display()
        )
    );
}

#[test]
fn error_dtype_mismatch() {
    // An f64 file into an f32 network; the f32 fixture into an f64 network.
    let dir = scratch("dtype");
    let path = dir.join("f64.safetensors");
    io::save(&*random::<f64>(3), &path).unwrap();
    let error = load_error(&path);
    assert!(
        matches!(&error, WeightsError::DtypeMismatch { name, expected: "F32", found, .. }
        if name == "h1.weight" && found == "F64")
    );
    assert_eq!(
        error.to_string(),
        format!(
            "weights file `{}`: tensor `h1.weight` has dtype F64 but the network's scalar is F32; \
             load it into a network of the file's scalar type, or convert on load with \
             `LoadOptions::convert_dtype`",
            path.display()
        )
    );

    let mut net = random::<f64>(4);
    let before = bits(&*net);
    let error = io::load(&mut *net, fixture("interop.safetensors")).unwrap_err();
    assert_eq!(bits(&*net), before);
    assert!(matches!(
        error,
        WeightsError::DtypeMismatch {
            expected: "F64",
            ..
        }
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn error_truncated() {
    let dir = scratch("truncated");
    let path = dir.join("cut.safetensors");
    let bytes = std::fs::read(fixture("interop.safetensors")).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let error = load_error(&path);
    assert!(matches!(
        error,
        WeightsError::Truncated {
            len: 1080,
            needed: 1180,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        format!(
            "weights file `{}`: truncated: it has 1080 bytes but its header needs 1180",
            path.display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn error_corrupt() {
    let dir = scratch("corrupt");
    let path = dir.join("corrupt.safetensors");
    let mut bytes = std::fs::read(fixture("interop.safetensors")).unwrap();
    bytes.extend_from_slice(b"junk");
    std::fs::write(&path, &bytes).unwrap();
    let error = load_error(&path);
    assert!(matches!(&error, WeightsError::Corrupt { reason, .. }
        if reason == "4 bytes after the end of the last tensor"));
    assert_eq!(
        error.to_string(),
        format!(
            "weights file `{}`: corrupt safetensors file: 4 bytes after the end of the last tensor",
            path.display()
        )
    );

    // A header that parses as JSON but not as safetensors: a shape disagreeing with its offsets.
    let mut bytes = std::fs::read(fixture("interop.safetensors")).unwrap();
    let at = bytes
        .windows(13)
        .position(|w| w == b"\"shape\":[8,4]")
        .unwrap();
    bytes[at + 9] = b'9'; // [9,4]: 144 bytes, offsets say 128
    std::fs::write(&path, &bytes).unwrap();
    let error = load_error(&path);
    assert_eq!(
        error.to_string(),
        format!(
            "weights file `{}`: corrupt safetensors file: tensor `h1.weight` of dtype F32 and \
             shape [9, 4] takes 144 bytes but its data_offsets [32, 160] span 128",
            path.display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn error_not_safetensors() {
    let dir = scratch("not-safetensors");
    let path = dir.join("notes.txt");
    std::fs::write(&path, "these are notes, not weights\n").unwrap();
    let error = load_error(&path);
    assert!(
        matches!(&error, WeightsError::NotSafetensors { file: Some(file), .. } if file == &path)
    );
    assert_eq!(
        error.to_string(),
        format!(
            "weights file `{}`: not a safetensors file: its first 8 bytes give a header length \
             of 8241904413164529780 bytes, more than the 100000000 safetensors allows",
            path.display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn error_unreadable_and_unwritable_files() {
    let dir = scratch("io");
    let missing = dir.join("missing.safetensors");
    let error = load_error(&missing);
    assert!(matches!(&error, WeightsError::Read { file, .. } if file == &missing));
    assert!(
        error.to_string().starts_with(&format!(
            "cannot read weights file `{}`: ",
            missing.display()
        )),
        "{error}"
    );

    let nowhere = dir.join("no/such/dir/w.safetensors");
    let error = io::save(&*random::<f32>(5), &nowhere).unwrap_err();
    assert!(matches!(&error, WeightsError::Write { file, .. } if file == &nowhere));
    assert!(error.to_string().starts_with(&format!(
        "cannot write weights file `{}`: ",
        nowhere.display()
    )));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A failed save leaves an existing file as it was (written aside, renamed over).
#[test]
fn save_replaces_a_file_whole() {
    let dir = scratch("replace");
    let path = dir.join("w.safetensors");
    io::save(&*random::<f32>(6), &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    io::save(&*random::<f32>(8), &path).unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), before);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["w.safetensors"], "no temporary file left behind");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The recorded declaration is informative: a file from `InteropGelu` (same tensors) loads
/// into `Interop`, and the difference is reported.
#[test]
fn architecture_difference_is_reported_not_an_error() {
    let mut gelu = InteropGelu::<f32>::boxed_zeros();
    gelu.h1.bias.fill(0.5);
    let bytes = io::to_bytes(&*gelu);
    let mut net = Interop::<f32>::boxed_zeros();
    let loaded: Loaded = io::load_from_bytes(&mut *net, &bytes).unwrap();
    assert_eq!(net.h1.bias, SVector::<f32, 8>::repeat(0.5));
    assert!(loaded.architecture_differs);
    assert_eq!(
        loaded.architecture.as_deref(),
        Some(InteropGelu::<f32>::ARCHITECTURE)
    );
    assert_ne!(
        InteropGelu::<f32>::ARCHITECTURE,
        Interop::<f32>::ARCHITECTURE
    );
}

/// Random bytes and mutations of the fixture (bit flips, truncations, insertions, header
/// bytes replaced by JSON punctuation or digits, random header lengths) never panic the
/// loader; every failure leaves the network unchanged.
#[test]
fn fuzz_loader_never_panics() {
    let valid = std::fs::read(fixture("interop.safetensors")).unwrap();
    let header_end = 8 + u64::from_le_bytes(valid[..8].try_into().unwrap()) as usize;
    let mut rng = StdRng::seed_from_u64(0x00f0_22ed);
    let mut net = random::<f32>(9);
    let (mut loaded, mut failed) = (0, 0);
    for case in 0..3000 {
        let mut bytes = valid.clone();
        match case % 6 {
            0 => {
                bytes = (0..rng.random_range(0..2048))
                    .map(|_| rng.random())
                    .collect()
            }
            1 => {
                for _ in 0..rng.random_range(1..4) {
                    let at = rng.random_range(0..header_end);
                    bytes[at] ^= 1 << rng.random_range(0..8);
                }
            }
            2 => bytes.truncate(rng.random_range(0..valid.len())),
            3 => {
                let at = rng.random_range(0..=bytes.len());
                let extra: Vec<u8> = (0..rng.random_range(1..32)).map(|_| rng.random()).collect();
                bytes.splice(at..at, extra);
            }
            4 => {
                const CHARS: &[u8] = b"{}[]\",:0123456789-+eE. \\u";
                for _ in 0..rng.random_range(1..3) {
                    let at = rng.random_range(8..header_end);
                    bytes[at] = CHARS[rng.random_range(0..CHARS.len())];
                }
            }
            _ => {
                let len: u64 = match rng.random_range(0..3) {
                    0 => rng.random(),
                    1 => rng.random_range(0..2 * valid.len() as u64),
                    _ => u64::MAX - rng.random_range(0..16),
                };
                bytes[..8].copy_from_slice(&len.to_le_bytes());
            }
        }
        let before = bits(&*net);
        let outcome = catch_unwind(AssertUnwindSafe(|| io::load_from_bytes(&mut *net, &bytes)));
        match outcome {
            Ok(Ok(_)) => loaded += 1,
            Ok(Err(_)) => {
                assert_eq!(
                    bits(&*net),
                    before,
                    "case {case}: a failed load changed the network"
                );
                failed += 1;
            }
            Err(_) => panic!("case {case}: the loader panicked on {bytes:?}"),
        }
    }
    assert!(
        failed > 2000 && loaded > 0,
        "loaded {loaded}, failed {failed}"
    );
}

/// The renames that read an `nn.Sequential`'s `0.weight`, `2.weight`, `4.weight` (the ReLU and
/// Tanh between have no parameters) into `Mlp`'s `h1`, `h2`, `out`.
fn sequential() -> LoadOptions {
    LoadOptions::new()
        .rename("h1", "0")
        .rename("h2", "2")
        .rename("out", "4")
}

/// Largest difference allowed between nn's `f64` forward pass and numpy's on the same weights:
/// both compute in f64 through 3 layers of width ≤ 8 (a few ulps of O(1) values); 1e-12 still
/// catches a value converted inexactly (an f16 or bf16 weight off by one of its ulps moves an
/// output by ≥ 1e-5).
const F64_TOLERANCE: f64 = 1e-12;

/// The largest difference between `net`'s outputs on `mlp_cases.json`'s inputs and its `key`
/// outputs.
fn mlp_error<T: Real>(net: &Mlp<T>, key: &str) -> f64 {
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("mlp_cases.json")).unwrap()).unwrap();
    let (inputs, expected) = (rows(&cases, "x"), rows(&cases, key));
    assert_eq!((inputs.len(), expected.len()), (16, 16));
    let mut max_error = 0.0f64;
    for (x, expected) in inputs.iter().zip(&expected) {
        let x = SVector::<T, 4>::from_iterator(x.iter().map(|&v| T::constant(v)));
        let y: SVector<T, 3> = net.forward(&x);
        for (&got, &want) in y.iter().zip(expected) {
            max_error = max_error.max((got.to_f64() - want).abs());
        }
    }
    max_error
}

/// A file with an `nn.Sequential`'s names loads with renames and computes what numpy computes;
/// without them, the missing tensor's error lists the file's names.
#[test]
fn sequential_file_loads_with_renames() {
    let path = fixture("mlp_sequential.safetensors");
    let mut net = Mlp::<f32>::boxed_zeros();
    io::load_with(&mut *net, &path, &sequential()).unwrap();
    let error = mlp_error(&*net, "f32");
    assert!(error < INTEROP_TOLERANCE, "max error {error:e}");

    let error = io::load(&mut *Mlp::<f32>::boxed_zeros(), &path).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "weights file `{}`: tensor `h1.weight` (shape [8, 4]) is missing from the file, \
             which has `0.weight`, `2.weight`, `4.weight`, `0.bias`, `2.bias`, `4.bias` \
             (closest first)",
            path.display()
        )
    );
}

/// A file of a module wrapped as `model` loads with a prefix; a wrong mapping's error names the
/// file name it looked for.
#[test]
fn prefixed_file_loads_with_a_prefix() {
    let path = fixture("mlp_prefixed.safetensors");
    let mut net = Mlp::<f32>::boxed_zeros();
    io::load_with(&mut *net, &path, &LoadOptions::new().prefix("model.")).unwrap();
    let error = mlp_error(&*net, "f32");
    assert!(error < INTEROP_TOLERANCE, "max error {error:e}");

    // The Sequential's renames on this file: `h1.weight` is looked for as `0.weight`.
    let mut net = Mlp::<f32>::boxed_zeros();
    let before = bits(&*net);
    let error = io::load_with(&mut *net, &path, &sequential()).unwrap_err();
    assert_eq!(bits(&*net), before);
    assert_eq!(
        error.to_string(),
        format!(
            "weights file `{}`: tensor `h1.weight` (shape [8, 4]), looked for as `0.weight`, is \
             missing from the file, which has `model.h1.weight`, `model.h2.weight`, \
             `model.out.weight`, `model.h1.bias`, `model.h2.bias`, `model.out.bias` \
             (closest first)",
            path.display()
        )
    );
}

/// `save_with` writes the file PyTorch's `nn.Sequential` reads: the names and data of the
/// Python package's file.
#[test]
fn save_with_renames_writes_the_sequential_file() {
    let python = std::fs::read(fixture("mlp_sequential.safetensors")).unwrap();
    let mut net = Mlp::<f32>::boxed_zeros();
    io::load_from_bytes_with(&mut *net, &python, &sequential()).unwrap();
    let dir = scratch("save-with");
    let path = dir.join("sequential.safetensors");
    io::save_with(&*net, &path, &sequential()).unwrap();
    let ours = std::fs::read(&path).unwrap();
    let split = |bytes: &[u8]| {
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut header: serde_json::Map<String, Value> =
            serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
        header.remove("__metadata__");
        (header, bytes[8 + header_len..].to_vec())
    };
    assert_eq!(split(&ours), split(&python));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Without `convert_dtype`, an `F16` file is an error naming the option.
#[test]
fn error_f16_without_conversion_names_the_option() {
    let path = fixture("mlp_f16.safetensors");
    let error = io::load(&mut *Mlp::<f32>::boxed_zeros(), &path).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "weights file `{}`: tensor `h1.weight` has dtype F16 but the network's scalar is F32; \
             load it into a network of the file's scalar type, or convert on load with \
             `LoadOptions::convert_dtype`",
            path.display()
        )
    );
}

/// An `F64` file converted into `f32` rounds as numpy's `astype(np.float32)` does: bit for bit
/// the weights of numpy's float32 file.
#[test]
fn f64_file_converts_into_f32_as_numpy_rounds() {
    let convert = LoadOptions::new().convert_dtype();
    let mut converted = Mlp::<f32>::boxed_zeros();
    io::load_with(&mut *converted, fixture("mlp_f64.safetensors"), &convert).unwrap();
    let mut numpy = Mlp::<f32>::boxed_zeros();
    io::load_with(
        &mut *numpy,
        fixture("mlp_sequential.safetensors"),
        &sequential(),
    )
    .unwrap();
    assert_eq!(bits(&*converted), bits(&*numpy));

    // The same file in an f64 network is exact (no conversion, no option needed).
    let mut exact = Mlp::<f64>::boxed_zeros();
    io::load(&mut *exact, fixture("mlp_f64.safetensors")).unwrap();
    let error = mlp_error(&*exact, "f64");
    assert!(error < F64_TOLERANCE, "max error {error:e}");
}

/// `F16`, `BF16` and `F32` files convert exactly into an `f64` network (numpy's outputs on the
/// stored weights, to f64 rounding) and `F16`, `BF16` into an `f32` one.
#[test]
fn half_precision_and_f32_files_convert_exactly() {
    let convert = LoadOptions::new().convert_dtype();
    for key in ["f16", "bf16"] {
        let path = fixture(&format!("mlp_{key}.safetensors"));
        let mut in_f64 = Mlp::<f64>::boxed_zeros();
        io::load_with(&mut *in_f64, &path, &convert).unwrap();
        let error = mlp_error(&*in_f64, key);
        assert!(error < F64_TOLERANCE, "{key} into f64: max error {error:e}");
        let mut in_f32 = Mlp::<f32>::boxed_zeros();
        io::load_with(&mut *in_f32, &path, &convert).unwrap();
        let widened: Vec<Vec<u64>> = bits(&*in_f64);
        assert_eq!(
            bits(&*in_f32),
            widened,
            "{key}: f32 and f64 loads hold the same values"
        );
    }
    let mut in_f64 = Mlp::<f64>::boxed_zeros();
    let options = LoadOptions::new().prefix("model.").convert_dtype();
    io::load_with(&mut *in_f64, fixture("mlp_prefixed.safetensors"), &options).unwrap();
    let error = mlp_error(&*in_f64, "f32");
    assert!(error < F64_TOLERANCE, "f32 into f64: max error {error:e}");
}

/// Every `F16` bit pattern converts to the `f32` numpy gives it: bit for bit, NaN for NaN (a
/// signalling NaN may come back quiet).
#[test]
fn f16_file_converts_as_numpy_does_for_every_bit_pattern() {
    let convert = LoadOptions::new().convert_dtype();
    let mut ours = F16Table::<f32>::boxed_zeros();
    io::load_with(&mut *ours, fixture("f16_all.safetensors"), &convert).unwrap();
    let mut numpy = F16Table::<f32>::boxed_zeros();
    io::load(&mut *numpy, fixture("f16_all_numpy.safetensors")).unwrap();
    let mut nans = 0;
    for r in 0..256 {
        for c in 0..256 {
            let (got, want) = (ours.out.weight[(r, c)], numpy.out.weight[(r, c)]);
            let pattern = 256 * r + c;
            if want.is_nan() {
                assert!(got.is_nan() && got.is_sign_negative() == want.is_sign_negative());
                nans += 1;
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "F16 {pattern:#06x}");
            }
        }
    }
    assert_eq!(
        nans,
        2 * 1023,
        "exponent 31 with a nonzero fraction, both signs"
    );
}
