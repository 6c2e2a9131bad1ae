//! Unit tests of the training loop's internals.

use super::all_finite;

#[test]
fn all_finite_finds_a_nan_or_infinity_anywhere() {
    let finite: alloc::vec::Vec<f32> = (0..37).map(|i| i as f32 * 1e36).collect();
    assert!(all_finite(&finite));
    assert!(all_finite::<f64>(&[]));
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        // In the vectorized lanes, and in the remainder after the last full chunk.
        for at in [0, 15, 16, 31, 32, 36] {
            let mut values = finite.clone();
            values[at] = bad;
            assert!(!all_finite(&values), "{bad} at {at}");
        }
    }
}

nn_runtime::network! {
    struct Line { input: 1, out: dense(1), loss: mse }
}

/// A writer the test can read back after `fit` dropped its end.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<alloc::vec::Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn without_a_terminal_each_epoch_prints_one_summary_line() {
    use super::{Control, Run, TrainConfig, log::Log, summary};
    use crate::Parameters;
    use crate::data::Dataset;
    use crate::optim::{Sgd, SgdConfig};

    let data = Dataset::<f64, 1, 1>::regression(&[[0.0], [1.0], [2.0]], &[[1.0], [3.0], [5.0]])
        .expect("valid rows");
    let mut net = Line::<f64>::boxed_zeros();
    let mut sgd = Sgd::new(SgdConfig {
        lr: 0.05,
        ..Default::default()
    })
    .expect("a valid config");
    let config = TrainConfig {
        epochs: 3,
        batch_size: 2,
        ..Default::default()
    };
    let out = Shared::default();
    let run = Run {
        config: &config,
        first_epoch: 1,
        log: Log::Lines(alloc::boxed::Box::new(out.clone())),
    };
    let history = run
        .fit(&mut *net, &mut sgd, &data, None, |_, _, _| {
            Control::Continue
        })
        .expect("training runs");
    let text = String::from_utf8(out.0.lock().expect("not poisoned").clone()).expect("utf-8");
    let lines: alloc::vec::Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, stats) in lines.iter().zip(&history.epochs) {
        let (head, tail) = line.split_at(summary(stats).len());
        assert_eq!(head, summary(stats));
        assert!(
            tail.starts_with(" (") && tail.ends_with(" samples/s)"),
            "{line}"
        );
    }
    assert!(lines[2].starts_with("epoch 3: loss "), "{}", lines[2]);
}
