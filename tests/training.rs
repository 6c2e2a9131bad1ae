//! The training loop: reproducible, threaded products equal serial ones, a NaN or infinite
//! loss, gradient or update stops training without damaging the weights, early stopping keeps
//! the best epoch, bad configurations and empty data are errors, binary labels train a
//! one-output classifier; a per-epoch callback watches and stops a run, a run resumed from a
//! checkpoint ends bit for bit where the uninterrupted one does, subnormals flush to zero
//! during `fit` only.

use nn_runtime::data::Dataset;
use nn_runtime::fpenv::flushing_subnormals;
use nn_runtime::init::Init;
use nn_runtime::optim::{Adam, AdamConfig, Schedule};
use nn_runtime::optim::{Optimizer, Sgd, SgdConfig};
use nn_runtime::train::{
    Control, EarlyStopping, Stop, TrainConfig, TrainError, evaluate, fit, fit_with,
    load_checkpoint, resume_with, save_checkpoint,
};
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
    .expect("a valid config")
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

/// Delegates to SGD and keeps a copy of the weights before and after the last step it took.
struct Recording<N: Parameters<f64>> {
    inner: Sgd<f64, N>,
    before_last_step: Box<N>,
    after_last_step: Box<N>,
}

impl<N: Parameters<f64>> Optimizer<f64, N> for Recording<N> {
    fn step(&mut self, net: &mut N, grad: &N) {
        self.before_last_step.copy_from(net);
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
        before_last_step: net.boxed_copy(),
        after_last_step: net.boxed_copy(),
    };
    let error = fit(&mut *net, &mut optimizer, &data, None, &config(1)).expect_err("diverges");
    // The failing step's update was applied and undone, or never applied.
    let (epoch, step, kept) = match error {
        TrainError::NonFiniteLoss { epoch, step, .. }
        | TrainError::NonFiniteGradient { epoch, step, .. } => {
            (epoch, step, &optimizer.after_last_step)
        }
        TrainError::NonFiniteUpdate { epoch, step, .. } => {
            (epoch, step, &optimizer.before_last_step)
        }
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
            net.tensor(t)
                .iter()
                .map(|w| w.to_bits())
                .collect::<Vec<_>>(),
            kept.tensor(t)
                .iter()
                .map(|w| w.to_bits())
                .collect::<Vec<_>>(),
            "the failing step was not applied"
        );
        assert!(net.tensor(t).iter().all(|w| w.is_finite()));
    }
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let data = rings::<f64>();
    let (train, valid) = data.split(0.8, 5).expect("a fraction in [0, 1]");
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
    assert_eq!(history.stop, Stop::EarlyStopping);
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
    let error = fit(&mut net, &mut sgd(0.1), &data, None, &zero).expect_err("batch size 0");
    assert_eq!(
        error.to_string(),
        "`batch_size` of `TrainConfig` is 0; use a number >= 1"
    );
    assert!(matches!(error, TrainError::Config(_)), "{error:?}");
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

nn_runtime::network! {
    /// A line `y = w x + b`: one weight, one bias.
    pub struct Line {
        input: 1,
        out: dense(1),
        loss: mse,
    }
}

/// The bits of every parameter of `net`, tensor by tensor.
fn bits<N: Parameters<f32>>(net: &N) -> Vec<Vec<u32>> {
    (0..N::TENSORS.len())
        .map(|t| net.tensor(t).iter().map(|w| w.to_bits()).collect())
        .collect()
}

#[test]
fn an_update_that_overflows_is_undone_even_on_the_last_step() {
    // One sample, one step: a finite loss (5e17) and gradient (-1e9), but the step
    // `w −= 1e30 · (−1e9)` overflows f32. It is the run's last step, so without the check
    // after the update `fit` would return `Ok` with infinite weights.
    let data = Dataset::<f32, 1, 1>::regression(&[[1.0f32]], &[[1e9f32]]).expect("finite");
    let mut net: Box<Line<f32>> = Init::new(1).build().expect("init");
    let before = bits(&*net);
    let mut optimizer = Sgd::new(SgdConfig {
        lr: 1e30,
        ..SgdConfig::default()
    })
    .expect("a large but finite learning rate is valid");
    let config = TrainConfig {
        epochs: 1,
        batch_size: 1,
        ..config(1)
    };
    let error = fit(&mut *net, &mut optimizer, &data, None, &config).expect_err("overflows");
    assert_eq!(
        error,
        TrainError::NonFiniteUpdate {
            epoch: 1,
            step: 1,
            tensor: "out.weight"
        }
    );
    assert_eq!(
        error.to_string(),
        "the update made `out.weight` NaN or infinite at epoch 1, step 1; training stopped and \
         the weights from before that step were kept (lower the learning rate, or clip the \
         gradient with `max_grad_norm`)"
    );
    assert_eq!(
        bits(&*net),
        before,
        "bit for bit the weights from before the step"
    );
}

