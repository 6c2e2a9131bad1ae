//! Sequence networks: `input: seq(F)`, `rnn`/`gru`/`lstm`, per-step `dense` and `layer_norm`,
//! residuals over time, `last`/`mean` reductions and sequence-to-sequence outputs.
//!
//! Backpropagation through time is checked against five-point central differences of the loss
//! in f64 (`gradcheck::check_sequence_gradient`) for every cell, stacked, with residuals, over
//! sequences of length 1 to 20; `step` is checked against the whole-sequence forward pass; the
//! tensors are checked against PyTorch's names and shapes.

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Parameters, TensorRole, network};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "support/sequence_gradients.rs"]
mod gradients;
use gradients::{assert_batch_gradient, assert_gradient, batch, randomize, sequence};

#[path = "support/sequence_nets.rs"]
mod nets;
use nets::{Effect, EffectState, GruClassifier, Stacked, StackedState, Tagger};

#[test]
fn gru_classifier_bptt_matches_finite_differences_over_lengths_1_to_20() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut net = GruClassifier::<f64>::zeros();
    for len in 1..=20 {
        randomize(&mut net, &mut rng);
        let x = sequence::<3>(&mut rng, len);
        let target = nn_runtime::one_hot::<f64, 3>(len % 3);
        assert_gradient("gru classifier", &mut net, &x, &target);
    }
}

#[test]
fn stacked_cells_with_residual_and_mean_match_finite_differences_over_lengths_1_to_20() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut net = Stacked::<f64>::zeros();
    for len in 1..=20 {
        randomize(&mut net, &mut rng);
        let x = sequence::<2>(&mut rng, len);
        let target = SVector::<f64, 2>::new(0.3, -0.4);
        assert_gradient("stacked", &mut net, &x, &target);
    }
}

#[test]
fn sequence_to_sequence_with_norm_and_projection_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut net = Effect::<f64>::zeros();
    for len in 1..=20 {
        randomize(&mut net, &mut rng);
        let x = sequence::<2>(&mut rng, len);
        let target = sequence::<1>(&mut rng, len);
        assert_gradient("effect", &mut net, &x, &target);
    }
}

#[test]
fn per_step_binary_labels_match_finite_differences() {
    let mut rng = StdRng::seed_from_u64(4);
    let mut net = Tagger::<f64>::zeros();
    for len in [1, 7, 20] {
        randomize(&mut net, &mut rng);
        let x = sequence::<2>(&mut rng, len);
        let target: Vec<SVector<f64, 2>> = (0..len)
            .map(|t| SVector::<f64, 2>::new((t % 2) as f64, ((t + 1) % 3 == 0) as u8 as f64))
            .collect();
        assert_gradient("tagger", &mut net, &x, &target);
    }
}

/// Streaming one step at a time gives the whole-sequence outputs: every step's output for a
/// sequence-to-sequence network, and for a sequence-to-one network the output of the prefix.
#[test]
fn step_matches_the_whole_sequence_forward_pass() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut effect = Effect::<f64>::zeros();
    randomize(&mut effect, &mut rng);
    let x = sequence::<2>(&mut rng, 12);
    let outputs = effect.forward(&x);
    let mut state = EffectState::default();
    for (t, x_t) in x.iter().enumerate() {
        let y = effect.step(&mut state, x_t);
        assert!((y - outputs[t]).abs().max() < 1e-12, "step {t}");
    }

    let mut stacked = Stacked::<f64>::zeros();
    randomize(&mut stacked, &mut rng);
    let mut state = StackedState::default();
    for (t, x_t) in x.iter().enumerate() {
        let y = stacked.step(&mut state, x_t);
        let prefix = stacked.forward(&x[..=t]);
        assert!((y - prefix).abs().max() < 1e-12, "step {t}");
    }
    assert_eq!(state.steps, 12);
    state.reset();
    assert_eq!(state, StackedState::default());
}

