#!/usr/bin/env bash
# Compile time of crates that declare networks (see README.md next to this script).
#
# Usage: bench/compile-time/measure.sh [N]        N runs per figure, 5 by default
#
# For each crate (mnist, deep, and the network-free baseline) and each command (check, debug
# build, release build): one warm build (dependencies compiled), then N timed runs of
#   edit: a comment line is added to (or removed from) the top of the source, so rustc sees a
#         real change that moves every span; the crate's incremental cache is kept;
#   cold: `cargo clean -p` first, so the crate is compiled from scratch (dependencies stay
#         compiled): the most a change to the declaration can cost.
# Prints min / median / max seconds and the 1-minute load average before each run.
#
# Environment: CARGO_TARGET_DIR as usual (a separate one avoids waiting on the lock of a shared
# `target/`); LOAD_MAX (default 1.5) and LOAD_WAIT (seconds, default 30): before each run, wait
# up to LOAD_WAIT seconds for the 1-minute load average to drop below LOAD_MAX.
set -euo pipefail

runs=${1:-5}
load_max=${LOAD_MAX:-1.5}
load_wait=${LOAD_WAIT:-30}
cd "$(dirname "$0")/../.."
dir=bench/compile-time

# name, package, binary, source file edited
crates=(
    "mnist nn-compile-mnist nn-compile-mnist $dir/mnist/src/main.rs"
    "deep nn-compile-deep nn-compile-deep $dir/deep/src/main.rs"
    "baseline nn-compile-mnist baseline $dir/mnist/src/bin/baseline.rs"
)
commands=("check" "build" "build --release")

backup=$(mktemp -d)
edited=""
restore() {
    if [ -n "$edited" ]; then cp "$backup/source.rs" "$edited"; fi
    rm -rf "$backup"
}
trap restore EXIT

load() { cut -d' ' -f1 /proc/loadavg; }
wait_quiet() {
    local waited=0
    while awk -v max="$load_max" '{ exit !($1 > max) }' /proc/loadavg &&
        [ "$waited" -lt "$load_wait" ]; do
        sleep 5
        waited=$((waited + 5))
    done
}
now() { date +%s.%N; }

echo "rustc: $(rustc --version)"
echo "target dir: ${CARGO_TARGET_DIR:-target}; runs: $runs; nproc: $(nproc)"
printf '%-9s %-15s %-5s %7s %7s %7s  %s\n' crate command kind min median max "load (1 min) per run"

for crate in "${crates[@]}"; do
    read -r name package bin source <<<"$crate"
    cp "$source" "$backup/source.rs"
    edited=$source
    for command in "${commands[@]}"; do
        profile=()
        if [[ $command == *--release* ]]; then profile=(--release); fi
        # Warm: dependencies and the crate compiled, nothing left to do.
        # shellcheck disable=SC2086
        cargo $command -q -p "$package" --bin "$bin"
        for kind in edit cold; do
            times=()
            loads=()
            for ((i = 0; i < runs; i++)); do
                if [ "$kind" = edit ]; then
                    if cmp -s "$source" "$backup/source.rs"; then
                        { echo "// compile-time edit $i"; cat "$backup/source.rs"; } >"$source"
                    else
                        cp "$backup/source.rs" "$source"
                    fi
                else
                    cargo clean -q -p "$package" "${profile[@]}"
                fi
                wait_quiet
                loads+=("$(load)")
                start=$(now)
                # shellcheck disable=SC2086
                cargo $command -q -p "$package" --bin "$bin"
                times+=("$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')")
            done
            read -r min median max < <(printf '%s\n' "${times[@]}" | sort -n |
                awk '{ t[NR] = $1 } END { print t[1], t[int((NR + 1) / 2)], t[NR] }')
            printf '%-9s %-15s %-5s %7s %7s %7s  %s\n' "$name" "$command" "$kind" \
                "$min" "$median" "$max" "${loads[*]}"
        done
    done
    cp "$backup/source.rs" "$source"
done
