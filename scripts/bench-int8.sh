#!/usr/bin/env bash
# fp32 against int8 where int8 is meant to win: `nmt translate` greedy at batch 1 on the first 200
# sentences of test_2016_flickr (German side), fp32 and `--precision int8` alternating for ROUNDS
# rounds. Prints each run's wall time, the medians, their ratio and how many output lines differ.
#   scripts/bench-int8.sh MODEL_DIR [THREADS] [ROUNDS]
# The corpus is read from ../shared/corpora/multi30k (override with NMT_MULTI30K=DIR).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:?usage: scripts/bench-int8.sh MODEL_DIR [THREADS] [ROUNDS]}
threads=${2:-2}
rounds=${3:-3}
corpus=${NMT_MULTI30K:-$root/../shared/corpora/multi30k}
nmt="$root/target/release/nmt"
[ -x "$nmt" ] || (cd "$root" && cargo build --release)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -200 "$corpus/test_2016_flickr.de" > "$work/input.de"

run() { # PRECISION → prints the wall time in seconds; output in $work/out.PRECISION
    local t0 t1
    t0=$(date +%s.%N)
    "$nmt" --threads "$threads" --device cpu translate --model "$model" --batch-size 1 --beam 1 --precision "$1" \
        --input "$work/input.de" > "$work/out.$1"
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: > "$work/f32"; : > "$work/int8"
for ((r = 1; r <= rounds; r++)); do
    for p in f32 int8; do
        s=$(run "$p")
        echo "$s" >> "$work/$p"
        printf 'round %d %-4s %6.2f s\n' "$r" "$p" "$s"
    done
done
f=$(median < "$work/f32"); i=$(median < "$work/int8")
differ=$(paste -d '\t' "$work/out.f32" "$work/out.int8" | awk -F '\t' '$1 != $2' | wc -l)
printf 'threads %s, %d rounds: median fp32 %.2f s (%.2f sentences/s), int8 %.2f s (%.2f sentences/s), fp32/int8 %.2f; %d of 200 lines differ\n' \
    "$threads" "$rounds" "$f" "$(echo "200 / $f" | bc -l)" "$i" "$(echo "200 / $i" | bc -l)" "$(echo "$f / $i" | bc -l)" "$differ"
