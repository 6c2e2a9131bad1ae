//! The training loop: reproducible, threaded products equal serial ones, a NaN stops training
//! without damaging the weights, early stopping keeps the best epoch.

use nn_runtime::data::Dataset;
use nn_runtime::init::Init;
use nn_runtime::optim::{Optimizer, Sgd, SgdConfig};
use nn_runtime::train::{EarlyStopping, TrainConfig, TrainError, fit};
use nn_runtime::{Parameters, Real};

nn_runtime::network! {
    /// A small classifier for two interleaved half-moons-like clusters.
    pub struct Net {
        input: 2,
        h1: dense(16, tanh),
        h2: dense(16, relu) + h1,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

/// 300 points in three noisy rings, labelled by ring.
fn rings<T: Real>() -> Dataset<T, 2, 3> {
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    for i in 0..300 {
        let class = i % 3;
        let angle = i as f64 * 0.37;
        let radius = 1.0 + class as f64 + 0.3 * ((i * 7919 % 100) as f64 / 100.0 - 0.5);
        rows.push([
            T::constant(radius * angle.cos()),
            T::constant(radius * angle.sin()),
        ]);
        labels.push(class);
    }
    Dataset::classification(&rows, &labels).expect("valid rows")
}

fn config(threads: usize) -> TrainConfig {
    TrainConfig {
        epochs: 5,
        batch_size: 50,
        seed: 3,
        early_stopping: None,
        progress: false,
        threads,
    }
}

fn sgd<N: Parameters<f64>>(lr: f64) -> Sgd<f64, N> {
    Sgd::new(SgdConfig {
        lr,
        momentum: 0.9,
        ..SgdConfig::default()
    })
}

nn_runtime::network! {
    /// Wide enough that its batch products (256 × 256 × 50 multiply-adds) split over threads.
    pub struct Wide {
        input: 2,
        h1: dense(256, tanh),
        h2: dense(256, relu) + h1,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

/// Splitting a product's blocks over threads computes every entry the same way; allow only
/// rounding, should a GEMM kernel ever round a block edge differently.
const PARALLEL_TOL: f64 = 1e-12;

#[test]
fn same_seed_same_run_and_threads_only_change_rounding() {
    const { assert!(256 * 256 * 50 >= nn_runtime::linalg::PARALLEL_MIN_MACS) };
    let data = rings::<f64>();
    let run = |threads| {
        let mut net: Box<Wide<f64>> = Init::new(1).build().expect("init");
        let history =
            fit(&mut *net, &mut sgd(0.05), &data, None, &config(threads)).expect("trains");
        (net, history)
    };
    let (serial, serial_history) = run(1);
    let (again, again_history) = run(1);
    let metrics = |h: &nn_runtime::train::History| -> Vec<_> {
        h.epochs.iter().map(|e| (e.train, e.validation)).collect()
    };
    assert_eq!(
        metrics(&serial_history),
        metrics(&again_history),
        "the same seed gives the same run"
    );
    assert_eq!(serial.tensor(0), again.tensor(0));

    let (parallel, parallel_history) = run(2);
    for t in 0..Wide::<f64>::TENSORS.len() {
        for (a, b) in serial.tensor(t).iter().zip(parallel.tensor(t)) {
            assert!(
                (a - b).abs() < PARALLEL_TOL,
                "{}: {a} vs {b}",
                Wide::<f64>::TENSORS[t].name
            );
        }
    }
    let (first, last) = (
        &serial_history.epochs[0],
        serial_history.epochs.last().expect("epochs"),
    );
    assert!(last.train.loss < first.train.loss);
    assert!((parallel_history.epochs[4].train.loss - last.train.loss).abs() < 1e-9);
}

/// Delegates to SGD and keeps a copy of the weights after every step it applied.
struct Recording<N: Parameters<f64>> {
    inner: Sgd<f64, N>,
    after_last_step: Box<N>,
}

impl<N: Parameters<f64>> Optimizer<f64, N> for Recording<N> {
    fn step(&mut self, net: &mut N, grad: &N) {
        self.inner.step(net, grad);
        self.after_last_step.copy_from(net);
    }

    fn learning_rate(&self) -> f64 {
        self.inner.learning_rate()
    }
}

#[test]
fn a_nan_loss_stops_training_and_keeps_the_weights_from_before_that_step() {
    let data = rings::<f64>();
    let mut net: Box<Net<f64>> = Init::new(1).build().expect("init");
    // A learning rate this large overflows the weights within a few steps.
    let mut optimizer = Recording {
        inner: sgd(1e150),
        after_last_step: net.boxed_copy(),
    };
    let error = fit(&mut *net, &mut optimizer, &data, None, &config(1)).expect_err("diverges");
    let (epoch, step) = match error {
        TrainError::NonFiniteLoss { epoch, step, .. }
        | TrainError::NonFiniteGradient { epoch, step, .. } => (epoch, step),
        other => panic!("unexpected error {other}"),
    };
    assert!(
        error
            .to_string()
            .contains(&format!("at epoch {epoch}, step {step}")),
        "{error}"
    );
    for t in 0..Net::<f64>::TENSORS.len() {
        assert_eq!(
            net.tensor(t),
            optimizer.after_last_step.tensor(t),
            "the failing step was not applied"
        );
        assert!(net.tensor(t).iter().all(|w| w.is_finite()));
    }
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let data = rings::<f64>();
    let (train, valid) = data.split(0.8, 5);
    let mut net: Box<Net<f64>> = Init::new(2).build().expect("init");
    let config = TrainConfig {
        epochs: 200,
        early_stopping: Some(EarlyStopping {
            patience: 3,
            min_delta: 0.0,
        }),
        ..config(1)
    };
    // A learning rate high enough that the validation loss stops improving soon.
    let history = fit(&mut *net, &mut sgd(0.5), &train, Some(&valid), &config).expect("trains");
    assert!(
        history.stopped_early,
        "stopped after {} epochs",
        history.epochs.len()
    );
    let best = history
        .epochs
        .iter()
        .map(|e| e.validation.expect("validation").loss)
        .fold(f64::INFINITY, f64::min);
    let kept = &history.epochs[history.best_epoch - 1];
    assert_eq!(kept.validation.expect("validation").loss, best);
    let now = nn_runtime::train::evaluate(&*net, &valid).loss;
    assert!(
        (now - best).abs() < 1e-12,
        "the network holds the best epoch's weights: {now} vs {best}"
    );
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let data = rings::<f64>();
    let mut net = Net::<f64>::zeros();
    let empty =
        Dataset::<f64, 2, 3>::classification::<[f64; 2]>(&[], &[]).expect("empty is valid data");
    assert_eq!(
        fit(&mut net, &mut sgd(0.1), &empty, None, &config(1)),
        Err(TrainError::EmptyDataset)
    );
    let zero = TrainConfig {
        batch_size: 0,
        ..config(1)
    };
    assert_eq!(
        fit(&mut net, &mut sgd(0.1), &data, None, &zero),
        Err(TrainError::ZeroBatchSize)
    );
}

#[test]
fn class_labels_are_one_hot_targets() {
    let data = rings::<f64>();
    let net: Box<Net<f64>> = Init::new(4).build().expect("init");
    let x = data.inputs.fixed_view::<2, 1>(0, 7).into_owned();
    let target = nn_runtime::one_hot::<f64, 3>(2);
    let (mut by_label, mut by_vector) = (Net::<f64>::zeros(), Net::<f64>::zeros());
    assert_eq!(net.loss_label(&x, 2), net.loss(&x, &target));
    assert_eq!(
        net.backward_label(&x, 2, &mut by_label),
        net.backward(&x, &target, &mut by_vector)
    );
    assert_eq!(by_label.tensor(0), by_vector.tensor(0));

    let labels = data.labels();
    assert_eq!(
        net.loss_batch_labels(&data.inputs, &labels),
        net.loss_batch(&data.inputs, &data.targets)
    );
    let (mut by_labels, mut by_targets) = (Net::<f64>::zeros(), Net::<f64>::zeros());
    net.backward_batch_labels(&data.inputs, &labels, &mut by_labels);
    net.backward_batch(&data.inputs, &data.targets, &mut by_targets);
    assert_eq!(by_labels.tensor(2), by_targets.tensor(2));
}
