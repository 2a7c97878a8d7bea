#!/usr/bin/env bash
# Speed of what users run: `nmt translate` against its peer, the PyTorch port of the model directory
# (scripts/torch_nmt.py), on test_2016_flickr, both with 2 threads, the two sides alternating in rounds
# (so that a busy machine slows both alike; the ratios are per round, their median is printed).
#
#   scripts/bench-translate.sh MODEL_DIR [--before NMT_BIN] [--rounds N]
#
# Cases: greedy at batch 1 on the first 200 lines, greedy at batch 64, beam 5 at batch 64 (length penalty
# 1.0 on both sides); with --before, that binary's beam 5 at batch 64 too, timed in the same rounds
# (its ratio is this nmt over it). Per case it prints sentences/s and target tokens/s (BPE tokens, EOS
# included, of each side's own output) per second of decoding time — the command's wall time minus the
# same round's wall time on an empty input (loading torch or the model; printed as "start-up") —, the
# ratio nmt/port, each side's peak RSS, the
# fraction of the sgemm bound at batch 64 (`nmt decode-flops`: the model's matmul FLOPs of decoding the
# file, beam rows counted, per second of wall time over a 2048² sgemm's FLOP/s on the same threads, measured once per run), and
# how many lines the two sides translate differently.
#
# env: NMT_BIN (default target/release/nmt, built if missing), NMT_PYTHON (default
#      ~/.cache/nmt/venv/bin/python), NMT_CORPUS_DIR (default ../shared/corpora/multi30k beside the repo),
#      NMT_BENCH_INPUT (a source file to use instead of $NMT_CORPUS_DIR/test_2016_flickr.de),
#      NMT_BENCH_B1_LINES (lines of the batch-1 case, default 200)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: scripts/bench-translate.sh MODEL_DIR [--before NMT_BIN] [--rounds N]"
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }
model=$(realpath "$1")
shift
before="" rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --before) before=$(realpath "$2"); shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "bench-translate.sh: unknown argument $1; $usage" >&2; exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench-translate.sh: --rounds $rounds: must be a number ≥ 1" >&2; exit 2; }
[ -f "$model/config.toml" ] || { echo "bench-translate.sh: $model is not a model directory (no config.toml)" >&2; exit 2; }
nmt=${NMT_BIN:-$root/target/release/nmt}
if [ -z "${NMT_BIN:-}" ] && [ ! -x "$nmt" ]; then
  (cd "$root" && cargo build --release --quiet)
fi
python=${NMT_PYTHON:-$HOME/.cache/nmt/venv/bin/python}
input=${NMT_BENCH_INPUT:-${NMT_CORPUS_DIR:-$root/../shared/corpora/multi30k}/test_2016_flickr.de}
[ -f "$input" ] || { echo "bench-translate.sh: no input $input (set NMT_CORPUS_DIR or NMT_BENCH_INPUT)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench-translate.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
threads=2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -n "${NMT_BENCH_B1_LINES:-200}" "$input" >"$work/b1.in"
cp "$input" "$work/all.in"
: >"$work/empty.in"

# case name | input | batch | beam
cases=("greedy-b1|b1|1|1" "greedy-b64|all|64|1" "beam5-b64|all|64|5")

# run SIDE CASE-INPUT BATCH BEAM OUT: runs one side, appends "seconds rss_kb" to OUT.times.
run() {
  local side=$1 in=$work/$2.in batch=$3 beam=$4 out=$5
  local cmd
  case $side in
    nmt) cmd=("$nmt" --threads $threads translate --model "$model" --batch-size "$batch" --beam "$beam" --length-penalty 1.0) ;;
    before) cmd=("$before" --threads $threads translate --model "$model" --batch-size "$batch" --beam "$beam" --length-penalty 1.0) ;;
    port) cmd=("$python" "$root/scripts/torch_nmt.py" "$model" --threads $threads --batch-size "$batch" --beam "$beam" --length-penalty 1.0) ;;
  esac
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$out.time" "${cmd[@]}" <"$in" >"$out" 2>"$out.err" || { cat "$out.err" "$out.time" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$(echo "$end - $start" | bc -l) $(awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time")" >>"$out.times"
}

sides=(nmt port)
for ((r = 1; r <= rounds; r++)); do
  for side in "${sides[@]}" ${before:+before}; do
    run "$side" empty 1 1 "$work/$side.empty"
  done
  for c in "${cases[@]}"; do
    IFS='|' read -r name in batch beam <<<"$c"
    for side in "${sides[@]}"; do
      run "$side" "$in" "$batch" "$beam" "$work/$side.$name"
    done
    if [ -n "$before" ] && [ "$name" = beam5-b64 ]; then
      run before "$in" "$batch" "$beam" "$work/before.$name"
    fi
  done
