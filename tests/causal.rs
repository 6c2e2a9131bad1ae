//! Causal convolution in sequence networks: `conv1d(C_out, kernel = K, dilation = D, causal)`
//! on `input: seq(F)`, on the input, after a dense layer, in front of a recurrent cell, between
//! two cells, with residuals (plain and projected), before a reduction.
//!
//! Backpropagation through time is checked against central differences of the loss in f64
//! (`gradcheck`), per sample and per batch, over sequences of length 1 to 20; `step` over a
//! stream against the whole-sequence forward pass; `backward_chunk` against `backward`; the
//! tensors against PyTorch's `nn.Conv1d` names and shapes.

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, Parameters, network};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "support/sequence_gradients.rs"]
mod gradients;
use gradients::{assert_batch_gradient, assert_gradient, batch, randomize, sequence};

network! {
    /// Issue 13's streaming model: dense 1→8, tanh, causal conv1d 8→4 (kernel 3, dilation 2),
    /// tanh, GRU 4→8, dense 8→1, one output per step.
    pub struct ConvGru {
        input: seq(1),
        pre: dense(8, tanh),
        conv: conv1d(4, kernel = 3, dilation = 2, causal, tanh),
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}

network! {
    /// Two causal convolutions with a residual between them, an LSTM, the last step classified.
    pub struct ConvClassifier {
        input: seq(3),
        c1: conv1d(4, kernel = 2, causal, tanh),
        c2: conv1d(4, kernel = 3, dilation = 3, causal, tanh) + c1,
        r1: lstm(5),
        last: last,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// A causal convolution straight on the input, without bias, with a projected residual from
    /// the input, reduced by `mean`.
    pub struct ConvMean {
        input: seq(2),
        c1: conv1d(3, kernel = 4, causal, bias = false, tanh) + project(input),
        pool: mean,
        out: dense(2),
        loss: mse,
    }
}

network! {
    /// A causal convolution between two cells, with a residual over the first, then `mean`.
    pub struct Between {
        input: seq(2),
        r1: gru(3),
        c1: conv1d(3, kernel = 2, dilation = 2, causal, tanh) + r1,
        r2: lstm(3),
        pool: mean,
        out: dense(2),
        loss: mse,
    }
}

network! {
    /// Kernel 1: no history (a per-step product), before an Elman cell.
    pub struct Pointwise {
        input: seq(2),
        c1: conv1d(3, kernel = 1, causal, tanh),
        r1: rnn(3),
        last: last,
        out: dense(1),
        loss: mse,
    }
}

network! {
    /// A linear causal convolution straight to the output: it can be a delay line.
    pub struct Delay {
        input: seq(1),
        c1: conv1d(1, kernel = 2, dilation = 2, causal),
        loss: mse,
    }
}

#[test]
fn conv_gru_bptt_matches_finite_differences_over_lengths_1_to_20() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut net = ConvGru::<f64>::zeros();
    for len in 1..=20 {
        randomize(&mut net, &mut rng);
        let x = sequence::<1>(&mut rng, len);
        let target = sequence::<1>(&mut rng, len);
        assert_gradient("conv + gru", &mut net, &x, &target);
    }
}

#[test]
fn stacked_convs_with_residual_and_lstm_match_finite_differences_over_lengths_1_to_20() {
    let mut rng = StdRng::seed_from_u64(12);
    let mut net = ConvClassifier::<f64>::zeros();
    for len in 1..=20 {
        randomize(&mut net, &mut rng);
        let x = sequence::<3>(&mut rng, len);
        let target = nn_runtime::one_hot::<f64, 3>(len % 3);
        assert_gradient("conv classifier", &mut net, &x, &target);
    }
}

#[test]
fn conv_on_the_input_without_bias_with_projection_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(13);
    let mut net = ConvMean::<f64>::zeros();
    for len in 1..=20 {
        randomize(&mut net, &mut rng);
        let x = sequence::<2>(&mut rng, len);
        let target = SVector::<f64, 2>::new(0.3, -0.2);
        assert_gradient("conv mean", &mut net, &x, &target);
    }
}

#[test]
fn batch_bptt_matches_finite_differences_over_lengths_1_to_20() {
    let mut rng = StdRng::seed_from_u64(14);
    let mut conv_gru = ConvGru::<f64>::zeros();
    let mut classifier = ConvClassifier::<f64>::zeros();
    let mut mean = ConvMean::<f64>::zeros();
    for len in 1..=20 {
        randomize(&mut conv_gru, &mut rng);
        let x = batch::<1>(&mut rng, 3, len);
        let target = batch::<1>(&mut rng, 3, len);
        assert_batch_gradient("conv + gru", &mut conv_gru, &x, &target);

        randomize(&mut classifier, &mut rng);
        let x = batch::<3>(&mut rng, 4, len);
        let target = nn_runtime::one_hot_batch::<f64, 3>(&[0, 2, 1, len % 3]);
        assert_batch_gradient("conv classifier", &mut classifier, &x, &target);

        randomize(&mut mean, &mut rng);
        let x = batch::<2>(&mut rng, 2, len);
        let target = Batch::<f64, 2>::from_fn(2, |_, _| rng.random_range(-1.0..1.0));
        assert_batch_gradient("conv mean", &mut mean, &x, &target);
    }
}

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

