#!/usr/bin/env bash
# fp32 against int8 where int8 is meant to win: `nmt translate` greedy at batch 1 on the first 200
# sentences of test_2016_flickr (German side), fp32 and `--precision int8` alternating for ROUNDS
# rounds. Each round also times both precisions on an empty input (start-up: loading torch and the
# model, and for int8 quantizing it), so it prints two ratios, each the median of the per-round ratios:
# whole processes (wall time, start-up included, what a one-off command costs) and decoding alone (wall
# minus the same round's start-up, as scripts/bench-translate.sh measures, what a server sees). Also
# how many output lines differ.
#   scripts/bench-int8.sh MODEL_DIR [THREADS] [ROUNDS]
# env: NMT_BIN (default target/release/nmt, built if missing), NMT_MULTI30K (default
#      ../shared/corpora/multi30k beside the repo).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: scripts/bench-int8.sh MODEL_DIR [THREADS] [ROUNDS]"
model=${1:?$usage}
threads=${2:-2}
rounds=${3:-3}
[[ $threads =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench-int8.sh: THREADS and ROUNDS must be numbers ≥ 1; $usage" >&2; exit 2; }
[ -f "$model/config.toml" ] || { echo "bench-int8.sh: $model is not a model directory (no config.toml)" >&2; exit 2; }
corpus=${NMT_MULTI30K:-$root/../shared/corpora/multi30k}
[ -f "$corpus/test_2016_flickr.de" ] || { echo "bench-int8.sh: no $corpus/test_2016_flickr.de (set NMT_MULTI30K)" >&2; exit 2; }
nmt=${NMT_BIN:-$root/target/release/nmt}
if [ -z "${NMT_BIN:-}" ] && [ ! -x "$nmt" ]; then
    (cd "$root" && cargo build --release --quiet)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -200 "$corpus/test_2016_flickr.de" > "$work/input"
: > "$work/empty"

run() { # PRECISION INPUT → prints the wall time in seconds; output in $work/out.PRECISION.INPUT
    local t0 t1
    t0=$(date +%s.%N)
    "$nmt" --threads "$threads" --device cpu translate --model "$model" --batch-size 1 --beam 1 --precision "$1" \
        --input "$work/$2" > "$work/out.$1.$2"
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# $work/times: one line per round: f32 start-up, f32 wall, int8 start-up, int8 wall.
: > "$work/times"
for ((r = 1; r <= rounds; r++)); do
    row=()
    for p in f32 int8; do
        s=$(run "$p" empty)
        w=$(run "$p" input)
        row+=("$s" "$w")
        printf 'round %d %-4s %6.2f s (start-up %.2f s)\n' "$r" "$p" "$w" "$s"
    done
    echo "${row[*]}" >> "$work/times"
done
col() { awk '{ print '"$1"' }' "$work/times" | median; }  # EXPR over the columns of $work/times → its median
f=$(col '$2'); i=$(col '$4')
fd=$(col '$2 - $1'); id=$(col '$4 - $3')
wall_ratio=$(col '$2 / $4'); decode_ratio=$(col '($2 - $1) / ($4 - $3)')
differ=$(paste -d '\t' "$work/out.f32.input" "$work/out.int8.input" | awk -F '\t' '$1 != $2' | wc -l)
printf 'threads %s, %d rounds, medians: wall fp32 %.2f s, int8 %.2f s, fp32/int8 %.2f; decoding (wall minus start-up) fp32 %.2f s (%.1f sentences/s), int8 %.2f s (%.1f sentences/s), fp32/int8 %.2f; %d of 200 lines differ\n' \
    "$threads" "$rounds" "$f" "$i" "$wall_ratio" "$fd" "$(echo "200 / $fd" | bc -l)" "$id" "$(echo "200 / $id" | bc -l)" "$decode_ratio" "$differ"
