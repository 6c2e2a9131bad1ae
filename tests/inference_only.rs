//! A network declared without `loss:` is inference-only: forward, predict and their batch
//! forms, parameters, weight files and `embed!`, computing what the same layers compute in a
//! network with a loss. Training methods on it are compile errors
//! (`tests/ui/inference-only/`).

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, Parameters};

nn_runtime::network! {
    /// Scores three classes; the softmax is the last layer's activation.
    pub struct Scorer {
        input: 4,
        h1: dense(8, tanh),
        h2: dense(8, relu) + project(h1),
        norm: layer_norm,
        out: dense(3, softmax),
    }
}

nn_runtime::network! {
    /// `Scorer`'s layers, trained with a loss (its `predict` applies the softmax).
    pub struct Trained {
        input: 4,
        h1: dense(8, tanh),
        h2: dense(8, relu) + project(h1),
        norm: layer_norm,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

/// `Trained` with every parameter from a formula (no two equal).
fn trained() -> Trained<f64> {
    let mut net = Trained::<f64>::zeros();
    for index in 0..Trained::<f64>::TENSORS.len() {
        for (k, value) in net.tensor_mut(index).iter_mut().enumerate() {
            *value = (((index * 31 + k * 17) % 23) as f64 / 23.0 - 0.5) * 0.8;
        }
    }
    net
}

fn inputs() -> Batch<f64, 4> {
    Batch::from_fn(6, |i, j| ((i * 6 + j) as f64 * 0.37).fract() * 2.0 - 1.0)
}

#[test]
fn predicts_what_the_trained_network_predicts() {
    let trained = trained();
    // The weight file of the network with a loss loads into the inference-only one: same names.
    let bytes = nn_runtime::io::to_bytes(&trained);
    let mut scorer = Scorer::<f64>::zeros();
    nn_runtime::io::load_from_bytes(&mut scorer, &bytes).expect("same tensors");
    let names_and_shapes = |tensors: &[nn_runtime::TensorInfo]| {
        tensors
            .iter()
            .map(|t| (t.name, t.shape))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names_and_shapes(Scorer::<f64>::TENSORS),
        names_and_shapes(Trained::<f64>::TENSORS)
    );
    assert_eq!(Scorer::<f64>::PARAM_COUNT, Trained::<f64>::PARAM_COUNT);
    assert_eq!(
        Scorer::<f64>::FORWARD_BYTES,
        Trained::<f64>::FORWARD_BYTES + 3 * 8
    );
    assert_eq!(
        <Scorer<f64> as Parameters<f64>>::ARCHITECTURE,
        "input: 4, h1: dense(8, tanh), h2: dense(8, relu) + project(h1), norm: layer_norm, \
         out: dense(3, softmax)"
    );
    let xs = inputs();
    let (batch, trained_batch) = (scorer.predict_batch(&xs), trained.predict_batch(&xs));
    assert_eq!(batch, trained_batch);
    assert_eq!(scorer.forward_batch(&xs), batch);
    for (j, x) in xs.column_iter().enumerate() {
        let x: SVector<f64, 4> = x.into_owned();
        let p = scorer.predict(&x);
        assert_eq!(p, trained.predict(&x));
        assert_eq!(scorer.forward(&x), p);
        // The batch path sums in another order (GEMM): equal up to rounding.
        assert!(
            (p - batch.column(j)).amax() < 1e-12,
            "{p} {}",
            batch.column(j)
        );
        assert!((p.sum() - 1.0).abs() < 1e-12);
    }
}

nn_runtime::network! {
    /// `Tiny` of `tests/embed_fixtures.rs` without its loss.
    pub struct TinyInference {
        input: 2,
        h1: dense(4, relu),
        out: dense(1),
    }
}

nn_runtime::network! {
    /// `Tiny`, with its loss.
    pub struct Tiny {
        input: 2,
        h1: dense(4, relu),
        out: dense(1),
        loss: mse,
    }
}

nn_runtime::embed! {
    /// A file saved from `Tiny`, embedded into the inference-only declaration.
    static TINY: TinyInference<f32> = "fixtures/embed/tiny.safetensors";
}

#[test]
fn embeds_a_file_saved_with_a_loss() {
    let loaded: Box<Tiny<f32>> =
        nn_runtime::io::load_boxed("tests/fixtures/embed/tiny.safetensors").expect("fixture");
    for k in 0..10 {
        let x = SVector::from([k as f32 * 0.3 - 1.5, 1.0 - k as f32 * 0.2]);
        assert_eq!(TINY.predict(&x), loaded.predict(&x));
    }
}
