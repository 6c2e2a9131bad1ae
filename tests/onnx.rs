//! Export to ONNX (`nn_runtime::onnx`), checked against ONNX Runtime without Python.
//!
//! The test writes each network below, with fixed weights, as `tests/fixtures/onnx/<name>.onnx`.
//! `tests/fixtures/onnx/check.py` (run by hand, see its header) validates every file with
//! `onnx.checker.check_model(full_check=True)`, runs it in ONNX Runtime on fixed inputs and
//! writes the inputs and both outputs (`output` and `prediction`) to `outputs.json`. (ONNX
//! Runtime has no `double` `Conv`: the `f64` convolutional networks run in ONNX's reference
//! evaluator, whose outputs the script checks against ONNX Runtime on an `f32` copy.) Here we
//! check that:
//!
//! - the committed `.onnx` files are byte for byte what `onnx::to_bytes` writes now (export is
//!   deterministic, and the files the script checked are the ones we write);
//! - `forward` and `predict` on the script's inputs give ONNX Runtime's outputs.
//!
//! After a change to the export, rerun with `NN_FIXTURES=overwrite cargo test --test onnx`,
//! then the script, and review both diffs.

use std::path::{Path, PathBuf};

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Network, Parameters, Real, network, onnx};
use serde_json::Value;

/// Largest accepted `f32` error, `|ours − onnxruntime| / max(1, |onnxruntime|)`.
///
/// Both sides evaluate the same functions in `f32` with different kernels: sums in another
/// order (GEMM blocking), and `tanh`, `erf`, `exp` each within a few ulp (ours: `tanh` within
/// 8 ulp, see `Real::tanh_activation`). One ulp of `f32` is 6e-8 relative; through the twelve
/// layers of `Activations` the measured worst case is 6.9e-7 (3.0e-7 for `Residuals`).
/// 4e-6 leaves about 6× for other CPUs' kernels and still fails on the smallest wrong formula
/// tried: exporting exact `gelu` as its tanh approximation is off by 1.7e-5 in `Activations`
/// and 9e-5 in `Residuals` (a wrong weight layout is off by more than 0.5).
const F32_TOLERANCE: f64 = 4e-6;

/// The same for `f64`: rounding differs around 1e-16 per operation, but ONNX attributes are
/// `f32`, so the exported layer-norm epsilon is `0.001` rounded to `f32` (4.7e-11 relative);
/// the measured worst case is 7.5e-11. 1e-9 is 13× that, and far below any wrong formula.
const F64_TOLERANCE: f64 = 1e-9;

/// The same for `Cnn` in `f64`, whose attributes round further: its leaky-ReLU slope `0.1`
/// becomes `0.100000001` in `f32` (1.5e-8 relative, on every negative `z` of `c4`) and its
/// batch-norm `eps = 0.01` is off by 2.2e-8 relative; the measured worst case is 2.6e-9, and
/// the reference evaluator ONNX Runtime's missing `double` convolution calls for computes in
/// `float64` (see `check.py`). 1e-8 is 4× that, and far below any wrong formula.
const F64_CNN_TOLERANCE: f64 = 1e-8;

