//! Unit tests of weight files on a hand-written network (the shape `network!` generates):
//! round trips, layout and dtype conversion here, failures in `errors`, hostile bytes in
//! `hostile`, renamed tensors in `names`.

mod errors;
mod hostile;
mod names;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use nalgebra::SMatrix;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use safetensors::{Dtype, SafeTensors};

use super::*;
use crate::{ActivationKind, Dense, LayerNorm, Linear, TensorInfo, TensorRole, Zeroable};

/// What `network!` generates, reduced to what weight files see: a dense layer, a residual's
/// projection, a layer norm and an output layer, with `Parameters` written by hand.
#[derive(Debug, PartialEq)]
struct Tiny<T: Real> {
    h1: Dense<T, 2, 3>,
    h2_proj: Linear<T, 3, 3>,
    norm: LayerNorm<T, 3>,
    out: Dense<T, 3, 2>,
}

// SAFETY: a struct of `Zeroable` parameter blocks.
unsafe impl<T: Real> Zeroable for Tiny<T> {}

const fn tensor(
    name: &'static str,
    layer: &'static str,
    shape: &'static [usize],
    role: TensorRole,
) -> TensorInfo {
    TensorInfo {
        name,
        layer,
        shape,
        role,
        activation: ActivationKind::Identity,
    }
}

impl<T: Real> Parameters<T> for Tiny<T> {
    const PARAM_COUNT: usize = 6 + 3 + 9 + 3 + 3 + 6 + 2;
    const TENSORS: &'static [TensorInfo] = &[
        tensor("h1.weight", "h1", &[3, 2], TensorRole::Weight),
        tensor("h1.bias", "h1", &[3], TensorRole::Bias),
        tensor("h2.proj.weight", "h2", &[3, 3], TensorRole::Projection),
        tensor("norm.weight", "norm", &[3], TensorRole::NormGain),
        tensor("norm.bias", "norm", &[3], TensorRole::NormShift),
        tensor("out.weight", "out", &[2, 3], TensorRole::Weight),
        tensor("out.bias", "out", &[2], TensorRole::Bias),
    ];
    const ARCHITECTURE: &'static str = "struct Tiny { input: 2, h1: dense(3, relu), .. }";
    // A stand-in for a generated network: nothing here walks the layers.
    const LAYERS: &'static [crate::LayerInfo] = &[];

    fn tensor(&self, index: usize) -> &[T] {
        match index {
            0 => self.h1.weight.as_slice(),
            1 => self.h1.bias.as_slice(),
            2 => self.h2_proj.weight.as_slice(),
            3 => self.norm.weight.as_slice(),
            4 => self.norm.bias.as_slice(),
            5 => self.out.weight.as_slice(),
            6 => self.out.bias.as_slice(),
            _ => panic!("no tensor {index}"),
        }
    }

    fn tensor_mut(&mut self, index: usize) -> &mut [T] {
        match index {
            0 => self.h1.weight.as_mut_slice(),
            1 => self.h1.bias.as_mut_slice(),
            2 => self.h2_proj.weight.as_mut_slice(),
            3 => self.norm.weight.as_mut_slice(),
            4 => self.norm.bias.as_mut_slice(),
            5 => self.out.weight.as_mut_slice(),
            6 => self.out.bias.as_mut_slice(),
            _ => panic!("no tensor {index}"),
        }
    }
}

/// A network whose every parameter is distinct: `1 + tensor index + storage index / 100`.
fn numbered<T: Real>() -> Tiny<T> {
    let mut net = Tiny::<T>::zeros();
    for index in 0..Tiny::<T>::TENSORS.len() {
        for (k, value) in net.tensor_mut(index).iter_mut().enumerate() {
            *value = T::constant(1.0 + index as f64 + k as f64 / 100.0);
        }
    }
    net
}

/// The bytes of a safetensors file holding `tensors` (name, dtype, shape, data), written by
/// the `safetensors` crate, with `format: pt` metadata.
fn file_with(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views = tensors.iter().map(|(name, dtype, shape, data)| {
        (
            name.to_string(),
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap(),
        )
    });
    let metadata = [("format".to_string(), "pt".to_string())]
        .into_iter()
        .collect();
    safetensors::serialize(views, Some(metadata)).unwrap()
}

