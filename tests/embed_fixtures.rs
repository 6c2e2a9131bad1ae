//! The weight files `embed!` is tested with, and the generator that writes them: every file is
//! built here with `nn_runtime::io::to_bytes` from networks filled by a formula, and this test
//! checks that the committed files are exactly what it builds. After a change, regenerate with
//! `NN_FIXTURES=overwrite cargo test --test embed_fixtures` and read the diff.
//!
//! - `tests/fixtures/embed/`: files that fit their network (`tests/embed.rs`, the doc example
//!   of `embed!`).
//! - `tests/ui/embed/files/`: files that do not fit `Tiny` (`tests/ui/embed/*.rs`), one mistake
//!   each.

use std::path::Path;

use nn_runtime::{Parameters, Real};

nn_runtime::network! {
    /// The network of the compile-fail cases and of `embed!`'s doc example.
    pub struct Tiny {
        input: 2,
        h1: dense(4, relu),
        out: dense(1),
        loss: mse,
    }
}

nn_runtime::network! {
    /// `Tiny` with a wider hidden layer: `h1.weight` is [5, 2], not [4, 2].
    pub struct Wide {
        input: 2,
        h1: dense(5, relu),
        out: dense(1),
        loss: mse,
    }
}

nn_runtime::network! {
    /// `Tiny` without `h1.bias`.
    pub struct NoBias {
        input: 2,
        h1: dense(4, relu, bias = false),
        out: dense(1),
        loss: mse,
    }
}

nn_runtime::network! {
    /// `Tiny` plus a tensor it lacks, `out.proj.weight`.
    pub struct Projected {
        input: 2,
        h1: dense(4, relu),
        out: dense(1) + project(h1),
        loss: mse,
    }
}

nn_runtime::network! {
    /// Every kind of parameter block: dense with and without bias, a projection, a layer norm.
    /// Declared the same in `tests/embed.rs`.
    pub struct Mixed {
        input: 5,
        h1: dense(8, tanh),
        h2: dense(8, relu) + h1,
        h3: dense(6, gelu, bias = false) + project(h1),
        norm: layer_norm(eps = 1e-3),
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

/// `net` with every parameter set by a formula that exercises exact round trips: values with
/// no short decimal form, and in the first tensor `-0.0` and subnormals.
fn filled<T: Real, N: Parameters<T>>(mut net: Box<N>) -> Box<N> {
    let mut k = 0u32;
    for index in 0..N::TENSORS.len() {
        for value in net.tensor_mut(index) {
            k += 1;
            // Basic IEEE operations only, so the values are the same on every platform.
            let x = (f64::from(k) * 0.618_033_988_749_894_9).fract() - 0.5;
            *value = T::constant(x);
        }
    }
    let first = net.tensor_mut(0);
    first[0] = T::constant(-0.0);
    first[1] = T::constant(f64::from(f32::MIN_POSITIVE) / 8.0);
    first[2] = T::constant(1e-30);
    net
}

fn bytes<T: Real, N: Parameters<T>>() -> Vec<u8> {
    nn_runtime::io::to_bytes(&*filled::<T, N>(N::boxed_zeros()))
}

/// A safetensors file by hand: `header` (JSON) and `data`, for what `io` never writes.
fn raw(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// Every fixture: its path from the workspace root, and its bytes.
fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let half = r#"{"h1.weight":{"dtype":"F16","shape":[4,2],"data_offsets":[0,16]}}"#;
    // `Tiny`'s file with the metadata value `"pt"` replaced by the number `10`, padded to the
    // same length: what a script writing `{"epochs": 10}` without `str()` produces.
    let mut epochs = bytes::<f32, Tiny>();
    let at = epochs
        .windows(13)
        .position(|w| w == br#""format":"pt""#)
        .expect("io writes a format key");
    epochs[at..at + 13].copy_from_slice(br#""epochs":10  "#);
    vec![
        (
            "tests/fixtures/embed/tiny.safetensors",
            bytes::<f32, Tiny>(),
        ),
        (
            "tests/fixtures/embed/mixed-f32.safetensors",
            bytes::<f32, Mixed>(),
        ),
        (
            "tests/fixtures/embed/mixed-f64.safetensors",
            bytes::<f64, Mixed<f64>>(),
        ),
        (
            "tests/ui/embed/files/wide.safetensors",
            bytes::<f32, Wide>(),
        ),
        (
            "tests/ui/embed/files/no-bias.safetensors",
            bytes::<f32, NoBias>(),
        ),
        (
            "tests/ui/embed/files/projected.safetensors",
            bytes::<f32, Projected>(),
        ),
        (
            "tests/ui/embed/files/tiny-f64.safetensors",
            bytes::<f64, Tiny<f64>>(),
        ),
        ("tests/ui/embed/files/half.safetensors", raw(half, &[0; 16])),
        ("tests/ui/embed/files/epochs.safetensors", epochs),
        (
            "tests/ui/embed/files/not-safetensors.safetensors",
            b"x0,x1,label\n0.5,1.5,1\n".to_vec(),
        ),
    ]
}

#[test]
fn committed_fixtures_are_what_the_generator_builds() {
    let overwrite = std::env::var("NN_FIXTURES").is_ok_and(|v| v == "overwrite");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, bytes) in fixtures() {
        let path = root.join(path);
        if overwrite {
            std::fs::create_dir_all(path.parent().expect("a directory")).expect("create dir");
            std::fs::write(&path, &bytes).expect("write fixture");
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == bytes,
            "{} differs from what the generator builds; rerun with NN_FIXTURES=overwrite and \
             review the diff",
            path.display()
        );
    }
}