#[test]
fn tensors_are_named_and_shaped_as_pytorch() {
    let names: Vec<(&str, &[usize])> = Stacked::<f32>::TENSORS
        .iter()
        .map(|t| (t.name, t.shape))
        .collect();
    assert_eq!(
        names,
        [
            ("r1.weight_ih_l0", &[4, 2][..]),
            ("r1.weight_hh_l0", &[4, 4][..]),
            ("r1.bias_ih_l0", &[4][..]),
            ("r1.bias_hh_l0", &[4][..]),
            ("r2.weight_ih_l0", &[16, 4][..]),
            ("r2.weight_hh_l0", &[16, 4][..]),
            ("r2.bias_ih_l0", &[16][..]),
            ("r2.bias_hh_l0", &[16][..]),
            ("r3.weight_ih_l0", &[3, 4][..]),
            ("r3.weight_hh_l0", &[3, 3][..]),
            ("r3.bias_ih_l0", &[3][..]),
            ("r3.bias_hh_l0", &[3][..]),
            ("hidden.weight", &[5, 3][..]),
            ("hidden.bias", &[5][..]),
            ("out.weight", &[2, 5][..]),
            ("out.bias", &[2][..]),
        ]
    );
    assert_eq!(
        GruClassifier::<f32>::TENSORS[0].role,
        TensorRole::RecurrentWeight { hidden: 4 }
    );
    assert_eq!(GruClassifier::<f32>::TENSORS[0].shape, &[12, 3]);
    assert_eq!(
        GruClassifier::<f32>::PARAM_COUNT,
        12 * 3 + 12 * 4 + 24 + 3 * 4 + 3
    );
    assert_eq!(
        GruClassifier::<f32>::ARCHITECTURE,
        "input: seq(3), r1: gru(4), last: last, out: dense(3), loss: softmax_cross_entropy"
    );
}

#[test]
#[should_panic(expected = "the sequence is empty; a sequence needs at least one step")]
fn an_empty_sequence_is_refused_with_a_clear_message() {
    let net = GruClassifier::<f32>::zeros();
    net.forward(&[]);
}

#[test]
#[should_panic(expected = "the sequence has 3 steps but 2 targets; give one target per step")]
fn sequence_targets_must_be_one_per_step() {
    let net = Effect::<f32>::zeros();
    let x = [SVector::zeros(); 3];
    net.loss(&x, &[SVector::zeros(); 2]);
}

/// Sign of the sum of a sequence of any length 3..12: a task only a state over time solves.
fn sign_task(rng: &mut StdRng, n: usize) -> (Vec<Vec<SVector<f32, 1>>>, Vec<usize>) {
    (0..n)
        .map(|_| {
            let len = rng.random_range(3..=12);
            let x: Vec<SVector<f32, 1>> = (0..len)
                .map(|_| SVector::from([rng.random_range(-1.0f32..1.0)]))
                .collect();
            let label = usize::from(x.iter().map(|v| v[0]).sum::<f32>() > 0.0);
            (x, label)
        })
        .unzip()
}

network! {
    /// Classifies the sign of a sequence's sum.
    pub struct SignClassifier {
        input: seq(1),
        r1: gru(8),
        last: last,
        out: dense(2),
        loss: softmax_cross_entropy,
    }
}

/// `fit_data` trains a sequence network on sequences of mixed lengths with the dense networks'
/// loop (optimizer, seeded shuffles, history): the sign of a sum, learned to 90 % (near-zero sums are the hard cases).
#[test]
fn fit_data_trains_a_gru_on_sequences_of_mixed_lengths() {
    use nn_runtime::optim::{Adam, AdamConfig};
    use nn_runtime::recurrent::SequenceDataset;
    use nn_runtime::train::{TrainConfig, TrainingData, fit_data};

    let mut rng = StdRng::seed_from_u64(8);
    let (x, y) = sign_task(&mut rng, 400);
    let train = SequenceDataset::<f32, 1, 2>::classification(x, &y).expect("valid");
    let (x, y) = sign_task(&mut rng, 200);
    let test = SequenceDataset::<f32, 1, 2>::classification(x, &y).expect("valid");
    let mut net: Box<SignClassifier<f32>> =
        nn_runtime::Init::default().seed(1).build().expect("init");
    let before = test.evaluate(&*net);
    let mut adam = Adam::new(AdamConfig {
        lr: 0.01,
        ..Default::default()
    })
    .expect("config");
    let config = TrainConfig {
        epochs: 15,
        batch_size: 16,
        seed: 3,
        progress: false,
        ..Default::default()
    };
    let history = fit_data(&mut *net, &mut adam, &train, Some(&test), &config).expect("trains");
    assert_eq!(history.epochs.len(), 15);
    let after = test.evaluate(&*net);
    assert!(after.loss < before.loss / 4.0, "{before:?} → {after:?}");
    assert!(after.accuracy.expect("classification") > 0.9, "{after:?}");
}