#[test]
fn non_finite_weights_are_an_error_naming_the_tensor() {
    let data = rings::<f64>();
    let mut net: Box<Net<f64>> = Init::new(1).build().expect("init");
    net.h2.bias[3] = f64::NAN;
    let error = fit(&mut *net, &mut sgd(0.1), &data, None, &config(1)).expect_err("NaN weight");
    assert_eq!(error, TrainError::NonFiniteWeights { tensor: "h2.bias" });
    assert_eq!(
        error.to_string(),
        "the weights given to training hold a NaN or an infinity in `h2.bias`; initialize the \
         network (`Init`) or load finite weights before training"
    );
}

#[test]
fn an_empty_validation_set_is_an_error_not_a_perfect_score() {
    let data = rings::<f64>();
    // `split(1.0, _)` leaves nothing for validation: its loss must not count as 0.
    let (train, valid) = data.split(1.0, 5).expect("a fraction in [0, 1]");
    assert!(valid.is_empty());
    let mut net: Box<Net<f64>> = Init::new(2).build().expect("init");
    let before = net.boxed_copy();
    let config = TrainConfig {
        early_stopping: Some(EarlyStopping {
            patience: 2,
            min_delta: 0.0,
        }),
        ..config(1)
    };
    let error =
        fit(&mut *net, &mut sgd(0.1), &train, Some(&valid), &config).expect_err("empty validation");
    assert_eq!(error, TrainError::EmptyValidation);
    assert_eq!(
        error.to_string(),
        "the validation data has no samples; give it samples, or pass `None` to train without \
         validation"
    );
    assert_eq!(net.tensor(0), before.tensor(0), "nothing was trained");
}

#[test]
#[should_panic(expected = "cannot evaluate a network on an empty dataset")]
fn evaluating_an_empty_dataset_panics_instead_of_scoring_zero() {
    let net: Box<Net<f64>> = Init::new(2).build().expect("init");
    let empty = Dataset::<f64, 2, 3>::classification::<[f64; 2]>(&[], &[]).expect("valid");
    evaluate(&*net, &empty);
}

#[test]
fn min_delta_must_be_finite_and_non_negative() {
    let data = rings::<f64>();
    for (min_delta, shown) in [(f64::NAN, "NaN"), (-0.5, "-0.5"), (f64::INFINITY, "inf")] {
        let mut net: Box<Net<f64>> = Init::new(2).build().expect("init");
        let config = TrainConfig {
            early_stopping: Some(EarlyStopping {
                patience: 2,
                min_delta,
            }),
            ..config(1)
        };
        let error = fit(&mut *net, &mut sgd(0.1), &data, None, &config).expect_err("rejected");
        assert_eq!(
            error.to_string(),
            format!("`min_delta` of `EarlyStopping` is {shown}; use a finite number >= 0")
        );
    }
}

#[test]
fn split_rejects_a_fraction_outside_zero_to_one() {
    let data = rings::<f64>();
    for (fraction, shown) in [(f64::NAN, "NaN"), (1.5, "1.5"), (-0.25, "-0.25")] {
        let error = data.split(fraction, 0).expect_err("rejected");
        assert_eq!(
            error.to_string(),
            format!("`fraction` of `Dataset::split` is {shown}; use a number in [0, 1]")
        );
    }
    let (all, none) = data.split(1.0, 0).expect("1 is a fraction");
    assert_eq!((all.len(), none.len()), (300, 0));
}

nn_runtime::network! {
    /// A binary classifier: one logit, sigmoid + binary cross-entropy.
    pub struct Binary {
        input: 2,
        h1: dense(8, tanh),
        out: dense(1),
        loss: binary_cross_entropy,
    }
}

#[test]
fn a_one_output_classifier_trains_on_labels_0_and_1() {
    // Inside or outside the ring of radius 2.
    let rings = rings::<f64>();
    let labels: Vec<usize> = rings.labels().iter().map(|&l| usize::from(l > 0)).collect();
    let rows: Vec<[f64; 2]> = rings.inputs.column_iter().map(|c| [c[0], c[1]]).collect();
    let data = Dataset::<f64, 2, 1>::classification(&rows, &labels).expect("binary labels");
    assert_eq!(data.labels(), labels, "labels() reads the 0/1 targets back");

    let mut net: Box<Binary<f64>> = Init::new(3).build().expect("init");
    let mut optimizer = nn_runtime::optim::Adam::new(nn_runtime::optim::AdamConfig {
        lr: 0.05,
        ..Default::default()
    })
    .expect("a valid config");
    let config = TrainConfig {
        epochs: 60,
        batch_size: 30,
        ..config(1)
    };
    let history = fit(&mut *net, &mut optimizer, &data, None, &config).expect("trains");
    let accuracy = history.epochs.last().expect("epochs").train.accuracy;
    // The classes are separated by a circle; a tanh layer of 8 fits it (measured: 0.99+).
    assert!(accuracy.expect("a classifier") > 0.95, "{accuracy:?}");
}

