//! Prints the last benchmark run as Markdown: the machine, then one table per workload (median
//! time per operation, the interquartile range of the per-iteration sample times, samples per
//! second, GFLOP/s, the ratio to the limit row, CPU time over wall time), then the targets of
//! BENCHMARKS.md, met or not.
//!
//! `cargo run --release -p nn-bench --bin table [CRITERION_DIR]` (default: the workspace's
//! `target/criterion`). Reads `<group>/<row>/new/{estimates,sample}.json` (criterion's),
//! `cpu.json` (the bench's) and `load.txt` (`bench/run.sh`'s).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use nn_bench::workloads::{self, Kind, Workload};
use nn_bench::{BATCH, LARGE, MID, SMALL, TINY};

/// Row names in report order, with their labels.
const ROWS: [(&str, &str); 10] = [
    ("nn", "nn"),
    ("nn_fused", "nn, fused `sgd_step_label`"),
    ("nn_2threads", "nn, 2 threads"),
    ("limit", "limit"),
    ("floor", "floor (read every parameter once)"),
    ("candle", "candle"),
    ("dfdx", "dfdx"),
    ("burn", "burn"),
    ("nn_backward", "nn's part: `grad.fill(0.0)` + backward"),
    ("nn_update", "nn's part: `opt.step`"),
];

/// One row's figures, nanoseconds per operation.
#[derive(Clone, Copy, Debug)]
struct Row {
    median: f64,
    q1: f64,
    q3: f64,
    cpu_over_wall: Option<f64>,
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn read_row(root: &Path, group: &str, name: &str) -> Option<Row> {
    let dir = root.join(group).join(name);
    let sample = read_json(&dir.join("new/sample.json"))?;
    let iters = sample["iters"].as_array()?;
    let times = sample["times"].as_array()?;
    let mut per_iter: Vec<f64> = iters
        .iter()
        .zip(times)
        .filter_map(|(i, t)| Some(t.as_f64()? / i.as_f64()?))
        .collect();
    if per_iter.is_empty() {
        return None;
    }
    per_iter.sort_by(f64::total_cmp);
    let median = read_json(&dir.join("new/estimates.json"))
        .and_then(|e| e["median"]["point_estimate"].as_f64())
        .unwrap_or_else(|| quantile(&per_iter, 0.5));
    Some(Row {
        median,
        q1: quantile(&per_iter, 0.25),
        q3: quantile(&per_iter, 0.75),
        cpu_over_wall: read_json(&dir.join("cpu.json")).and_then(|c| c["cpu_over_wall"].as_f64()),
    })
}

fn time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.2} M", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.1} k", per_s / 1e3)
    } else {
        format!("{per_s:.0}")
    }
}