/// A minibatch of sequences of different lengths has the mean of their gradients (nothing is
/// padded, so no length affects another).
#[test]
fn a_minibatch_gradient_is_the_mean_over_sequences_of_any_length() {
    use nn_runtime::recurrent::SequenceDataset;
    use nn_runtime::train::TrainingData;

    let mut rng = StdRng::seed_from_u64(9);
    let mut net = GruClassifier::<f64>::zeros();
    randomize(&mut net, &mut rng);
    let sequences: Vec<Vec<SVector<f64, 3>>> = [2, 9, 5]
        .iter()
        .map(|&len| sequence::<3>(&mut rng, len))
        .collect();
    let data =
        SequenceDataset::<f64, 3, 3>::classification(sequences.clone(), &[0, 2, 1]).expect("valid");
    let mut batch = GruClassifier::<f64>::zeros();
    let mut training = nn_runtime::Training::seeded(0);
    let loss = data.backward(&mut net, &[0, 1, 2], &mut batch, &mut training);
    let mut sum = GruClassifier::<f64>::zeros();
    let mut total = 0.0;
    for (x, label) in sequences.iter().zip([0, 2, 1]) {
        total += net.backward_label(x, label, &mut sum);
    }
    assert!((loss - total / 3.0).abs() < 1e-12);
    for t in 0..GruClassifier::<f64>::TENSORS.len() {
        for (b, s) in batch.tensor(t).iter().zip(sum.tensor(t)) {
            assert!((b - s / 3.0).abs() < 1e-12);
        }
    }
}

#[test]
fn a_sequence_dataset_refuses_bad_sequences_with_a_clear_message() {
    use nn_runtime::recurrent::SequenceDataset;

    let empty = SequenceDataset::<f32, 1, 2>::classification(vec![vec![]], &[0]);
    assert_eq!(
        empty.unwrap_err().to_string(),
        "sequence 0 has no steps; every sequence needs at least one"
    );
    let label = SequenceDataset::<f32, 1, 2>::classification(vec![vec![SVector::zeros()]], &[2]);
    assert_eq!(
        label.unwrap_err().to_string(),
        "sequence 0 has label 2, but there are 2 classes (0 to 1)"
    );
    let steps = SequenceDataset::<f32, 1, 1, Vec<SVector<f32, 1>>>::new(
        vec![vec![SVector::zeros(); 3]],
        vec![vec![SVector::zeros(); 2]],
    );
    assert_eq!(
        steps.unwrap_err().to_string(),
        "sequence 0 has 3 steps but 2 targets; give one per step"
    );
}

/// Backpropagation through time over a batch (GEMMs) against finite differences, for every
/// network above, at lengths 1, 5 and 12.
#[test]
fn batch_bptt_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(21);
    for len in [1, 5, 12] {
        let mut net = GruClassifier::<f64>::zeros();
        randomize(&mut net, &mut rng);
        let x = batch::<3>(&mut rng, 4, len);
        let labels = [0, 2, 1, 2];
        let target = nn_runtime::one_hot_batch::<f64, 3>(&labels);
        assert_batch_gradient("gru classifier", &mut net, &x, &target);

        let mut net = Stacked::<f64>::zeros();
        randomize(&mut net, &mut rng);
        let x = batch::<2>(&mut rng, 3, len);
        let target = nn_runtime::Batch::<f64, 2>::from_fn(3, |_, _| rng.random_range(-1.0..1.0));
        assert_batch_gradient("stacked", &mut net, &x, &target);

        let mut net = Effect::<f64>::zeros();
        randomize(&mut net, &mut rng);
        let x = batch::<2>(&mut rng, 3, len);
        let target = batch::<1>(&mut rng, 3, len);
        assert_batch_gradient("effect", &mut net, &x, &target);

        let mut net = Tagger::<f64>::zeros();
        randomize(&mut net, &mut rng);
        let x = batch::<2>(&mut rng, 3, len);
        let target: Vec<_> = batch::<2>(&mut rng, 3, len)
            .into_iter()
            .map(|b| b.map(|v| f64::from(u8::from(v > 0.0))))
            .collect();
        assert_batch_gradient("tagger", &mut net, &x, &target);
    }
}

/// The batch path computes what the per-sample path computes: its loss and gradient are the
/// means of the samples' (sequence to sequence, with layer norm, a projection and an LSTM).
#[test]
fn a_batch_is_the_mean_of_its_samples() {
    let mut rng = StdRng::seed_from_u64(22);
    let mut net = Effect::<f64>::zeros();
    randomize(&mut net, &mut rng);
    let (samples, len) = (4, 7);
    let x = batch::<2>(&mut rng, samples, len);
    let target = batch::<1>(&mut rng, samples, len);
    let mut batch_grad = Effect::<f64>::zeros();
    let batch_loss = net.backward_batch(&x, &target, &mut batch_grad);
    let outputs = net.forward_batch(&x);

    let mut sum_grad = Effect::<f64>::zeros();
    let mut sum_loss = 0.0;
    for s in 0..samples {
        let xs: Vec<SVector<f64, 2>> = x.iter().map(|b| b.column(s).into_owned()).collect();
        let ts: Vec<SVector<f64, 1>> = target.iter().map(|b| b.column(s).into_owned()).collect();
        sum_loss += net.backward(&xs, &ts, &mut sum_grad);
        for (t, y) in net.forward(&xs).iter().enumerate() {
            assert!((y - outputs[t].column(s)).abs().max() < 1e-12);
        }
    }
    assert!((batch_loss - sum_loss / samples as f64).abs() < 1e-12);
    for t in 0..Effect::<f64>::TENSORS.len() {
        for (b, s) in batch_grad.tensor(t).iter().zip(sum_grad.tensor(t)) {
            assert!(
                (b - s / samples as f64).abs() < 1e-12,
                "{}",
                Effect::<f64>::TENSORS[t].name
            );
        }
    }
}

