//! Universal approximation: one hidden layer of 32 tanh units fits `sin x` on `[−π, π]`.
//!
//! The network trains with Adam (cosine-annealed learning rate, minibatches of 16) on `sin` at
//! 256 grid points, then is measured on 1000 evenly spaced points of `[−π, π]`, a grid that
//! does not coincide with the training one: the figure is the largest absolute error there.
//! Everything is seeded, so every run prints the same error (in debug and release builds);
//! `tests/examples.rs` pins it.
//!
//! ```sh
//! cargo run --release --example sine
//! ```

use nn::sine::{self, Sine};
use nn_runtime::nalgebra::SVector;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "sine: {} ({} parameters)",
        <Sine as nn_runtime::Parameters<f32>>::ARCHITECTURE,
        Sine::<f32>::PARAM_COUNT
    );
    println!(
        "training: {} points, {} epochs, batch {}, Adam lr {} → {} (cosine), seed {}",
        sine::TRAIN_POINTS,
        sine::EPOCHS,
        sine::BATCH_SIZE,
        sine::LEARNING_RATE,
        sine::MIN_LR,
        sine::SEED
    );
    let fitted = sine::fit(sine::SEED)?;
    for stats in &fitted.history.epochs {
        if stats.epoch == 1 || stats.epoch % 200 == 0 {
            println!("  epoch {:>4}: mse {:.2e}", stats.epoch, stats.train.loss);
        }
    }
    println!("training took {:.2} s", fitted.elapsed.as_secs_f64());

    println!("       x   sin x       ŷ");
    for x in sine::grid(9) {
        let y = fitted.net.forward(&SVector::from([x]))[0];
        println!("  {x:>6.3}  {:>6.3}  {y:>6.3}", x.sin());
    }
    println!(
        "max |ŷ − sin x| over {} points of [−π, π]: {:.6} (at x = {:.3})",
        sine::TEST_POINTS,
        fitted.max_error,
        fitted.worst_x
    );
    Ok(())
}
