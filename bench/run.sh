#!/usr/bin/env bash
# Runs the benchmarks of BENCHMARKS.md and writes its tables, in one command:
#
#   bash bench/run.sh                 # nn, the limit, candle, dfdx: ≈ 10 minutes after the build
#   bash bench/run.sh --burn          # also burn (its first build takes over ten minutes)
#   bash bench/run.sh --burn -- /burn # only burn's rows, added to the last run's figures
#   bash bench/run.sh --print         # print the tables instead of writing BENCHMARKS.md
#
# Steps: build; the agreement test (every implementation gives nn's outputs, loss and
# one-step update) and the allocation test (nn's per-sample step allocates nothing); the
# criterion bench (which checks agreement again before timing each workload), with the load
# averages recorded before and after; then the `table` bin, whose Markdown replaces the part
# of BENCHMARKS.md between `<!-- tables:begin -->` and `<!-- tables:end -->`. The sequence
# workloads (streaming GRU/LSTM, recurrent training, LeNet) follow the same steps with the
# `sequences` test and bench and the `seq_table` bin (`<!-- seq-tables:… -->`).
# Everything after `--` goes to criterion (a filter regex on `group/row`); with a filter the
# other rows keep their figures from the previous run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
features=()
print=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --burn) features=(--features burn) ;;
        --print) print=1 ;;
        --) shift; break ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
filter=("$@")
# Where criterion writes (it follows CARGO_TARGET_DIR, as cargo does).
crit="${CRITERION_HOME:-${CARGO_TARGET_DIR:-$root/target}/criterion}"

# Build everything first, so that the load is recorded around the measurements only. The
# tests and the table use the bench profile too, so nothing is built twice.
cargo bench -p nn-bench "${features[@]}" --no-run
cargo build --profile bench -p nn-bench "${features[@]}" --bin table
cargo bench -p nn-bench "${features[@]}" --bench sequences --no-run
cargo build --profile bench -p nn-bench "${features[@]}" --bin seq_table
cargo test --profile bench -p nn-bench "${features[@]}" --test agree --test alloc --test sequences
mkdir -p "$crit"
echo "nn's per-sample steps (plain and fused): 0 heap allocations in 100 steps (bench/tests/alloc.rs)" > "$crit/alloc.txt"
if [[ ${#filter[@]} -eq 0 ]]; then
    # A full run: only this run's figures in the tables.
    rm -rf "$crit"/[ABCDGLMST]_*
    : > "$crit/load.txt"
fi
echo "before ${filter[*]:-the run}: $(uptime)" | tee -a "$crit/load.txt"
# The bench sets RAYON_NUM_THREADS=1 itself before anything starts; set here too for clarity.
RAYON_NUM_THREADS=1 cargo bench -p nn-bench "${features[@]}" --bench workloads -- "${filter[@]}"
RAYON_NUM_THREADS=1 cargo bench -p nn-bench "${features[@]}" --bench sequences -- "${filter[@]}"
echo "after ${filter[*]:-the run}:  $(uptime)" | tee -a "$crit/load.txt"

tables="$(cargo run --profile bench -q -p nn-bench "${features[@]}" --bin table -- "$crit")"
seq_tables="$(cargo run --profile bench -q -p nn-bench "${features[@]}" --bin seq_table -- "$crit")"
if [[ $print -eq 1 ]]; then
    printf '%s\n\n%s\n' "$tables" "$seq_tables"
else
    doc="$root/BENCHMARKS.md"
    # Replaces the lines between `<!-- $1:begin -->` and `<!-- $1:end -->` with $2.
    splice() {
        local tmp
        tmp="$(mktemp)"
        printf '%s\n' "$2" > "$tmp.tables"
        awk -v tables="$tmp.tables" -v begin="<!-- $1:begin -->" -v end="<!-- $1:end -->" '
            $0 == begin { print; while ((getline line < tables) > 0) print line; skip = 1; next }
            $0 == end { skip = 0 }
            !skip { print }
        ' "$doc" > "$tmp"
        mv "$tmp" "$doc"
        rm -f "$tmp.tables"
    }
    splice tables "$tables"
    splice seq-tables "$seq_tables"
    echo "run.sh: tables written into $doc"
fi
