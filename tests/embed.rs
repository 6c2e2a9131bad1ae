//! `embed!`: a weights file embedded at compile time is the network `io::load` reads from the
//! same file, bit for bit, in `f32` and `f64`; and predicting with it touches no heap. The
//! fixtures come from `tests/embed_fixtures.rs`; the compile errors are `tests/ui/embed/`.

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Parameters, Real, one_hot};

nn_runtime::network! {
    /// Every kind of parameter block (declared the same in `tests/embed_fixtures.rs`).
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

const MIXED_F32: &str = "tests/fixtures/embed/mixed-f32.safetensors";
const MIXED_F64: &str = "tests/fixtures/embed/mixed-f64.safetensors";

nn_runtime::embed! {
    /// `Mixed` over `f32`, from an `F32` file.
    static EMBEDDED_F32: Mixed<f32> = "fixtures/embed/mixed-f32.safetensors";
    /// `Mixed` over `f64`, from an `F64` file.
    pub(crate) static EMBEDDED_F64: Mixed<f64> = "fixtures/embed/mixed-f64.safetensors";
    /// The scalar defaults to `f32`, as in a type.
    static EMBEDDED_DEFAULT: Mixed = "fixtures/embed/mixed-f32.safetensors";
}

/// Compares every scalar's bits (widened to `f64`, exactly), so `-0.0` and `0.0` differ.
fn assert_same_bits<T: Real, N: Parameters<T>>(embedded: &N, loaded: &N) {
    for (index, info) in N::TENSORS.iter().enumerate() {
        let (a, b) = (embedded.tensor(index), loaded.tensor(index));
        assert_eq!(a.len(), b.len(), "{}", info.name);
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(
                x.to_f64().to_bits(),
                y.to_f64().to_bits(),
                "{}[{k}]: embedded {x:?}, loaded {y:?}",
                info.name
            );
        }
    }
}

fn inputs<T: Real>() -> Vec<SVector<T, 5>> {
    (0..20)
        .map(|s| SVector::from_fn(|i, _| T::constant(((s * 5 + i) as f64 * 0.37).fract() - 0.5)))
        .collect()
}

#[test]
fn embedded_equals_loaded_bit_for_bit_f32() {
    let loaded: Box<Mixed<f32>> = nn_runtime::io::load_boxed(MIXED_F32).expect("fixture loads");
    assert_same_bits(&EMBEDDED_F32, &*loaded);
    assert_same_bits(&EMBEDDED_DEFAULT, &*loaded);
    // The fixture's awkward values made it through: `-0.0` and a subnormal.
    assert_eq!(EMBEDDED_F32.h1.weight[0].to_bits(), (-0.0f32).to_bits());
    assert!(EMBEDDED_F32.h1.weight[1].is_subnormal());
    assert!(loaded.tensor(2).iter().all(|&v| v != 0.0));
}

#[test]
fn embedded_equals_loaded_bit_for_bit_f64() {
    let loaded: Box<Mixed<f64>> = nn_runtime::io::load_boxed(MIXED_F64).expect("fixture loads");
    assert_same_bits(&EMBEDDED_F64, &*loaded);
}

#[test]
fn embedded_predicts_like_loaded() {
    let loaded: Box<Mixed<f32>> = nn_runtime::io::load_boxed(MIXED_F32).expect("fixture loads");
    for x in inputs::<f32>() {
        assert_eq!(EMBEDDED_F32.predict(&x), loaded.predict(&x));
        assert_eq!(
            EMBEDDED_F32.loss(&x, &one_hot(1)),
            loaded.loss(&x, &one_hot(1))
        );
    }
    let loaded: Box<Mixed<f64>> = nn_runtime::io::load_boxed(MIXED_F64).expect("fixture loads");
    for x in inputs::<f64>() {
        assert_eq!(EMBEDDED_F64.predict(&x), loaded.predict(&x));
    }
}

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

#[test]
fn the_embedded_model_is_ready_without_allocating() {
    let (x, x64) = (inputs::<f32>()[3], inputs::<f64>()[3]);
    // The first use included: a static needs no initialization at run time.
    assert_eq!(
        allocations(|| {
            std::hint::black_box(EMBEDDED_DEFAULT.predict(std::hint::black_box(&x)));
        }),
        0
    );
    assert_eq!(
        allocations(|| {
            std::hint::black_box(EMBEDDED_F32.predict(std::hint::black_box(&x)));
            std::hint::black_box(EMBEDDED_F64.predict(std::hint::black_box(&x64)));
        }),
        0
    );
    // The counter works: a boxed copy is one allocation.
    assert_eq!(
        allocations(|| {
            std::hint::black_box(EMBEDDED_F32.boxed_copy());
        }),
        1
    );
}

mod bare {
    // `SAMPLE` and `EXPECTED_CLASS`, shared with `nn-bare`, the `#![no_std]` binary that
    // predicts with the same file embedded and no allocator, and exits with 0 when it finds
    // `EXPECTED_CLASS` (`.ci/run` builds and runs it).
    include!("../nn-bare/src/sample.rs");

    /// The class `nn-bare` checks is the one the hosted runtime predicts, by a clear margin (a
    /// near tie could flip between the two builds' roundings).
    #[test]
    fn the_bare_binary_expects_the_hosted_prediction() {
        let loaded: Box<super::Mixed<f32>> =
            nn_runtime::io::load_boxed(super::MIXED_F32).expect("fixture loads");
        let p = loaded.predict(&super::SVector::from(SAMPLE));
        assert_eq!(p.imax(), EXPECTED_CLASS, "probabilities {p:?}");
        let mut others = (0..3).filter(|&c| c != EXPECTED_CLASS).map(|c| p[c]);
        assert!(others.all(|q| p[EXPECTED_CLASS] > q + 0.05), "{p:?}");
    }
}