#[test]
fn the_callback_sees_every_epoch_and_can_stop_the_run() {
    let data = rings::<f64>();
    let mut net: Box<Net<f64>> = Init::new(4).build().expect("init");
    let mut seen = Vec::new();
    let history = fit_with(
        &mut *net,
        &mut sgd(0.05),
        &data,
        None,
        &config(1),
        |stats, _, _| {
            seen.push(stats.clone());
            Control::Continue
        },
    )
    .expect("trains");
    assert_eq!(
        seen, history.epochs,
        "every epoch, in order, with its metrics"
    );
    assert_eq!(seen.len(), 5);
    assert_eq!(
        (history.stop, history.stopped_early),
        (Stop::Completed, false)
    );

    let mut net: Box<Net<f64>> = Init::new(4).build().expect("init");
    let history = fit_with(
        &mut *net,
        &mut sgd(0.05),
        &data,
        None,
        &config(1),
        |stats, _, _| {
            if stats.epoch == 2 {
                Control::Stop
            } else {
                Control::Continue
            }
        },
    )
    .expect("trains");
    assert_eq!(history.epochs.len(), 2);
    assert_eq!(history.stop, Stop::Callback);
    assert_eq!(history.best_epoch, 2);
    assert!(!history.stopped_early);
    // The network holds epoch 2's weights: the metrics recorded for it are its own.
    assert_eq!(evaluate(&*net, &data), history.epochs[1].train);
}

#[test]
fn fit_flushes_subnormals_while_it_runs_and_restores_the_thread_after() {
    let data = rings::<f64>();
    let mut net: Box<Net<f64>> = Init::new(4).build().expect("init");
    let mut inside = Vec::new();
    fit_with(
        &mut *net,
        &mut sgd(0.05),
        &data,
        None,
        &config(1),
        |_, _, _| {
            inside.push(flushing_subnormals());
            Control::Continue
        },
    )
    .expect("trains");
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        assert_eq!(inside, [true; 5]);
    }
    assert!(
        !flushing_subnormals(),
        "the calling thread's setting is restored"
    );
}

/// A fresh directory under the system's temporary directory.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nn-training-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn adam<N: Parameters<f32>>() -> Adam<f32, N> {
    Adam::new(AdamConfig {
        lr: 0.01,
        schedule: Schedule::Cosine {
            steps: 60,
            min_lr: 0.0,
        },
        ..AdamConfig::default()
    })
    .expect("a valid config")
}

