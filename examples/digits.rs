//! The main job: train a residual MLP with layer norm on the 8×8 handwritten digits that ship
//! with the repository, report test accuracy, save the weights and the training curves.
//!
//! ```sh
//! cargo run --release --example digits            # writes target/digits/{digits.safetensors,curves.svg}
//! cargo run --release --example digits -- out/    # or into another directory
//! cargo run --release --example digits -- --threads 2   # split each minibatch over 2 threads
//! ```

use std::path::PathBuf;
use std::time::Instant;

use nn::digits::{self, Digits, Run};
use nn_runtime::train::summary;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut run = Run::default();
    let mut out = PathBuf::from("target/digits");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => run.threads = args.next().ok_or("--threads needs a number")?.parse()?,
            _ => out = PathBuf::from(arg),
        }
    }
    std::fs::create_dir_all(&out)?;

    println!(
        "digits: {} samples of {} pixels, {} classes; network {} ({} parameters)",
        digits::SAMPLES,
        digits::FEATURES,
        digits::CLASSES,
        <Digits as nn_runtime::Parameters<f32>>::ARCHITECTURE,
        Digits::<f32>::PARAM_COUNT,
    );
    let started = Instant::now();
    let outcome = digits::train(&run)?;
    let seconds = started.elapsed().as_secs_f64();

    let (train, valid, test) = outcome.sizes;
    println!(
        "split: {train} train, {valid} validation, {test} test (seed {})",
        run.seed
    );
    for stats in &outcome.history.epochs {
        if stats.epoch % 5 == 0 || stats.epoch == outcome.history.epochs.len() {
            println!("  {}", summary(stats));
        }
    }
    println!(
        "kept the weights of epoch {}{}",
        outcome.history.best_epoch,
        if outcome.history.stopped_early {
            " (early stopping)"
        } else {
            ""
        }
    );
    println!(
        "test accuracy: {:.4}  (training took {seconds:.2} s)",
        outcome.test_accuracy
    );

    let weights = out.join("digits.safetensors");
    // Saved with the standardization folded into `h1`: the file's model takes raw pixels.
    nn_runtime::io::save(&*outcome.raw_pixel_model(), &weights)?;
    let curves = out.join("curves.svg");
    nn_runtime::plot::save_history_svg(&outcome.history, &curves)?;
    println!("wrote {} and {}", weights.display(), curves.display());
    Ok(())
}
