//! The sequence workloads of BENCHMARKS.md ("Recurrent streaming", "Recurrent training",
//! "Convolution"): every implementation checked first (the run stops with a message if one
//! disagrees), then timed by criterion, one group per workload (`S_gru-8/limit`, …).
//!
//! `cargo bench -p nn-bench --bench sequences [-- FILTER]`; `NN_BENCH_QUICK=1` for a smoke run
//! with short times. Single thread, subnormals flushed, as the `workloads` bench
//! (`nn_bench::single_thread`).

use std::time::Duration;

use criterion::{Criterion, SamplingMode};
use nn_bench::stream::{self, StreamVisitor};
use nn_bench::{conv, seqtrain};

struct Bench {
    c: Criterion,
    quick: bool,
}

impl StreamVisitor for Bench {
    fn visit(&mut self, group: &str, name: &str, op: &mut dyn FnMut()) {
        let mut g = self.c.benchmark_group(group);
        // Streaming steps take nanoseconds, training steps milliseconds.
        let slow = !group.starts_with("S_");
        let (warm, measure, samples) = match (self.quick, slow) {
            (true, _) => (0.2, 0.5, 10),
            (false, false) => (1.0, 3.0, 100),
            (false, true) => (2.0, 8.0, 20),
        };
        g.warm_up_time(Duration::from_secs_f64(warm))
            .measurement_time(Duration::from_secs_f64(measure))
            .sample_size(samples);
        if slow {
            g.sampling_mode(SamplingMode::Flat);
        }
        g.bench_function(name, |b| b.iter(&mut *op));
        g.finish();
    }
}

fn main() {
    nn_bench::single_thread();
    // criterion's filter is a regex on `group/row`: skip building a group only when the part
    // before any `/` is plain text that is not in its name.
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .filter(|a| !a.is_empty());
    let wants = move |group: &str| match &filter {
        None => true,
        Some(f) => {
            let g = f.split('/').next().unwrap_or("");
            g.contains(|c| "^$.*+?()[]{}|\\".contains(c)) || group.contains(g)
        }
    };
    let mut b = Bench {
        c: Criterion::default().configure_from_args(),
        quick: std::env::var_os("NN_BENCH_QUICK").is_some_and(|v| v != "0"),
    };
    stream::run(&mut b, &wants);
    seqtrain::run(&mut b, &wants);
    conv::run(&mut b, &wants);
    b.c.final_summary();
}