/// The tensors of a valid `Tiny<f32>` file, as (name, dtype, shape, data), for editing.
fn tiny_tensors() -> Vec<(&'static str, Dtype, Vec<usize>, Vec<u8>)> {
    Tiny::<f32>::TENSORS
        .iter()
        .map(|info| {
            (
                info.name,
                Dtype::F32,
                info.shape.to_vec(),
                vec![0; info.len() * 4],
            )
        })
        .collect()
}

/// `[len][header][data_len zero bytes]`.
fn raw_file(header: &[u8], data_len: usize) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.resize(bytes.len() + data_len, 0);
    bytes
}

/// Loads `bytes` into a numbered `Tiny<f32>`, asserts that it failed and left the network
/// unchanged, and returns the error.
fn load_error(bytes: &[u8]) -> WeightsError {
    let mut net = numbered::<f32>();
    let error = load_from_bytes(&mut net, bytes).unwrap_err();
    assert_eq!(net, numbered::<f32>(), "a failed load changed the network");
    error
}
#[test]
fn round_trip_is_bit_identical_f32() {
    let mut net = numbered::<f32>();
    // Values a lossy path would mangle: -0, a subnormal, infinities, NaN payloads.
    net.h1
        .bias
        .copy_from_slice(&[-0.0, f32::from_bits(1), f32::from_bits(0x7fc0_1234)]);
    net.out
        .bias
        .copy_from_slice(&[f32::INFINITY, f32::from_bits(0xffa0_0001)]);
    let mut again = Tiny::<f32>::zeros();
    let loaded = load_from_bytes(&mut again, &to_bytes(&net)).unwrap();
    for index in 0..Tiny::<f32>::TENSORS.len() {
        let bits = |net: &Tiny<f32>| {
            net.tensor(index)
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            bits(&net),
            bits(&again),
            "{}",
            Tiny::<f32>::TENSORS[index].name
        );
    }
    assert_eq!(
        loaded.architecture.as_deref(),
        Some(Tiny::<f32>::ARCHITECTURE)
    );
    assert!(!loaded.architecture_differs);
    assert_eq!(loaded.metadata[FORMAT_KEY], "pt");
}

#[test]
fn round_trip_is_bit_identical_f64() {
    let mut net = numbered::<f64>();
    net.norm.weight.copy_from_slice(&[
        -0.0,
        f64::from_bits(1),
        f64::from_bits(0x7ff8_0000_dead_beef),
    ]);
    let mut again = Tiny::<f64>::zeros();
    load_from_bytes(&mut again, &to_bytes(&net)).unwrap();
    for index in 0..Tiny::<f64>::TENSORS.len() {
        let bits = |net: &Tiny<f64>| {
            net.tensor(index)
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&net), bits(&again));
    }
}

#[test]
fn file_is_pytorch_row_major_with_metadata() {
    let net = numbered::<f32>();
    let bytes = to_bytes(&net);
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let weight = file.tensor("out.weight").unwrap();
    assert_eq!(weight.dtype(), Dtype::F32);
    assert_eq!(weight.shape(), &[2, 3]);
    let values: Vec<f32> = weight
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    // Row-major [out, in]: element (r, c) at r * 3 + c.
    let expected: Vec<f32> = (0..2)
        .flat_map(|r| (0..3).map(move |c| (r, c)))
        .map(|(r, c)| net.out.weight[(r, c)])
        .collect();
    assert_eq!(values, expected);
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().as_ref().unwrap();
    assert_eq!(metadata["format"], "pt");
    assert_eq!(metadata[ARCHITECTURE_KEY], Tiny::<f32>::ARCHITECTURE);
    assert_eq!(
        header.offset_keys(),
        [
            "h1.bias",
            "h1.weight",
            "h2.proj.weight",
            "norm.bias",
            "norm.weight",
            "out.bias",
            "out.weight"
        ]
    );
}