#[test]
#[should_panic(expected = "step 1 of the batch has 2 samples but step 0 has 3")]
fn a_batch_of_unequal_steps_is_refused() {
    let net = GruClassifier::<f32>::zeros();
    net.forward_batch(&[nn_runtime::Batch::zeros(3), nn_runtime::Batch::zeros(2)]);
}

/// Truncated BPTT through the network: one chunk covering the sequence is `backward` exactly;
/// over two chunks the state is carried (the second chunk's loss is the streamed outputs' loss
/// and the state ends where streaming leaves it) and the gradient is cut at the boundary.
#[test]
fn backward_chunk_carries_the_state_and_cuts_the_gradient() {
    let mut rng = StdRng::seed_from_u64(31);
    let mut net = Effect::<f64>::zeros();
    randomize(&mut net, &mut rng);
    let x = sequence::<2>(&mut rng, 14);
    let target = sequence::<1>(&mut rng, 14);

    let mut full = Effect::<f64>::zeros();
    let full_loss = net.backward(&x, &target, &mut full);
    let mut state = EffectState::default();
    let mut whole = Effect::<f64>::zeros();
    assert_eq!(
        net.backward_chunk(&mut state, &x, &target, &mut whole),
        full_loss
    );
    for t in 0..Effect::<f64>::TENSORS.len() {
        assert_eq!(whole.tensor(t), full.tensor(t));
    }
    let mut streamed = EffectState::default();
    let outputs: Vec<SVector<f64, 1>> = x.iter().map(|x_t| net.step(&mut streamed, x_t)).collect();
    assert_eq!(state, streamed);

    let mut state = EffectState::default();
    let mut chunked = Effect::<f64>::zeros();
    net.backward_chunk(&mut state, &x[..6], &target[..6], &mut chunked);
    let second = net.backward_chunk(&mut state, &x[6..], &target[6..], &mut chunked);
    let streamed_loss = outputs[6..]
        .iter()
        .zip(&target[6..])
        .map(|(y, t)| (y - t).norm_squared())
        .sum::<f64>()
        / 8.0;
    assert!(
        (second - streamed_loss).abs() < 1e-12,
        "{second} vs {streamed_loss}"
    );
    assert!((state.r2.c - streamed.r2.c).abs().max() < 1e-12);
    assert_eq!(state.steps, 14);
    let differs = (0..Effect::<f64>::TENSORS.len()).any(|t| {
        chunked
            .tensor(t)
            .iter()
            .zip(full.tensor(t))
            .any(|(a, b)| (a - b).abs() > 1e-9)
    });
    assert!(differs, "the gradient through the chunk boundary is cut");
}

/// The default initialization is PyTorch's for recurrent tensors, `U(−1/√H, 1/√H)`, and a
/// sequence network saves and loads through `io` with its PyTorch names, bit for bit.
#[test]
fn recurrent_tensors_initialize_as_pytorch_and_round_trip_through_io() {
    let net: Box<Stacked<f32>> = nn_runtime::Init::default().seed(5).build().expect("init");
    for (index, info) in Stacked::<f32>::TENSORS.iter().enumerate() {
        if let TensorRole::RecurrentWeight { hidden } | TensorRole::RecurrentBias { hidden } =
            info.role
        {
            let bound = 1.0 / (hidden as f32).sqrt();
            let values = net.tensor(index);
            assert!(values.iter().all(|v| v.abs() <= bound), "{}", info.name);
            assert!(
                values.iter().any(|v| v.abs() > bound / 2.0),
                "{} spreads",
                info.name
            );
        }
    }
    let dir = std::env::temp_dir().join(format!("nn-recurrent-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("stacked.safetensors");
    nn_runtime::io::save(&*net, &path).expect("saves");
    let loaded: Box<Stacked<f32>> = nn_runtime::io::load_boxed(&path).expect("loads");
    for index in 0..Stacked::<f32>::TENSORS.len() {
        assert_eq!(loaded.tensor(index), net.tensor(index));
    }
    std::fs::remove_dir_all(&dir).ok();
}
