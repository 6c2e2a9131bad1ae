#!/usr/bin/env bash
# Runs every benchmark in one go and prints the tables, with the machine's load around each
# run (the numbers mean something only on an otherwise idle machine).
#   bash run.sh            # both benches
#   bash run.sh compare    # one of them
set -euo pipefail
cd "$(dirname "$0")"
benches=(${@:-compare threads})
cargo test --release --test agree
# Start from a clean slate, so that the tables show this run only.
rm -rf target/criterion
mkdir -p target/criterion
load=target/criterion/load.txt
: > "$load"
for b in "${benches[@]}"; do
    echo "before $b: $(uptime)" | tee -a "$load"
    # RAYON_NUM_THREADS=1: candle and dfdx single-threaded (the compare bench also sets it
    # itself); the threads bench builds its own pools and ignores it.
    RAYON_NUM_THREADS=1 cargo bench --bench "$b"
    echo "after $b:  $(uptime)" | tee -a "$load"
done
if [[ " ${benches[*]} " == *" threads "* ]]; then
    # GEMM-level threading instead of minibatch splitting (a different build of matrixmultiply).
    echo "before threads (mm-threading): $(uptime)" | tee -a "$load"
    MATMUL_NUM_THREADS=2 cargo bench --bench threads --features mm-threading
    echo "after threads (mm-threading):  $(uptime)" | tee -a "$load"
fi
cargo run --release --quiet --bin table