#[test]
fn bytes_match_the_safetensors_crate_and_are_deterministic() {
    let net = numbered::<f64>();
    let ours = to_bytes(&net);
    assert_eq!(ours, to_bytes(&numbered::<f64>()));
    // The crate's writer, given the same tensors: same data bytes, same header (as JSON; the
    // crate orders metadata keys by a random hash), same header length.
    let transposed = |index: usize| {
        let mut bytes = Vec::new();
        f64::extend_le_bytes(net.tensor(index), &mut bytes);
        nn_format::to_row_major(Tiny::<f64>::TENSORS[index].shape, &bytes, 8)
    };
    let tensors: Vec<_> = Tiny::<f64>::TENSORS
        .iter()
        .enumerate()
        .map(|(i, info)| (info.name, Dtype::F64, info.shape.to_vec(), transposed(i)))
        .collect();
    let views = tensors.iter().map(|(name, dtype, shape, data)| {
        (
            *name,
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap(),
        )
    });
    let metadata = [
        (FORMAT_KEY, "pt"),
        (ARCHITECTURE_KEY, Tiny::<f64>::ARCHITECTURE),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let theirs = safetensors::serialize(views, Some(metadata)).unwrap();
    assert_eq!(ours.len(), theirs.len());
    assert_eq!(ours[..8], theirs[..8]);
    let header_end = 8 + u64::from_le_bytes(ours[..8].try_into().unwrap()) as usize;
    let json =
        |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(&bytes[8..header_end]).unwrap();
    assert_eq!(json(&ours), json(&theirs));
    assert_eq!(ours[header_end..], theirs[header_end..]);
}
#[test]
fn architecture_difference_is_reported_not_an_error() {
    let bytes = to_bytes(&numbered::<f32>());
    let mut edited = bytes.clone();
    let at = edited.windows(4).position(|w| w == b"relu").unwrap();
    edited[at..at + 4].copy_from_slice(b"tanh");
    let mut net = Tiny::<f32>::zeros();
    let loaded = load_from_bytes(&mut net, &edited).unwrap();
    assert_eq!(net, numbered::<f32>());
    assert!(loaded.architecture_differs);
    assert_eq!(
        loaded.architecture.as_deref(),
        Some("struct Tiny { input: 2, h1: dense(3, tanh), .. }")
    );
}

#[test]
fn files_without_metadata_load() {
    let views = tiny_tensors();
    let views = views.iter().map(|(name, dtype, shape, data)| {
        (
            *name,
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap(),
        )
    });
    let bytes = safetensors::serialize(views, None).unwrap();
    let mut net = numbered::<f32>();
    let loaded = load_from_bytes(&mut net, &bytes).unwrap();
    assert_eq!(net, Tiny::zeros());
    assert_eq!(loaded, Loaded::default());
}

#[test]
fn errors_from_paths_name_the_file() {
    let dir = std::env::temp_dir().join(format!("nn-io-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tiny.safetensors");
    save(&numbered::<f32>(), &path).unwrap();
    let mut net = numbered::<f64>();
    let error = load(&mut net, &path).unwrap_err();
    assert_eq!(error.file(), Some(path.as_path()));
    assert!(error.to_string().starts_with(&format!(
        "weights file `{}`: tensor `h1.weight` has dtype F32",
        path.display()
    )));
    let loaded: Box<Tiny<f32>> = load_boxed(&path).unwrap();
    assert_eq!(*loaded, numbered::<f32>());

    let missing: PathBuf = dir.join("missing.safetensors");
    let error = load(&mut net, &missing).unwrap_err();
    assert!(matches!(&error, WeightsError::Read { file, .. } if file == &missing));
    assert!(error.to_string().starts_with(&format!(
        "cannot read weights file `{}`: ",
        missing.display()
    )));
    let error = save(&numbered::<f32>(), dir.join("no/such/dir.safetensors")).unwrap_err();
    assert!(matches!(error, WeightsError::Write { .. }));
    std::fs::remove_dir_all(&dir).unwrap();
}
#[test]
fn layout_of_a_weight_matches_nalgebra_indexing() {
    let mut net = Tiny::<f32>::zeros();
    net.h1.weight = SMatrix::<f32, 3, 2>::new(1.0, 2.0, 3.0, 4.0, 5.0, 6.0); // rows (1 2) (3 4) (5 6)
    let bytes = to_bytes(&net);
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let data = file.tensor("h1.weight").unwrap().data().to_vec();
    let values: Vec<f32> = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
}

/// Conversion keeps what the target holds and rounds the rest to nearest, ties to even: the
/// values at the edges of `f32` (the largest finite and what rounds to it, the smallest
/// subnormal and what rounds to zero, a tie), and infinities, signed zeros and NaN.
#[test]
fn f64_converts_to_f32_exactly_or_to_nearest_even() {
    let max = f64::from(f32::MAX);
    let half_ulp_max = 2f64.powi(103); // half the spacing of f32 just below f32::MAX
    let tiny = f64::from(f32::from_bits(1)); // 2^-149
    let one_plus_tie = 1.0 + 2f64.powi(-24); // halfway between 1 and the next f32: ties to 1
    let cases: [(f64, u32); 10] = [
        (max, f32::MAX.to_bits()),
        (max + half_ulp_max * 0.99, f32::MAX.to_bits()),
        (tiny, 1),
        (tiny * 0.49, 0),
        (-0.0, (-0.0f32).to_bits()),
        (one_plus_tie, 1f32.to_bits()),
        (1.0 + 3.0 * 2f64.powi(-24), 1f32.to_bits() + 2), // tie between 1+ulp and 1+2ulp: even
        (0.1, 0.1f32.to_bits()),
        (f64::INFINITY, f32::INFINITY.to_bits()),
        (f64::NEG_INFINITY, f32::NEG_INFINITY.to_bits()),
    ];
    let mut source = numbered::<f64>();
    for (k, &(value, _)) in cases.iter().enumerate() {
        match k {
            0..9 => source.h2_proj.weight[k] = value,
            _ => source.out.bias[0] = value,
        }
    }
    source.out.bias[1] = f64::NAN;
    let mut net = numbered::<f32>();
    let options = LoadOptions::new().convert_dtype();
    load_from_bytes_with(&mut net, &to_bytes(&source), &options).unwrap();
    for (k, &(value, bits)) in cases.iter().enumerate() {
        let got = match k {
            0..9 => net.h2_proj.weight[k],
            _ => net.out.bias[0],
        };
        assert_eq!(got.to_bits(), bits, "{value:e}");
    }
    assert!(net.out.bias[1].is_nan());
    assert_eq!(
        net.h1.weight.map(f64::from),
        source.h1.weight.map(|x| x as f32 as f64)
    );
}

/// `F16` and `BF16` tensors convert exactly into both scalars; `F32` into `f64` too.
#[test]
fn half_precision_and_f32_convert_exactly() {
    // h1.bias [3] as F16 1.0, -2^-24 (smallest subnormal), 65504; as BF16 1.0, -4.0, 2^-133.
    let f16 = [0x3c00u16, 0x8001, 0x7bff];
    let bf16 = [0x3f80u16, 0xc080, 0x0001];
    let le = |bits: &[u16]| {
        bits.iter()
            .flat_map(|b| b.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    for (dtype, bits, want) in [
        (Dtype::F16, f16, [1.0, -(2f64.powi(-24)), 65504.0]),
        (Dtype::BF16, bf16, [1.0, -4.0, 2f64.powi(-133)]),
    ] {
        let mut tensors = tiny_tensors();
        tensors[1] = ("h1.bias", dtype, vec![3], le(&bits));
        let options = LoadOptions::new().convert_dtype();
        let mut in_f32 = numbered::<f32>();
        load_from_bytes_with(&mut in_f32, &file_with(&tensors), &options).unwrap();
        assert_eq!(in_f32.h1.bias.map(f64::from).as_slice(), want, "{dtype:?}");
        let mut in_f64 = numbered::<f64>();
        let mut as_f64 = tiny_tensors();
        as_f64
            .iter_mut()
            .for_each(|t| (t.1, t.3) = (Dtype::F64, vec![0; t.3.len() * 2]));
        as_f64[1] = ("h1.bias", dtype, vec![3], le(&bits));
        load_from_bytes_with(&mut in_f64, &file_with(&as_f64), &options).unwrap();
        assert_eq!(in_f64.h1.bias.as_slice(), want, "{dtype:?}");
    }
    let source = numbered::<f32>();
    let mut net = numbered::<f64>();
    load_from_bytes_with(
        &mut net,
        &to_bytes(&source),
        &LoadOptions::new().convert_dtype(),
    )
    .unwrap();
    for index in 0..Tiny::<f32>::TENSORS.len() {
        let want: Vec<f64> = source.tensor(index).iter().map(|&x| f64::from(x)).collect();
        assert_eq!(net.tensor(index), want.as_slice());
    }
}
