//! The sequence and convolution workloads of BENCHMARKS.md ("Sequences and convolution": S, T,
//! L, M, G): every implementation checked first (the run stops with a message if one
//! disagrees), then timed by criterion, one group per workload (`S_gru-8/limit`, …).
//!
//! `cargo bench -p nn-bench --bench sequences [-- FILTER]`; `NN_BENCH_QUICK=1` for a smoke run
//! with short times. Single thread, subnormals flushed, as the `workloads` bench
//! (`nn_bench::single_thread`); each row records the process's CPU time over its wall time
//! (`cpu.json`), which falls below 1.0 when other processes take the CPU from the bench.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use nn_bench::stream::{self, StreamVisitor};
use nn_bench::{conv, seqtrain};

/// criterion's output directory, found as criterion finds it.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion")
}

/// User plus system CPU time of this process (fields 14 and 15 of `/proc/self/stat`, in
/// clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

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
        let (cpu0, wall0) = (cpu_time(), Instant::now());
        g.bench_function(name, |b| b.iter(&mut *op));
        let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
        g.finish();
        let dir = criterion_home().join(group).join(name);
        // A row the filter left out took no time: keep the figure of the run that measured it.
        if dir.is_dir() && wall > Duration::from_millis(200) {
            let ratio = cpu.as_secs_f64() / wall.as_secs_f64();
            let json = format!("{{\"cpu_over_wall\": {ratio:.3}}}\n");
            if let Err(e) = std::fs::write(dir.join("cpu.json"), json) {
                eprintln!("cannot write cpu.json in {}: {e}", dir.display());
            }
            eprintln!("{group}/{name}: CPU time / wall time {ratio:.2}");
        }
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
    stream::conv_gru::run(&mut b, &wants);
    seqtrain::run(&mut b, &wants);
    conv::run(&mut b, &wants);
    // burn's rows of T, L and M (feature `burn`), checked as the others before they are timed.
    #[cfg(feature = "burn")]
    {
        seqtrain::burn_impl::run(&mut b, &wants);
        conv::burn_impl::run(&mut b, &wants);
    }
    // burn's row of G (`G_gunpoint/burn`), from its own seeded weights and f64 reference.
    #[cfg(feature = "burn")]
    conv::burn_impl::run_gunpoint(&mut b, &wants);
    b.c.final_summary();
}