/// Streaming one step at a time gives the whole-sequence outputs: the state's history stands
/// in for the steps before; for a sequence-to-one network, the output of the prefix.
#[test]
fn step_matches_the_whole_sequence_forward_pass() {
    let mut rng = StdRng::seed_from_u64(15);
    let mut conv_gru = ConvGru::<f64>::zeros();
    randomize(&mut conv_gru, &mut rng);
    let x = sequence::<1>(&mut rng, 17);
    let outputs = conv_gru.forward(&x);
    let mut state = ConvGruState::default();
    for (t, x_t) in x.iter().enumerate() {
        let y = conv_gru.step(&mut state, x_t);
        assert!((y - outputs[t]).abs().max() < 1e-12, "step {t}");
    }
    state.reset();
    assert_eq!(state, ConvGruState::default());

    let mut classifier = ConvClassifier::<f64>::zeros();
    randomize(&mut classifier, &mut rng);
    let x = sequence::<3>(&mut rng, 14);
    let mut state = ConvClassifierState::default();
    for (t, x_t) in x.iter().enumerate() {
        let y = classifier.step(&mut state, x_t);
        let prefix = classifier.forward(&x[..=t]);
        assert!((y - prefix).abs().max() < 1e-12, "step {t}");
    }
}

/// Truncated backpropagation through time: one chunk over the whole sequence is `backward`;
/// over two chunks, the second starts from the carried history (its loss is the streamed
/// outputs'), and the state after each chunk is the one `step` leaves.
#[test]
fn chunks_carry_the_convolution_history() {
    let mut rng = StdRng::seed_from_u64(16);
    let mut net = ConvGru::<f64>::zeros();
    randomize(&mut net, &mut rng);
    let x = sequence::<1>(&mut rng, 11);
    let target = sequence::<1>(&mut rng, 11);

    let mut whole = ConvGru::<f64>::zeros();
    let loss = net.backward(&x, &target, &mut whole);
    let mut chunked = ConvGru::<f64>::zeros();
    let mut state = ConvGruState::default();
    let chunk_loss = net.backward_chunk(&mut state, &x, &target, &mut chunked);
    assert_eq!(loss, chunk_loss);
    for t in 0..ConvGru::<f64>::TENSORS.len() {
        assert_eq!(whole.tensor(t), chunked.tensor(t));
    }

    let (first, second) = (4, 7);
    let mut state = ConvGruState::default();
    let mut streamed = ConvGruState::default();
    let mut grad = ConvGru::<f64>::zeros();
    net.backward_chunk(&mut state, &x[..first], &target[..first], &mut grad);
    let mut outputs = Vec::new();
    for x_t in &x[..first + second] {
        outputs.push(net.step(&mut streamed, x_t));
        if outputs.len() == first {
            assert_eq!(state, streamed, "state after the first chunk");
        }
    }
    let second_loss = net.backward_chunk(&mut state, &x[first..], &target[first..], &mut grad);
    assert_eq!(state, streamed, "state after the second chunk");
    let expected: f64 = outputs[first..]
        .iter()
        .zip(&target[first..])
        .map(|(y, t)| (y - t).norm_squared())
        .sum::<f64>()
        / second as f64;
    assert!(
        (second_loss - expected).abs() < 1e-12,
        "{second_loss} vs {expected}"
    );
}

#[test]
fn streaming_step_allocates_nothing() {
    let mut net = ConvGru::<f32>::zeros();
    for t in 0..ConvGru::<f32>::TENSORS.len() {
        for (i, w) in net.tensor_mut(t).iter_mut().enumerate() {
            *w = ((i * 31 + t * 7) % 11) as f32 / 11.0 - 0.5;
        }
    }
    let mut state = ConvGruState::default();
    let x = SVector::<f32, 1>::new(0.3);
    let count = counting_alloc::allocations(|| {
        for _ in 0..100 {
            std::hint::black_box(net.step(&mut state, &x));
        }
    });
    assert_eq!(count, 0);
    assert_eq!(state.steps, 100);
}

/// PyTorch's `nn.Conv1d` names and shapes, and the layer as `LAYERS` records it.
#[test]
fn tensors_are_named_and_shaped_as_pytorch() {
    let names: Vec<(&str, &[usize])> = ConvGru::<f32>::TENSORS
        .iter()
        .map(|t| (t.name, t.shape))
        .collect();
    assert_eq!(
        names,
        [
            ("pre.weight", &[8, 1][..]),
            ("pre.bias", &[8][..]),
            ("conv.weight", &[4, 8, 3][..]),
            ("conv.bias", &[4][..]),
            ("r1.weight_ih_l0", &[24, 4][..]),
            ("r1.weight_hh_l0", &[24, 8][..]),
            ("r1.bias_ih_l0", &[24][..]),
            ("r1.bias_hh_l0", &[24][..]),
            ("out.weight", &[1, 8][..]),
            ("out.bias", &[1][..]),
        ]
    );
    assert_eq!(
        ConvGru::<f32>::PARAM_COUNT,
        8 + 8 + 96 + 4 + 96 + 192 + 48 + 8 + 1
    );
    assert_eq!(
        ConvGru::<f32>::LAYERS[1].kind,
        nn_runtime::LayerKind::CausalConv {
            out_channels: 4,
            kernel: 3,
            dilation: 2,
            bias: true
        }
    );
    assert_eq!(
        ConvGru::<f32>::ARCHITECTURE,
        "input: seq(1), pre: dense(8, tanh), conv: conv1d(4, kernel = 3, dilation = 2, causal, \
         tanh), r1: gru(8), out: dense(1), loss: mse"
    );
    let names: Vec<&str> = ConvMean::<f32>::TENSORS.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        ["c1.weight", "c1.proj.weight", "out.weight", "out.bias"]
    );
}

