//! Prints the last run of the `sequences` bench as Markdown: one table per group (median time
//! per operation, the interquartile range of the per-iteration sample times, the ratio to the
//! limit row; for the streaming groups RTNeural's published figure beside them), then the
//! issues' targets, met or not.
//!
//! `cargo run --profile bench -p nn-bench --bin seq_table [CRITERION_DIR]` (default: the
//! workspace's `target/criterion`). Reads `<group>/<row>/new/{estimates,sample}.json`.

use std::fs;
use std::path::{Path, PathBuf};

use nn_bench::conv::{GROUP_INFER, GROUP_TRAIN, gunpoint};
use nn_bench::seqtrain::{self, BATCH, LENGTH};
use nn_bench::stream::{Cell, MODELS, conv_gru};

/// Row names in report order, with their labels.
const ROWS: [(&str, &str); 4] = [
    ("nn", "nn"),
    ("limit", "limit"),
    ("candle", "candle"),
    ("burn", "burn"),
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
    let mut per_iter: Vec<f64> = sample["iters"]
        .as_array()?
        .iter()
        .zip(sample["times"].as_array()?)
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
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"));
    let get = |group: &str, name: &str| read_row(&root, group, name);
    let mut groups: Vec<(String, String, Option<f64>)> = MODELS
        .iter()
        .map(|m| {
            let cell = match m.cell {
                Cell::Gru => "GRU",
                Cell::Lstm => "LSTM",
            };
            (
                format!("S_{}", m.name),
                format!(
                    "S {}: streaming `step`, {cell} 1→{h} + dense {h}→1, one sample per call",
                    m.name,
                    h = m.hidden
                ),
                Some(m.rtneural_native_ns),
            )
        })
        .collect();
    groups.push((
        conv_gru::GROUP.into(),
        "S conv-gru: streaming `step`, dense 1→8, tanh, causal conv1d 8→4 (kernel 3, dilation \
         2), tanh, GRU 4→8, dense 8→1, one sample per call"
            .into(),
        Some(conv_gru::RTNEURAL_NATIVE_NS),
    ));
    for cell in [Cell::Lstm, Cell::Gru] {
        let g = seqtrain::group(cell);
        let title = format!(
            "{}: one SGD step, BPTT over {BATCH} sequences of {LENGTH} steps",
            g.replace('_', " ")
        );
        groups.push((g, title, None));
    }
    groups.push((
        GROUP_INFER.into(),
        "L lenet: batch-1 inference of the LeNet".into(),
        None,
    ));
    groups.push((
        GROUP_TRAIN.into(),
        "M lenet-64: one SGD step of the LeNet at batch 64".into(),
        None,
    ));
    groups.push((
        gunpoint::GROUP.into(),
        "G gunpoint: batch-1 inference of the GunPoint model".into(),
        None,
    ));

    println!(
        "Median: criterion's median of the per-iteration sample times. Spread: their \
         interquartile range. vs limit: the row's median over the limit's (> 1: slower). \
         CPU/wall: the process's CPU time over wall time while the row ran (below 1.0: other \
         processes had the CPU part of the time).\n"
    );
    for (group, title, rtneural) in &groups {
        let rows: Vec<(&str, Row)> = ROWS
            .iter()
            .filter_map(|&(name, label)| Some((label, get(group, name)?)))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let limit = get(group, "limit");
        println!("#### {title}\n");
        println!("| implementation | median | spread (IQR) | vs limit | CPU/wall |");
        println!("|---|---:|---:|---:|---:|");
        for (label, r) in rows {
            let ratio = limit.map_or("—".into(), |l| format!("{:.2}×", r.median / l.median));
            let median = if label == "nn" {
                format!("**{}**", time(r.median))
            } else {
                time(r.median)
            };
            let cpu = r.cpu_over_wall.map_or("—".into(), |c| format!("{c:.2}"));
            println!(
                "| {label} | {median} | {}–{} | {ratio} | {cpu} |",
                time(r.q1),
                time(r.q3)
            );
        }
        if let Some(ns) = rtneural {
            let ratio = limit.map_or("—".into(), |l| format!("{:.2}×", ns / l.median));
            println!(
                "| RTNeural `-O3 -march=native` (the team's figure, not this run) | {} | — | \
                 {ratio} | — |",
                time(*ns)
            );
        }
        println!();
    }

    println!("### Targets of issues 12 and 13\n");
    println!("| target | measured | met |");
    println!("|---|---|:-:|");
    let target = |what: String, measured: Option<(String, bool)>| match measured {
        Some((m, ok)) => println!("| {what} | {m} | {} |", if ok { "yes" } else { "**no**" }),
        None => println!("| {what} | not measured | — |"),
    };
    let ratio = |g: &str, a: &str, b: &str| Some(get(g, a)?.median / get(g, b)?.median);
    for m in MODELS {
        let g = format!("S_{}", m.name);
        target(
            format!(
                "S {}: nn faster than RTNeural's {} ns",
                m.name, m.rtneural_native_ns
            ),
            get(&g, "nn").map(|r| (time(r.median), r.median < m.rtneural_native_ns)),
        );
        target(
            format!("S {}: nn within 1.25× of the limit", m.name),
            ratio(&g, "nn", "limit").map(|r| (format!("{r:.2}×"), r <= 1.25)),
        );
    }
    target(
        format!(
            "S conv-gru: nn faster than RTNeural's {} ns",
            conv_gru::RTNEURAL_NATIVE_NS
        ),
        get(conv_gru::GROUP, "nn")
            .map(|r| (time(r.median), r.median < conv_gru::RTNEURAL_NATIVE_NS)),
    );
    target(
        "S conv-gru: nn within 1.25× of the limit".into(),
        ratio(conv_gru::GROUP, "nn", "limit").map(|r| (format!("{r:.2}×"), r <= 1.25)),
    );
    for cell in [Cell::Lstm, Cell::Gru] {
        let g = seqtrain::group(cell);
        for peer in ["candle", "burn"] {
            target(
                format!("{}: nn faster than {peer}", g.replace('_', " ")),
                ratio(&g, peer, "nn").map(|r| (format!("{r:.2}× faster"), r > 1.0)),
            );
        }
    }
    target(
        "L lenet: nn within 1.5× of the limit".into(),
        ratio(GROUP_INFER, "nn", "limit").map(|r| (format!("{r:.2}×"), r <= 1.5)),
    );
    target(
        "M lenet-64: nn within 1.3× of the limit".into(),
        ratio(GROUP_TRAIN, "nn", "limit").map(|r| (format!("{r:.2}×"), r <= 1.3)),
    );
    target(
        "G gunpoint: nn within 1.5× of the limit".into(),
        ratio(gunpoint::GROUP, "nn", "limit").map(|r| (format!("{r:.2}×"), r <= 1.5)),
    );
    for g in [GROUP_INFER, GROUP_TRAIN, gunpoint::GROUP] {
        for peer in ["candle", "burn"] {
            target(
                format!("{}: nn faster than {peer}", g.replace('_', " ")),
                ratio(g, peer, "nn").map(|r| (format!("{r:.2}× faster"), r > 1.0)),
            );
        }
    }
}