#[test]
fn a_run_resumed_from_a_checkpoint_ends_with_bit_identical_weights() {
    let data = rings::<f32>();
    let config = TrainConfig {
        epochs: 6,
        ..config(1)
    };
    let mut straight: Box<Net<f32>> = Init::new(7).build().expect("init");
    let straight_history = fit(&mut *straight, &mut adam(), &data, None, &config).expect("trains");

    // The same run, checkpointed after every epoch and stopped after epoch 2 ...
    let dir = scratch("resume");
    let mut first: Box<Net<f32>> = Init::new(7).build().expect("init");
    let history = fit_with(
        &mut *first,
        &mut adam(),
        &data,
        None,
        &config,
        |stats, net, opt| {
            save_checkpoint(
                dir.join(format!("epoch-{}", stats.epoch)),
                net,
                opt,
                stats.epoch,
            )
            .expect("saved");
            if stats.epoch == 2 {
                Control::Stop
            } else {
                Control::Continue
            }
        },
    )
    .expect("trains");
    assert_eq!(history.stop, Stop::Callback);
    // ... then resumed, in fresh values, from the checkpoint of epoch 2.
    let mut resumed: Box<Net<f32>> = Init::new(99).build().expect("init");
    let mut optimizer = adam();
    let epoch = load_checkpoint(dir.join("epoch-2"), &mut *resumed, &mut optimizer).expect("loads");
    assert_eq!(epoch, 2);
    assert_eq!(
        optimizer.steps(),
        2 * 6,
        "the step count is restored (300 / 50 per epoch)"
    );
    let rest = resume_with(
        &mut *resumed,
        &mut optimizer,
        &data,
        None,
        &config,
        epoch,
        |_, _, _| Control::Continue,
    )
    .expect("trains");

    assert_eq!(bits(&*resumed), bits(&*straight), "bit for bit");
    let epochs: Vec<usize> = rest.epochs.iter().map(|e| e.epoch).collect();
    assert_eq!(epochs, [3, 4, 5, 6]);
    assert_eq!(rest.epochs[3].train, straight_history.epochs[5].train);

    // A checkpoint of another optimizer is refused before anything changes.
    let mut sgd = Sgd::<f32, Net<f32>>::new(SgdConfig {
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .expect("a valid config");
    let before = bits(&*resumed);
    let error = load_checkpoint(dir.join("epoch-2"), &mut *resumed, &mut sgd)
        .expect_err("an Adam checkpoint");
    assert!(
        error.to_string().contains("optimizer.safetensors")
            && error.to_string().contains("`momentum_buffer.h1.weight`"),
        "{error}"
    );
    assert_eq!(bits(&*resumed), before, "the network is unchanged");
    assert_eq!(sgd.steps(), 0, "the optimizer is unchanged");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn optimizer_state_files_use_pytorch_names_and_refuse_another_optimizers_state() {
    let data = rings::<f32>();
    let mut net: Box<Net<f32>> = Init::new(7).build().expect("init");
    let mut optimizer = adam();
    fit(
        &mut *net,
        &mut optimizer,
        &data,
        None,
        &TrainConfig {
            epochs: 1,
            ..config(1)
        },
    )
    .expect("trains");
    let bytes = optimizer.state_to_bytes();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..8 + header_len]).expect("a JSON header");
    let mut names: Vec<&str> = header
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .filter(|name| *name != "__metadata__")
        .collect();
    names.sort_unstable();
    let mut expected: Vec<String> = ["exp_avg", "exp_avg_sq"]
        .iter()
        .flat_map(|state| {
            Net::<f32>::TENSORS
                .iter()
                .map(move |t| format!("{state}.{}", t.name))
        })
        .collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert_eq!(header["__metadata__"]["step"], "6");
    assert_eq!(
        header["exp_avg.h1.weight"]["shape"],
        serde_json::json!([16, 2])
    );

    // Loading it back into a fresh Adam restores the state exactly.
    let mut again = adam::<Net<f32>>();
    again.load_state_from_bytes(&bytes).expect("loads");
    assert_eq!(again.state_to_bytes(), bytes);

    // Into an SGD with momentum: a clear error, and the SGD unchanged.
    let mut momentum = Sgd::<f32, Net<f32>>::new(SgdConfig {
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .expect("a valid config");
    let untouched = momentum.state_to_bytes();
    let error = momentum
        .load_state_from_bytes(&bytes)
        .expect_err("wrong optimizer");
    let message = error.to_string();
    assert!(
        message.starts_with("tensor `momentum_buffer.h1.weight` (shape [16, 2]) is missing")
            && message.contains("which has `exp_avg.h1.weight`"),
        "{message}"
    );
    assert_eq!(momentum.state_to_bytes(), untouched);
}

nn_runtime::network! {
    /// `o = w x`: one weight, so that a forward pass can be made to produce a subnormal.
    pub struct Scale { input: 1, out: dense(1, bias = false), loss: binary_cross_entropy }
}

#[test]
fn the_threads_of_fits_pool_flush_subnormals_too() {
    // `w x = 1e-20 · 1e-20 = 1e-40` is subnormal: kept, the logit is positive and the label-1
    // sample counts as correct; flushed to 0, it counts as wrong. `lr = 0` keeps `w`.
    let data = Dataset::<f32, 1, 1>::classification(&[[1e-20]], &[1]).expect("valid rows");
    let accuracy = |threads| {
        let mut net = Scale::<f32>::boxed_zeros();
        net.out.weight[0] = 1e-20;
        let mut sgd = Sgd::<f32, Scale<f32>>::new(SgdConfig {
            lr: 0.0,
            ..SgdConfig::default()
        })
        .expect("a valid config");
        let config = TrainConfig {
            epochs: 1,
            batch_size: 1,
            ..config(threads)
        };
        let history = fit(&mut *net, &mut sgd, &data, None, &config).expect("trains");
        assert_eq!(net.out.weight[0], 1e-20);
        assert_eq!(
            evaluate(&*net, &data).accuracy,
            Some(1.0),
            "unflushed outside fit"
        );
        history.epochs[0].train.accuracy
    };
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        // On the calling thread; then on a thread of the two-thread pool, where `fit`
        // evaluates the epoch.
        assert_eq!(accuracy(1), Some(0.0));
        assert_eq!(accuracy(2), Some(0.0));
    }
}
