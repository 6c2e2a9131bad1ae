//! Every workload of BENCHMARKS.md in one run: for each, every implementation is built from the
//! same weights and data and checked against nn (the run stops with a message if one
//! disagrees), then timed by criterion, one group per workload (`A_784-512-512-10/nn`, …).
//!
//! `cargo bench -p nn-bench --bench workloads [-- FILTER]` (see `bench/run.sh`);
//! `NN_BENCH_QUICK=1` for a smoke run with short times.
//!
//! Single thread: `RAYON_NUM_THREADS=1` (and `MATMUL_NUM_THREADS=1`) are set first thing,
//! before any library starts (see `nn_bench::single_thread`). Each row also records the
//! process's CPU time over its wall time while criterion ran it (`cpu.json` beside criterion's
//! files): 1.0 means one busy thread.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use nn_bench::workloads::{self, Kind, Visitor, Workload};

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

/// User plus system CPU time of this process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): state is field 3, utime 14,
    // stime 15, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

struct Bench {
    c: Criterion,
    group: Option<Workload>,
    filter: Option<String>,
    quick: bool,
}

impl Visitor for Bench {
    fn wants(&mut self, w: Workload) -> bool {
        // criterion's filter is a regex on `group/function`: skip building a workload only when
        // the part before any `/` is plain text that is not in its group name.
        match &self.filter {
            None => true,
            Some(f) => {
                let g = f.split('/').next().unwrap_or("");
                g.contains(|c| "^$.*+?()[]{}|\\".contains(c)) || w.group().contains(g)
            }
        }
    }

    fn begin(&mut self, w: Workload) {
        eprintln!("{}: every implementation agrees with nn", w.group());
        self.group = Some(w);
    }

    fn visit(&mut self, name: &str, op: &mut dyn FnMut()) {
        let w = self.group.expect("a workload");
        let mut g = self.c.benchmark_group(w.group());
        // About 6 minutes for the whole run without burn.
        let (warm, measure, samples, flat) = match (self.quick, w.kind) {
            (true, _) => (0.2, 0.5, 10, true),
            (false, Kind::A | Kind::C) => (2.0, 5.0, 100, false),
            (false, Kind::B | Kind::D) => (2.0, 10.0, 50, true),
        };
        g.warm_up_time(Duration::from_secs_f64(warm))
            .measurement_time(Duration::from_secs_f64(measure))
            .sample_size(samples);
        if flat {
            g.sampling_mode(SamplingMode::Flat);
        }
        let (cpu0, wall0) = (cpu_time(), Instant::now());
        g.bench_function(name, |b| b.iter(&mut *op));
        let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
        g.finish();
        let ratio = cpu.as_secs_f64() / wall.as_secs_f64();
        let dir = criterion_home().join(w.group()).join(name);
        // A row the filter left out took no time: keep the figure of the run that measured it.
        if dir.is_dir() && wall > Duration::from_millis(200) {
            let json = format!("{{\"cpu_over_wall\": {ratio:.3}}}\n");
            if let Err(e) = std::fs::write(dir.join("cpu.json"), json) {
                eprintln!("cannot write cpu.json in {}: {e}", dir.display());
            }
            eprintln!("{}/{name}: CPU time / wall time {ratio:.2}", w.group());
        }
    }

    fn end(&mut self) {
        self.group = None;
    }
}

fn main() {
    nn_bench::single_thread();
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .filter(|a| !a.is_empty());
    let mut b = Bench {
        c: Criterion::default().configure_from_args(),
        group: None,
        filter,
        quick: std::env::var_os("NN_BENCH_QUICK").is_some_and(|v| v != "0"),
    };
    workloads::run(&mut b);
    b.c.final_summary();
}