network! {
    /// Every activation, one per layer, on softmax cross-entropy. Each layer adds the one
    /// before it, so every activation's output reaches the logits (a `step` or a `softmax`
    /// alone would hide small errors in the layers below it). On the fixture's inputs the
    /// `step` layer's `z` stays at least 0.35 away from 0, so no rounding difference flips it.
    pub struct Activations {
        input: 4,
        relu: dense(6, relu),
        leaky: dense(6, leaky_relu(0.2)) + relu,
        sigmoid: dense(6, sigmoid) + leaky,
        tanh: dense(6, tanh) + sigmoid,
        softplus: dense(6, softplus) + tanh,
        gelu: dense(6, gelu) + softplus,
        gelu_tanh: dense(6, gelu(tanh)) + gelu,
        silu: dense(6, silu) + gelu_tanh,
        step: dense(6, step) + silu,
        softmax: dense(6, softmax) + step,
        identity: dense(6, identity) + softmax,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// Residuals from the input and from a layer, with and without projection, a layer
    /// without bias and a layer norm with its own eps and activation, on binary cross-entropy.
    pub struct Residuals {
        input: 5,
        h1: dense(8, relu) + project(input),
        h2: dense(8, tanh, bias = false) + h1,
        norm: layer_norm(gelu, eps = 0.01) + h2,
        h3: dense(5, silu) + input,
        h4: dense(4) + project(h1),
        out: dense(2),
        loss: binary_cross_entropy,
    }
}

network! {
    /// A regressor on mean squared error, exported in `f64`.
    pub struct Regressor {
        input: 3,
        h: dense(6, tanh),
        norm: layer_norm(eps = 0.001),
        out: dense(2) + project(input),
        loss: mse,
    }
}

network! {
    /// Convolutions with stride and padding, PyTorch's `same` with an even kernel, dilation,
    /// `bias = false`, a channel batch norm, residuals between feature maps with and without
    /// a projection (a 1×1 convolution), a max pool and a pair-shaped kernel and stride,
    /// flattened into a dense layer, on softmax cross-entropy.
    pub struct Cnn {
        input: [2, 9, 8],
        c1: conv2d(4, kernel = 3, stride = 2, padding = 1, relu),
        bn: batch_norm(tanh, eps = 0.01),
        c2: conv2d(4, kernel = 2, padding = same, gelu, bias = false) + bn,
        c3: conv2d(6, kernel = 3, dilation = 2, padding = 2, silu) + project(c1),
        p1: max_pool(2),
        c4: conv2d(5, kernel = (2, 1), stride = (1, 2), leaky_relu(0.1)),
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// A channel batch norm on the image input, a residual projecting the (reshaped) input,
    /// average and max pools, a global average pool into a dense layer, on binary
    /// cross-entropy.
    pub struct Pools {
        input: [3, 8, 6],
        bn0: batch_norm,
        c1: conv2d(4, kernel = 3, padding = same, relu) + project(input),
        a1: avg_pool(2),
        m1: max_pool((2, 1), stride = (1, 2)),
        c2: conv2d(6, kernel = 1, sigmoid),
        g: global_avg_pool,
        out: dense(2),
        loss: binary_cross_entropy,
    }
}

network! {
    /// A 1-D network exported in `f64`: `same` with an even kernel, stride with dilation and
    /// padding, a channel batch norm, an average pool, a softmax over a feature map (all its
    /// scalars, as nn computes it) with a projected residual, and a last layer that is a
    /// feature map (flattened into the output), on mean squared error.
    pub struct Signal {
        input: [2, 16],
        c1: conv1d(3, kernel = 4, padding = same, tanh),
        c2: conv1d(4, kernel = 3, stride = 2, dilation = 2, padding = 1, relu),
        bn: batch_norm(momentum = 0.3),
        p: avg_pool(2),
        c3: conv1d(3, kernel = 3, padding = 1, softmax) + project(p),
        out: conv1d(2, kernel = 2),
        loss: mse,
    }
}

/// A value in `[-1, 1)` from a tensor's index and an element's index: fixed weights that do
/// not depend on any random generator's version (splitmix64's finalizer).
fn pseudo_random(tensor: usize, element: usize) -> f64 {
    let mut z = (tensor as u64) << 32 ^ element as u64;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// A network whose every parameter (norm gains and shifts, batch norms' running statistics
/// included) is set from [`pseudo_random`], weights scaled by `1.5 / √fan_in` so activations
/// stay in their curved ranges, gains around 1, running variances in `[0.25, 1.75)` (means in `[-1.5, 1.5)`).
fn fixed<T: Real, N: Parameters<T>>() -> Box<N> {
    use nn_runtime::TensorRole;
    let mut net = N::boxed_zeros();
    for (index, info) in N::TENSORS.iter().enumerate() {
        let scale = 1.5 / (info.fan_in() as f64).sqrt();
        let (offset, scale) = match info.role {
            TensorRole::NormGain => (1.0, scale),
            TensorRole::RunningVar => (1.0, 0.75),
            _ => (0.0, scale),
        };
        for (element, value) in net.tensor_mut(index).iter_mut().enumerate() {
            *value = T::constant(offset + scale * pseudo_random(index, element));
        }
    }
    net
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx")
}

/// `to_bytes(net)` equals the committed `<name>.onnx` (written first under
/// `NN_FIXTURES=overwrite`).
fn check_bytes<T: Real, N: Network<T, IN, OUT>, const IN: usize, const OUT: usize>(
    name: &str,
    net: &N,
) {
    let path = fixtures().join(format!("{name}.onnx"));
    if std::env::var("NN_FIXTURES").is_ok_and(|v| v == "overwrite") {
        onnx::save(net, &path).expect("write the fixture");
    }
    let bytes = onnx::to_bytes(net).expect("export");
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == bytes,
        "{} differs from what onnx::to_bytes writes; rerun with NN_FIXTURES=overwrite, then \
         check.py, and review the diff",
        path.display()
    );
}

/// `forward` and `predict` on the inputs of `outputs.json` give ONNX Runtime's `output` and
/// `prediction` there, within `tolerance`.
fn check_outputs<T: Real, N: Network<T, IN, OUT>, const IN: usize, const OUT: usize>(
    name: &str,
    net: &N,
    tolerance: f64,
) {
    let text = std::fs::read_to_string(fixtures().join("outputs.json")).expect("outputs.json");
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    let fixture = &json[name];
    let rows = |key: &str| -> Vec<Vec<f64>> {
        let rows = fixture[key]
            .as_array()
            .unwrap_or_else(|| panic!("{name}.{key}"));
        rows.iter()
            .map(|row| {
                let row = row.as_array().expect("a row");
                row.iter().map(|v| v.as_f64().expect("a number")).collect()
            })
            .collect()
    };
    let (inputs, outputs, predictions) = (rows("input"), rows("output"), rows("prediction"));
    assert!(!inputs.is_empty(), "{name}: no inputs in outputs.json");
    assert_eq!(inputs.len(), outputs.len());
    assert_eq!(inputs.len(), predictions.len());
    let mut worst: f64 = 0.0;
    for (sample, input) in inputs.iter().enumerate() {
        assert_eq!(input.len(), IN, "{name}: input width");
        let x = SVector::<T, IN>::from_fn(|i, _| T::constant(input[i]));
        for (what, ours, theirs) in [
            ("output", net.forward(&x), &outputs[sample]),
            ("prediction", net.predict(&x), &predictions[sample]),
        ] {
            assert_eq!(theirs.len(), OUT, "{name}: {what} width");
            for (i, &expected) in theirs.iter().enumerate() {
                let got = ours[i].to_f64();
                let error = (got - expected).abs() / expected.abs().max(1.0);
                worst = worst.max(error);
                assert!(
                    error <= tolerance,
                    "{name}: sample {sample}, {what}[{i}]: ours {got}, onnxruntime {expected} \
                     (error {error:e} > {tolerance:e})"
                );
            }
        }
    }
    eprintln!("{name}: worst error {worst:e}");
}

/// The fixture network `N` (weights from [`fixed`]) exports to the committed `<name>.onnx`, and
/// ONNX Runtime's outputs on it are ours within `tolerance`.
fn check_export<T, N, const IN: usize, const OUT: usize>(name: &str, tolerance: f64)
where
    T: Real,
    N: Network<T, IN, OUT> + Parameters<T>,
{
    let net = fixed::<T, N>();
    check_bytes(name, &*net);
    check_outputs(name, &*net, tolerance);
}

#[test]
fn activations_export_matches_onnxruntime() {
    check_export::<f32, Activations, _, _>("activations", F32_TOLERANCE);
}

#[test]
fn residuals_and_layer_norm_export_matches_onnxruntime() {
    check_export::<f32, Residuals, _, _>("residuals", F32_TOLERANCE);
}

#[test]
fn f64_regressor_export_matches_onnxruntime() {
    check_export::<f64, Regressor<f64>, _, _>("regressor_f64", F64_TOLERANCE);
}

#[test]
fn conv2d_export_matches_onnxruntime() {
    check_export::<f32, Cnn, _, _>("cnn", F32_TOLERANCE);
}

#[test]
fn f64_conv2d_export_matches_onnxruntime() {
    check_export::<f64, Cnn<f64>, _, _>("cnn_f64", F64_CNN_TOLERANCE);
}

#[test]
fn pools_export_matches_onnxruntime() {
    check_export::<f32, Pools, _, _>("pools", F32_TOLERANCE);
}

#[test]
fn f64_conv1d_export_matches_onnxruntime() {
    check_export::<f64, Signal<f64>, _, _>("signal_f64", F64_TOLERANCE);
}

#[test]
fn layers_describe_the_declaration() {
    use nn_runtime::{ActivationKind, LayerInfo, LayerKind, ResidualInfo, ResidualSource};
    let residual = |source, project| Some(ResidualInfo { source, project });
    let expected = [
        LayerInfo {
            name: "h1",
            kind: LayerKind::Dense { bias: true },
            input_width: 5,
            width: 8,
            activation: ActivationKind::Relu,
            residual: residual(ResidualSource::Input, true),
        },
        LayerInfo {
            name: "h2",
            kind: LayerKind::Dense { bias: false },
            input_width: 8,
            width: 8,
            activation: ActivationKind::Tanh,
            residual: residual(ResidualSource::Layer(0), false),
        },
        LayerInfo {
            name: "norm",
            kind: LayerKind::LayerNorm { eps: 0.01 },
            input_width: 8,
            width: 8,
            activation: ActivationKind::Gelu,
            residual: residual(ResidualSource::Layer(1), false),
        },
        LayerInfo {
            name: "h3",
            kind: LayerKind::Dense { bias: true },
            input_width: 8,
            width: 5,
            activation: ActivationKind::Silu,
            residual: residual(ResidualSource::Input, false),
        },
        LayerInfo {
            name: "h4",
            kind: LayerKind::Dense { bias: true },
            input_width: 5,
            width: 4,
            activation: ActivationKind::Identity,
            residual: residual(ResidualSource::Layer(0), true),
        },
        LayerInfo {
            name: "out",
            kind: LayerKind::Dense { bias: true },
            input_width: 4,
            width: 2,
            activation: ActivationKind::Identity,
            residual: None,
        },
    ];
    assert_eq!(<Residuals as Parameters<f32>>::LAYERS, expected);
    let leaky = <Activations as Parameters<f32>>::LAYERS[1];
    assert_eq!(leaky.activation, ActivationKind::LeakyRelu { slope: 0.2 });
    assert_eq!(
        <Regressor as Parameters<f32>>::LAYERS[1].kind,
        LayerKind::LayerNorm { eps: 0.001 }
    );
}

#[test]
fn save_into_a_missing_directory_names_the_file() {
    let net = fixed::<f32, Regressor>();
    let path = std::env::temp_dir().join("nn-onnx-no-such-directory/model.onnx");
    let error = onnx::save(&*net, &path).expect_err("the directory does not exist");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "cannot write the ONNX file `{}`: ",
            path.display()
        )),
        "{message}"
    );
    assert!(matches!(error, onnx::OnnxError::Write { .. }), "{error:?}");
}
