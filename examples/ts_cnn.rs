//! One-dimensional convolutional networks on two time-series classification problems of the
//! UEA & UCR archive, on their official train/test splits (the files in `data/sequences/`, read
//! with `nn_runtime::ts`; provenance in the README's "Data"):
//!
//! - GunPoint: one channel of 150 steps (a hand's x coordinate), 2 classes, 50 training and
//!   150 test cases;
//! - BasicMotions: 6 channels (accelerometer and gyroscope axes) of 100 steps, 4 classes, 40
//!   training and 40 test cases.
//!
//! ```sh
//! cargo run --release --example ts_cnn            # both, seed 0
//! cargo run --release --example ts_cnn -- --seed 3
//! ```
//!
//! Each network is a small fully convolutional classifier (after Wang et al. 2017, without
//! batch norm): three `same`-padded relu convolutions (GunPoint's with max pooling between
//! them), a global average pool over time, a dense layer to the classes. Each channel is standardized with the training set's mean and deviation.
//! Adam (learning rate 2e-3, cosine-decayed), batch 8; the accuracies and times measured are in
//! the README's "Convolutional networks". The networks and the training live in `nn::ts_cnn`
//! (`src/ts_cnn.rs`), which `tests/conv_ts.rs` also runs.

use std::process::ExitCode;

use nn::ts_cnn::{self, GunPointCnn, MotionsCnn};
use nn_runtime::{Network, Parameters};

fn main() -> ExitCode {
    let mut seed = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|v| v.parse::<u64>())) {
            ("--seed", Some(Ok(value))) => seed = value,
            _ => {
                eprintln!("usage: ts_cnn [--seed N]");
                return ExitCode::from(2);
            }
        }
    }
    let runs = [
        report::<GunPointCnn<f32>, 150, 2>("GunPoint", 1, 200, seed),
        report::<MotionsCnn<f32>, 600, 4>("BasicMotions", 6, 150, seed),
    ];
    for result in runs {
        if let Err(error) = result {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Trains `N` on `problem` (see [`ts_cnn::run`]) and prints what it measured.
fn report<N, const IN: usize, const OUT: usize>(
    problem: &str,
    channels: usize,
    epochs: usize,
    seed: u64,
) -> Result<(), Box<dyn std::error::Error>>
where
    N: Network<f32, IN, OUT> + Parameters<f32> + Send + Sync,
{
    let outcome = ts_cnn::run::<N, IN, OUT>(problem, channels, epochs, seed)?;
    println!(
        "{problem}: {} training, {} test cases; {} ({} parameters)\n  {epochs} epochs, seed \
         {seed}: training accuracy {:.4}, test accuracy {:.4} (test loss {:.4}), {:.2} s",
        outcome.cases.0,
        outcome.cases.1,
        N::ARCHITECTURE,
        N::PARAM_COUNT,
        outcome.train_accuracy,
        outcome.test_accuracy,
        outcome.test_loss,
        outcome.seconds,
    );
    Ok(())
}
