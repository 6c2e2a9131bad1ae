//! The command-line program behind `examples/mnist` and `examples/mnist_cnn`: the same
//! options, loading, training loop (Adam, cosine decay, one `fit_with` call printing each
//! epoch), report and weights file, for whichever network the example declares.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use nn_runtime::Network;
use nn_runtime::init::Init;
use nn_runtime::optim::{Adam, AdamConfig, Schedule};
use nn_runtime::train::{self, Control, TrainConfig, summary};

/// What differs between the examples: the name (in messages and the weights file) and the
/// defaults of `--epochs` and `--threads`.
pub struct Example {
    /// `mnist` or `mnist_cnn`: the program's name and the weights file's stem.
    pub name: &'static str,
    /// Passes over the training images unless `--epochs` says otherwise.
    pub epochs: usize,
    /// Threads unless `--threads` says otherwise.
    pub threads: usize,
}

fn usage(name: &str) -> String {
    format!(
        "usage: {name} <dir> [--threads N] [--seed N] [--epochs N]\n<dir> holds MNIST's \
         train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and \
         t10k-labels-idx1-ubyte, each plain or gzipped (.gz)"
    )
}

/// Samples per minibatch.
const BATCH_SIZE: usize = 64;
/// Adam's initial learning rate (cosine-decayed to 0 over the run).
const LEARNING_RATE: f64 = 2e-3;

/// What the command line asks for.
struct Options {
    dir: PathBuf,
    threads: usize,
    seed: u64,
    epochs: usize,
}

/// The options (`defaults` for what is not given), `None` for `--help`, or what is wrong
/// with the command line.
fn parse_args(defaults: &Example) -> Result<Option<Options>, String> {
    let mut dir = None;
    let mut options = Options {
        dir: PathBuf::new(),
        threads: defaults.threads,
        seed: 0,
        epochs: defaults.epochs,
    };
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            let text = args
                .next()
                .ok_or_else(|| format!("{name} needs a number"))?;
            let text = text.to_string_lossy();
            text.parse::<u64>()
                .map_err(|_| format!("{name}: `{text}` is not a number"))
        };
        match arg.to_str().unwrap_or_default() {
            "--threads" => options.threads = value("--threads")? as usize,
            "--seed" => options.seed = value("--seed")?,
            "--epochs" => match value("--epochs")? {
                0 => return Err("--epochs must be at least 1".into()),
                epochs => options.epochs = epochs as usize,
            },
            "-h" | "--help" => return Ok(None),
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            _ if dir.is_some() => {
                return Err(format!("unexpected argument `{}`", arg.to_string_lossy()));
            }
            _ => dir = Some(PathBuf::from(arg)),
        }
    }
    options.dir = dir.ok_or("missing the MNIST directory")?;
    Ok(Some(options))
}

/// The example's `main` for network `N`: parses the command line, trains, reports, saves.
pub fn main<N>(example: Example) -> ExitCode
where
    N: Network<f32, 784, 10> + Send + Sync,
{
    let usage = usage(example.name);
    let options = match parse_args(&example) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("error: {problem}\n{usage}");
            return ExitCode::from(2);
        }
    };
    match run::<N>(example.name, &options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run<N>(name: &str, options: &Options) -> Result<(), Box<dyn std::error::Error>>
where
    N: Network<f32, 784, 10> + Send + Sync,
{
    let started = Instant::now();
    let mnist = super::load(&options.dir)?;
    let loaded = started.elapsed().as_secs_f64();
    println!(
        "{name}: {} training and {} test images from {} (read in {loaded:.2} s); \
         network {} ({} parameters)",
        mnist.train.len(),
        mnist.test.len(),
        options.dir.display(),
        N::ARCHITECTURE,
        N::PARAM_COUNT,
    );

    let mut net: Box<N> = Init::new(options.seed).build()?;
    let steps = mnist.train.len().div_ceil(BATCH_SIZE) as u64 * options.epochs as u64;
    let mut optimizer = Adam::new(AdamConfig {
        lr: LEARNING_RATE,
        schedule: Schedule::Cosine { steps, min_lr: 0.0 },
        ..AdamConfig::default()
    })?;
    println!(
        "training: {} epochs of {} steps (batch {BATCH_SIZE}), Adam lr {LEARNING_RATE} with \
         cosine decay, seed {}, {} thread(s)",
        options.epochs,
        mnist.train.len().div_ceil(BATCH_SIZE),
        options.seed,
        options.threads,
    );
    // One `fit_with` call; the callback prints each epoch as it ends. `fit` flushes subnormal
    // floats to zero while it runs (see `nn_runtime::fpenv`): without that, Adam's decaying
    // moments make every epoch after the first about twice as slow.
    let config = TrainConfig {
        epochs: options.epochs,
        batch_size: BATCH_SIZE,
        seed: options.seed,
        early_stopping: None,
        progress: false,
        threads: options.threads,
    };
    let training = Instant::now();
    let mut epoch_started = Instant::now();
    let history = train::fit_with(
        &mut *net,
        &mut optimizer,
        &mnist.train,
        None,
        &config,
        |stats, _, _| {
            let seconds = epoch_started.elapsed().as_secs_f64();
            let steps = stats.elapsed.as_secs_f64();
            println!(
                "  {}  ({steps:.2} s steps, {:.2} s evaluating the training set)",
                summary(stats),
                seconds - steps
            );
            epoch_started = Instant::now();
            Control::Continue
        },
    )?;
    let steps_time: f64 = history.epochs.iter().map(|e| e.elapsed.as_secs_f64()).sum();
    let final_train = history.epochs.last().and_then(|e| e.train.accuracy);
    let trained = training.elapsed().as_secs_f64();

    let test = train::evaluate(&*net, &mnist.test);
    let total = started.elapsed().as_secs_f64();
    println!(
        "test accuracy: {:.4}  (test loss {:.4})",
        test.accuracy.unwrap_or(0.0),
        test.loss
    );
    println!(
        "wall time: {total:.2} s in all, {trained:.2} s training ({steps_time:.2} s of it \
         optimizer steps, the rest evaluating after each epoch); final training accuracy {:.4}",
        final_train.unwrap_or(0.0)
    );

    let out = Path::new("target/mnist");
    std::fs::create_dir_all(out)?;
    let weights = out.join(format!("{name}.safetensors"));
    nn_runtime::io::save(&*net, &weights)?;
    println!("wrote {}", weights.display());
    Ok(())
}
