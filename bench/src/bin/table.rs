//! Prints the results of the last `cargo bench` run as Markdown tables: the time of each
//! benchmark (criterion's headline estimate from `estimates.json`: the regression slope, or the
//! mean) and its ratio to nn's in the same run.
//!
//! `cargo run --release --bin table [target/criterion]`

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// `(group, function) → median in ns`.
type Results = BTreeMap<(String, String), f64>;

fn collect(dir: &Path, out: &mut Results) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "new") {
                read_one(&path, out);
            } else {
                collect(&path, out);
            }
        }
    }
}

fn read_one(dir: &Path, out: &mut Results) {
    let read = |name: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&fs::read_to_string(dir.join(name)).ok()?).ok()
    };
    let (Some(bench), Some(est)) = (read("benchmark.json"), read("estimates.json")) else {
        return;
    };
    let group = bench["group_id"].as_str().unwrap_or_default().to_string();
    let function = match (bench["function_id"].as_str(), bench["value_str"].as_str()) {
        (Some(f), Some(v)) => format!("{f}/{v}"),
        (Some(f), None) => f.to_string(),
        (None, Some(v)) => v.to_string(),
        (None, None) => String::new(),
    };
    // Criterion's own headline figure: the slope of the linear regression of time on
    // iterations where it sampled linearly, the mean otherwise.
    let typical = est["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| est["mean"]["point_estimate"].as_f64());
    if let Some(t) = typical {
        out.insert((group, function), t);
    }
}

fn time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/criterion"));
    let mut r = Results::new();
    collect(&root, &mut r);

    let impls = [
        ("nn", "nn"),
        ("hand_sgemm", "hand sgemm"),
        ("hand_sgemm_rowmajor", "hand sgemm, row-major W"),
        ("hand_gemm_crate", "hand on gemm crate"),
        ("hand_loops", "hand loops"),
        ("hand_loops_avx2", "hand loops AVX2"),
        ("candle", "candle"),
        ("dfdx", "dfdx"),
    ];
    let ops = [
        ("sample_forward", "1 sample, forward"),
        ("sample_backward", "1 sample, forward+backward"),
        ("batch128_forward", "batch 128, forward"),
        ("batch128_backward", "batch 128, forward+backward"),
    ];
    println!(
        "Time per op (criterion's estimate); in parentheses, the ratio to nn in the same run \
         (> 1: slower than nn).\n"
    );
    print!("| network | op |");
    for (_, title) in impls {
        print!(" {title} |");
    }
    println!();
    println!("|---|---|{}", "---:|".repeat(impls.len()));
    for net in ["digits", "mnist"] {
        for (op, op_title) in ops {
            let group = format!("{net}_{op}");
            let Some(&nn) = r.get(&(group.clone(), "nn".into())) else {
                continue;
            };
            print!("| {net} | {op_title} |");
            for (id, _) in impls {
                match r.get(&(group.clone(), id.into())) {
                    Some(&t) if id == "nn" => print!(" **{}** |", time(t)),
                    Some(&t) => print!(" {} ({:.2}×) |", time(t), t / nn),
                    None => print!(" — |"),
                }
            }
            println!();
        }
    }

    let mut any = false;
    for net in ["digits", "mnist"] {
        for batch in [32, 256] {
            let get = |what: &str, id: &str| {
                r.get(&(format!("{net}_{what}_b{batch}"), id.to_string()))
                    .copied()
            };
            let Some(e1) = get("fit_epoch", "threads/1") else {
                continue;
            };
            if !any {
                println!(
                    "\n`fit`, one epoch of 4096 samples, SGD. `epoch` is the whole `fit` call, \
                     `steps` the epoch without fit's evaluation pass. `threads 2` is \
                     `TrainConfig::threads: 2` (the minibatch split over a rayon pool); `GEMM \
                     threads 2` is `threads: 1` with matrixmultiply's `threading` feature and \
                     `MATMUL_NUM_THREADS=2` (a separate run). Speedups against threads 1.\n"
                );
                println!(
                    "| network | batch | what | threads 1 | threads 2 | speedup | GEMM threads 2 | speedup |"
                );
                println!("|---|---:|---|---:|---:|---:|---:|---:|");
                any = true;
            }
            for (what, title) in [("fit_epoch", "epoch"), ("fit_steps", "steps")] {
                let Some(t1) = get(what, "threads/1") else {
                    continue;
                };
                let cell = |t: Option<f64>| match t {
                    Some(t) => format!("{} | {:.2}×", time(t), t1 / t),
                    None => "— | —".into(),
                };
                println!(
                    "| {net} | {batch} | {title} | {} | {} | {} |",
                    time(t1),
                    cell(get(what, "threads/2")),
                    cell(get(what, "gemm_threads/2")),
                );
            }
            let _ = e1;
        }
    }
    if let Ok(load) = fs::read_to_string(root.join("load.txt")) {
        println!("\nLoad (uptime) around the runs:\n\n```\n{}```", load);
    }
}