done

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# flops SIDE CASE BEAM INPUT: the decode-flops JSON of a side's output.
flops() {
  "$nmt" --threads $threads decode-flops --model "$model" --source "$work/$4.in" --translation "$work/$1.$2" --beam "$3"
}
field() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }
# The sgemm bound: the fastest of 3 measurements (each the fastest of `nmt decode-flops`'s own 5), taken
# once, so that every row's fraction has the same yardstick.
gemm=$(for _ in 1 2 3; do flops nmt greedy-b1 1 b1 | field sgemm_flops_per_s; done | sort -g | tail -1)

echo "model: $model"
echo "input: $input ($(wc -l <"$work/all.in") lines; batch 1 on the first $(wc -l <"$work/b1.in"))"
echo "sgemm bound: $(printf '%.1f' "$(echo "$gemm / 1000000000" | bc -l)") GFLOP/s (2048², $threads threads, the fastest of 3 measurements)"
echo "nmt: $nmt; port: $python scripts/torch_nmt.py; $threads threads each; $rounds rounds; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
# Decoding seconds per round: the case's wall time minus the same round's start-up.
for side in "${sides[@]}" ${before:+before}; do
  for c in "${cases[@]}"; do
    IFS='|' read -r name _ <<<"$c"
    [ -f "$work/$side.$name.times" ] || continue
    paste -d' ' "$work/$side.$name.times" "$work/$side.empty.times" | awk '{d = $1 - $3; print (d > 0.001 ? d : 0.001), $2}' >"$work/$side.$name.decode"
  done
  printf 'start-up (median wall time on an empty input): %s %.2f s\n' "$side" "$(cut -d' ' -f1 "$work/$side.empty.times" | median)"
done
echo
printf '%-11s %-7s %10s %10s %10s %9s %10s %6s  %s\n' case side "sent/s" "tok/s" "ratio" "peak RSS" "sgemm frac" "differ" "ratio per round"
for c in "${cases[@]}" ${before:+"beam5-b64-before|all|64|5"}; do
  IFS='|' read -r name in batch beam <<<"$c"
  lines=$(wc -l <"$work/$in.in")
  pairs=(nmt port)
  [[ $name == *-before ]] && { name=beam5-b64; pairs=(nmt before); }
  declare -A secs=() rss=() sps=() tps=() frac=()
  for side in "${pairs[@]}"; do
    secs[$side]=$(cut -d' ' -f1 "$work/$side.$name.decode" | median)
    rss[$side]=$(cut -d' ' -f2 "$work/$side.$name.decode" | sort -g | tail -1)
    sps[$side]=$(echo "$lines / ${secs[$side]}" | bc -l)
    json=$(flops "$side" "$name" "$beam" "$in")
    tokens=$(field target_tokens <<<"$json")
    tps[$side]=$(echo "$tokens / ${secs[$side]}" | bc -l)
    frac[$side]=-
    if [ "$batch" -ge 64 ]; then
      frac[$side]=$(printf '%.3f' "$(echo "$(field decode_flops <<<"$json") / ${secs[$side]} / $gemm" | bc -l)")
    fi
  done
  # Per-round ratios: the other side's time over nmt's in the same round.
  per_round=$(paste -d' ' <(cut -d' ' -f1 "$work/${pairs[1]}.$name.decode") <(cut -d' ' -f1 "$work/nmt.$name.decode") |
    awk '{printf "%.2f ", $1 / $2}')
  ratio=$(tr ' ' '\n' <<<"$per_round" | sed '/^$/d' | median)
  differ=$(paste -d'\t' "$work/nmt.$name" "$work/${pairs[1]}.$name" | awk -F'\t' '$1 != $2' | wc -l)
  label=$name
  [ "${pairs[1]}" = before ] && label="$name vs --before"
  for side in "${pairs[@]}"; do
    shown_ratio="" shown_rounds="" shown_differ=""
    [ "$side" = nmt ] && { shown_ratio=$(printf '%.2f' "$ratio"); shown_rounds=$per_round; shown_differ=$differ; }
    printf '%-11s %-7s %10.1f %10.0f %10s %8.0fM %10s %6s  %s\n' "$label" "$side" "${sps[$side]}" "${tps[$side]}" \
      "$shown_ratio" "$(echo "${rss[$side]} / 1024" | bc -l)" "${frac[$side]}" "$shown_differ" "$shown_rounds"
  done
  unset secs rss sps tps frac
done
echo
echo "sent/s, tok/s: per second of decoding time (wall minus start-up); ratio: the other side's decoding time"
echo "over nmt's (> 1: nmt is faster), the median of the rounds'; differ: lines whose translations differ"