fn machine(root: &Path) -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|x| x.1.trim())
        })
        .unwrap_or("unknown")
        .to_string();
    let flags: Vec<&str> = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags")?.split_once(':').map(|x| x.1))
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let has = |f: &str| if flags.contains(&f) { "yes" } else { "no" };
    let logical = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let mut s = String::new();
    let _ = writeln!(s, "- CPU: {model}, {logical} logical cores");
    let _ = writeln!(
        s,
        "- flags: avx2 {}, fma {}, avx512f {}",
        has("avx2"),
        has("fma"),
        has("avx512f")
    );
    let _ = writeln!(s, "- {rustc}; plain `--release` build (no target-cpu flag)");
    if let Ok(load) = fs::read_to_string(root.join("load.txt")) {
        let _ = writeln!(s, "- load averages (1, 5, 15 min) around the run:");
        let _ = writeln!(s, "\n```text\n{}```", load);
    }
    s
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"));
    let get = |w: Workload, name: &str| read_row(&root, &w.group(), name);
    let wl = |kind, arch| Workload { kind, arch };

    println!("### Machine\n");
    println!("{}", machine(&root));
    println!(
        "Median: criterion's median of the per-iteration sample times. Spread: their \
         interquartile range (25th–75th percentile). GFLOP/s: the FLOP formula of this \
         document over the median. vs limit: the row's median over the limit's (> 1: slower). \
         CPU/wall: the process's CPU time over wall time while the row ran (1.0 = one busy \
         thread).\n"
    );

    for w in workloads::all() {
        let limit = match w.kind {
            Kind::D => get(wl(Kind::B, w.arch), "limit"),
            _ => get(w, "limit"),
        };
        let one = get(w, "nn");
        let mut rows: Vec<(String, Row)> = Vec::new();
        for (name, label) in ROWS {
            if let Some(r) = get(w, name) {
                let label = if w.kind == Kind::D && name == "nn" {
                    "nn, 1 thread".to_string()
                } else {
                    label.to_string()
                };
                rows.push((label, r));
            }
            if let (Kind::D, "limit", Some(l)) = (w.kind, name, limit) {
                rows.push(("limit (B, 1 thread)".to_string(), l));
            }
        }
        if rows.is_empty() {
            continue;
        }
        println!("#### {}\n", w.title());
        let extra = if w.kind == Kind::D {
            " speedup vs nn, 1 thread |"
        } else {
            ""
        };
        println!(
            "| implementation | median | spread (IQR) | samples/s | GFLOP/s | vs limit | CPU/wall |{extra}"
        );
        println!(
            "|---|---:|---:|---:|---:|---:|---:|{}",
            if extra.is_empty() { "" } else { "---:|" }
        );
        for (label, r) in rows {
            let ratio = limit.map_or("—".to_string(), |l| {
                format!("{:.2}×", r.median / l.median)
            });
            // The breakdown rows are parts of a step: no throughput of their own.
            let part = label.starts_with("nn's part");
            let per_s = if part {
                "—".to_string()
            } else {
                rate(w.samples() as f64 / (r.median * 1e-9))
            };
            let gflops = if part {
                "—".to_string()
            } else {
                format!("{:.2}", w.flops() / r.median)
            };
            let cpu = r.cpu_over_wall.map_or("—".into(), |c| format!("{c:.2}"));
            let bold = |s: String| {
                if label == "nn" || label.starts_with("nn,") {
                    format!("**{s}**")
                } else {
                    s
                }
            };
            print!(
                "| {label} | {} | {}–{} | {per_s} | {gflops} | {ratio} | {cpu} |",
                bold(time(r.median)),
                time(r.q1),
                time(r.q3),
            );
            if w.kind == Kind::D {
                match one {
                    Some(o) => print!(" {:.2}× |", o.median / r.median),
                    None => print!(" — |"),
                }
            }
            println!();
        }
        println!();
    }

    // The targets.
    println!("### Targets\n");
    println!("| target | measured | met |");
    println!("|---|---|:-:|");
    let target = |what: String, measured: Option<(String, bool)>| match measured {
        Some((m, ok)) => println!("| {what} | {m} | {} |", if ok { "yes" } else { "**no**" }),
        None => println!("| {what} | not measured | — |"),
    };
    let ratio = |w: Workload, a: &str, b: &str| Some(get(w, a)?.median / get(w, b)?.median);
    for arch in [TINY, SMALL, MID, LARGE] {
        let w = wl(Kind::A, arch);
        target(
            format!("A {}: nn within 1.15× of the limit", arch.name),
            ratio(w, "nn", "limit").map(|r| (format!("{r:.2}×"), r <= 1.15)),
        );
        if arch == TINY {
            target(
                format!("A {}: nn at most 20 ns", arch.name),
                get(w, "nn").map(|e| (time(e.median), e.median <= 20.0)),
            );
        }
        let peers: &[(&str, f64)] = if arch == TINY || arch == SMALL {
            &[("dfdx", 5.0), ("candle", 5.0)]
        } else {
            &[("candle", 1.0)]
        };
        for &(peer, factor) in peers {
            let what = if factor > 1.0 {
                format!("A {}: nn ≥ {factor}× faster than {peer}", arch.name)
            } else {
                format!("A {}: nn faster than {peer}", arch.name)
            };
            target(
                what,
                ratio(w, peer, "nn")
                    .map(|r| (format!("{r:.2}× faster"), r >= factor.max(1.0) && r > 1.0)),
            );
        }
    }
    for arch in [SMALL, LARGE] {
        let w = wl(Kind::B, arch);
        target(
            format!("B {}: nn within 1.2× of the fused-sgemm limit", arch.name),
            ratio(w, "nn", "limit").map(|r| (format!("{r:.2}×"), r <= 1.2)),
        );
        for peer in ["candle", "dfdx", "burn"] {
            target(
                format!("B {}: nn faster than {peer}", arch.name),
                ratio(w, peer, "nn").map(|r| (format!("{r:.2}× faster"), r > 1.0)),
            );
        }
    }
    let b = get(wl(Kind::B, SMALL), "nn");
    for (row, label) in [("nn", "nn"), ("nn_fused", "nn's fused `sgd_step`")] {
        let c = get(wl(Kind::C, SMALL), row);
        target(
            format!(
                "C {}: {label} within 1.5× of B's per-sample cost (B / {BATCH})",
                SMALL.name
            ),
            c.zip(b).map(|(c, b)| {
                let per = b.median / BATCH as f64;
                let r = c.median / per;
                (
                    format!("{} vs {} per sample: {r:.2}×", time(c.median), time(per)),
                    r <= 1.5,
                )
            }),
        );
    }
    target(
        format!(
            "C {}: nn's fused `sgd_step` within 1.3× of the fused limit",
            SMALL.name
        ),
        ratio(wl(Kind::C, SMALL), "nn_fused", "limit").map(|r| (format!("{r:.2}×"), r <= 1.3)),
    );
    // `bench/run.sh` writes `alloc.txt` when `bench/tests/alloc.rs` passed.
    target(
        format!("C {}: no heap allocation per step", SMALL.name),
        fs::read_to_string(root.join("alloc.txt"))
            .ok()
            .map(|t| (t.trim().to_string(), true)),
    );
    target(
        format!("D {}: nn on 2 threads ≥ 1.7× its single thread", LARGE.name),
        ratio(wl(Kind::D, LARGE), "nn", "nn_2threads").map(|r| (format!("{r:.2}×"), r >= 1.7)),
    );
}