/// Saved and loaded through a safetensors file, the network computes the same outputs.
#[test]
fn a_saved_network_loads_back_identically() {
    let mut rng = StdRng::seed_from_u64(17);
    let mut net = ConvClassifier::<f64>::zeros();
    randomize(&mut net, &mut rng);
    let path = std::env::temp_dir().join(format!("nn-causal-{}.safetensors", std::process::id()));
    nn_runtime::io::save(&net, &path).expect("saves");
    let loaded: Box<ConvClassifier<f64>> = nn_runtime::io::load_boxed(&path).expect("loads");
    std::fs::remove_file(&path).ok();
    let x = sequence::<3>(&mut rng, 9);
    assert_eq!(net.forward(&x), loaded.forward(&x));
}

/// A kernel of 1 keeps no history: gradients, batch gradients and streaming still agree.
#[test]
fn a_kernel_of_one_streams_and_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(18);
    let mut net = Pointwise::<f64>::zeros();
    for len in [1, 2, 9] {
        randomize(&mut net, &mut rng);
        let x = sequence::<2>(&mut rng, len);
        let target = SVector::<f64, 1>::new(0.4);
        assert_gradient("pointwise", &mut net, &x, &target);
        let xb = batch::<2>(&mut rng, 3, len);
        let targetb = Batch::<f64, 1>::from_fn(3, |_, _| rng.random_range(-1.0..1.0));
        assert_batch_gradient("pointwise", &mut net, &xb, &targetb);
        let mut state = PointwiseState::default();
        let streamed = x.iter().map(|x_t| net.step(&mut state, x_t)).last();
        assert!((streamed.expect("a step") - net.forward(&x)).abs().max() < 1e-12);
    }
}

/// Trained with Adam on batches of random signals, the convolution learns `y_t = x_{t−2} −
/// ½ x_t`: its weight `[1, 1, 2]` comes out `[1, −½]` in PyTorch's tap order (tap 0 reads the
/// farthest step back), its bias 0.
#[test]
fn adam_learns_a_delay_line() {
    use nn_runtime::optim::{Adam, AdamConfig, Optimizer};
    let mut rng = StdRng::seed_from_u64(19);
    let mut net = Delay::<f64>::zeros();
    let mut adam = Adam::new(AdamConfig {
        lr: 0.02,
        ..AdamConfig::default()
    })
    .expect("a valid config");
    let mut loss = f64::INFINITY;
    for _ in 0..600 {
        let x = batch::<1>(&mut rng, 8, 16);
        let target: Vec<Batch<f64, 1>> = (0..x.len())
            .map(|t| {
                let past = if t >= 2 {
                    x[t - 2].clone()
                } else {
                    Batch::zeros(8)
                };
                past - &x[t] * 0.5
            })
            .collect();
        let mut grad = Delay::<f64>::zeros();
        loss = net.backward_batch(&x, &target, &mut grad);
        adam.step(&mut net, &grad);
    }
    assert!(loss < 1e-6, "final loss {loss}");
    let weight = net.tensor(0);
    assert!(
        (weight[0] - 1.0).abs() < 1e-3 && (weight[1] + 0.5).abs() < 1e-3,
        "{weight:?}"
    );
    assert!(net.tensor(1)[0].abs() < 1e-3);
}

/// Between two cells: gradients per sample and per batch, and streaming (the history holds the
/// first cell's outputs).
#[test]
fn a_conv_between_cells_matches_finite_differences_and_streams() {
    let mut rng = StdRng::seed_from_u64(20);
    let mut net = Between::<f64>::zeros();
    for len in [1, 3, 8, 20] {
        randomize(&mut net, &mut rng);
        let x = sequence::<2>(&mut rng, len);
        let target = SVector::<f64, 2>::new(-0.1, 0.5);
        assert_gradient("between", &mut net, &x, &target);
        let xb = batch::<2>(&mut rng, 2, len);
        let targetb = Batch::<f64, 2>::from_fn(2, |_, _| rng.random_range(-1.0..1.0));
        assert_batch_gradient("between", &mut net, &xb, &targetb);
        let mut state = BetweenState::default();
        let streamed = x.iter().map(|x_t| net.step(&mut state, x_t)).last();
        assert!((streamed.expect("a step") - net.forward(&x)).abs().max() < 1e-12);
    }
}
