//! Where `fit` reports progress: a bar on a terminal, one line per epoch elsewhere, or nothing.

use alloc::boxed::Box;
use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use super::{EpochStats, TrainConfig, summary};

/// The progress report of one run.
pub(super) enum Log {
    /// `progress: false`.
    Quiet,
    /// A terminal: `epoch 3/8 ████░░ 41,230/480,000 samples, 52103 samples/s, ETA 8s epoch 2:
    /// loss …`.
    Bar(ProgressBar),
    /// Not a terminal (a log file, CI): one line per epoch, [`summary`] with its time and rate.
    Lines(Box<dyn Write>),
}

impl Log {
    /// The report `config.progress` asks for, on stderr.
    pub(super) fn for_config(config: &TrainConfig) -> Log {
        if !config.progress {
            Log::Quiet
        } else if std::io::stderr().is_terminal() {
            Log::Bar(ProgressBar::new(0))
        } else {
            Log::Lines(Box::new(std::io::stderr()))
        }
    }

    /// Sizes the bar for epochs `first..=epochs` of `samples` each.
    pub(super) fn start(&mut self, first: usize, epochs: usize, samples: usize) {
        if let Log::Bar(bar) = self {
            let remaining = (epochs + 1).saturating_sub(first);
            bar.set_length((remaining * samples) as u64);
            let template = "{prefix} {bar:30} {human_pos}/{human_len} samples, {rate}, \
                            ETA {eta} {msg}";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn core::fmt::Write| {
                        let _ = write!(w, "{:.0} samples/s", state.per_sec());
                    },
                ));
            }
            // The rate and ETA count from here, not from the bar's creation.
            bar.reset_elapsed();
            bar.reset_eta();
        }
    }

    /// Epoch `epoch` of `epochs` begins.
    pub(super) fn epoch(&mut self, epoch: usize, epochs: usize) {
        if let Log::Bar(bar) = self {
            bar.set_prefix(alloc::format!("epoch {epoch}/{epochs}"));
        }
    }

    /// A step over `n` samples is done.
    pub(super) fn samples(&mut self, n: usize) {
        if let Log::Bar(bar) = self {
            bar.inc(n as u64);
        }
    }

    /// An epoch over `samples` samples is done and evaluated.
    pub(super) fn epoch_done(&mut self, stats: &EpochStats, samples: usize) {
        match self {
            Log::Quiet => {}
            Log::Bar(bar) => bar.set_message(summary(stats)),
            Log::Lines(out) => {
                let seconds = stats.elapsed.as_secs_f64();
                let rate = samples as f64 / seconds.max(1e-9);
                // A log that cannot be written to is no reason to stop training.
                let _ = writeln!(
                    out,
                    "{} ({seconds:.2} s, {rate:.0} samples/s)",
                    summary(stats)
                );
            }
        }
    }

    /// The run failed: leave the bar where it is.
    pub(super) fn abandon(&mut self) {
        if let Log::Bar(bar) = self {
            bar.abandon();
        }
    }

    /// The run ended.
    pub(super) fn finish(&mut self) {
        if let Log::Bar(bar) = self {
            bar.finish();
        }
    }
}
