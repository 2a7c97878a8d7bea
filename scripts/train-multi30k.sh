#!/usr/bin/env bash
# The Multi30k recipe: get the corpus, train SRC→TGT with corpora/multi30k/config.toml under a wall-clock
# budget (train.max_minutes=75 unless overridden), resume when --out already holds a run, choose on val the
# checkpoints (best, last or an average of the last snapshots) for greedy search and beam 5 and beam's length
# penalty (val-choice.txt, and decode.toml so that `nmt translate/eval --model DIR` decode that way without
# flags), evaluate on test_2016_flickr with those choices (cased and lowercased BLEU, chrF),
# write translations and scores into the model directory, and draw heatmaps for the first 20 test sentences.
#
#   scripts/train-multi30k.sh SRC TGT [--out DIR] [--data DIR] [--set key=value ...]
#
# --data DIR: where the corpus goes (default corpora/multi30k/data; another folder keeps a slice or a
# copy apart from the default one, e.g. for the smoke test).
#
# env: NMT_CORPUS_DIR (copy an unpacked corpus instead of downloading), NMT_THREADS (default: all cores),
#      NMT_HEATMAP_LINES (default 20), NMT_LP_GRID (length penalties tried on val, default "1.0 1.6 2.2"),
#      NMT_LP_MARGIN (lowercased val BLEU by which a length penalty other than 1.0 must beat 1.0 to be
#      chosen, default 1.0),
#      NMT_BIN (an nmt binary to use; set-up and build are skipped)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: scripts/train-multi30k.sh SRC TGT [--out DIR] [--data DIR] [--set key=value ...]" >&2; exit 2; }
src=$1 tgt=$2
shift 2
out=$root/runs/multi30k-$src-$tgt
data=$root/corpora/multi30k/data
sets=(--set "data.src_lang=$src" --set "data.tgt_lang=$tgt" --set "train.max_minutes=75")
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --data) data=$(realpath -m "$2"); shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    *) echo "train-multi30k.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
cd "$root"
if [ -z "${NMT_BIN:-}" ]; then
  scripts/setup.sh
  cargo build --release --quiet
fi
nmt=("${NMT_BIN:-target/release/nmt}" ${NMT_THREADS:+--threads "$NMT_THREADS"})
config=corpora/multi30k/config.toml
scripts/get-corpus.sh multi30k "$data"
sets=(--set "data.train=$data/train" --set "data.dev=$data/val" --set "data.test=$data/test_2016_flickr" "${sets[@]}")

if [ -f "$out/last.safetensors" ]; then
  echo "train-multi30k: $out holds a run; resuming it" >&2
  resume_sets=()
  for ((i = 1; i < ${#sets[@]}; i += 2)); do
    case ${sets[i]} in train.*) resume_sets+=(--set "${sets[i]}") ;; esac
  done
  "${nmt[@]}" train --out "$out" --resume "${resume_sets[@]}"
else
  "${nmt[@]}" train --config "$config" --out "$out" "${sets[@]}"
fi

# Choices made on val (never the test set), by lowercased BLEU, written to val-choice.txt:
# - greedy: `best` (chosen by greedy dev BLEU during training) or the average of the newest k weight
#   snapshots (k = 2 … all that training kept; `nmt average`);
# - beam 5: `best`, `last` (skipped when the best validation was the last step: the same weights) or that
#   average, with a length penalty from NMT_LP_GRID: 1.0 unless another value beats the best 1.0 row by
#   more than NMT_LP_MARGIN BLEU. A 1.6 chosen on val by a plain maximum lost 0.6-0.9 BLEU against 1.0 on
#   unseen test sets (issue 16): val gains below that swing are noise, so they do not move the penalty.
val=$data/val
choice=$out/val-choice.txt
: >"$choice.tmp"
val_bleu() { # CHECKPOINT BEAM LENGTH_PENALTY OUTPUT → lowercased BLEU of that decoding of val
  "${nmt[@]}" eval --model "$out" --checkpoint "$1" --src "$val.$src" --ref "$val.$tgt" --beam "$2" \
    --length-penalty "$3" --output "$4" >/dev/null || return 1
  "${nmt[@]}" score --hyp "$4" --ref "$val.$tgt" --lowercase --json | sed 's/.*"bleu":\([-0-9.e]*\).*/\1/'
}
better() { [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; } # A B → A > B, or no B yet
say() { echo "$*" | tee -a "$choice.tmp" >&2; }

greedy=best
greedy_top=$(val_bleu best 1 1.0 "$out/val.greedy.best.$tgt")
say "greedy, checkpoint best: val BLEU $greedy_top (lowercased)"
# The training state and the snapshots kept, from the model directory's facts (`nmt info --json`).
facts=$("${nmt[@]}" info --model "$out" --json | python3 -c '
import json, sys
info = json.load(sys.stdin)
print(info["training"]["step"], info["training"]["best_step"], len(info["snapshots"]))')
read -r step best_step snapshots <<<"$facts"
avg_k= avg_top=
for ((k = 2; k <= snapshots; k++)); do
  "${nmt[@]}" average --model "$out" --last "$k"
  bleu=$(val_bleu averaged 1 1.0 "$out/val.greedy.averaged$k.$tgt")
  say "greedy, checkpoint averaged (newest $k snapshots): val BLEU $bleu (lowercased)"
  if better "$bleu" "$avg_top"; then avg_k=$k avg_top=$bleu; fi
done
checkpoints="best last"
if [ "$best_step" = "$step" ]; then
  say "last: the same weights as best (step $step), not decoded again"
  checkpoints=best
fi
if [ -n "$avg_k" ]; then
  "${nmt[@]}" average --model "$out" --last "$avg_k"
  say "averaged: newest $avg_k snapshots"
  checkpoints="$checkpoints averaged"
  if better "$avg_top" "$greedy_top"; then greedy=averaged; fi
fi
say "greedy chosen: $greedy"
ckpt= lp= top= plain_ckpt= plain_top= # the best row overall, and the best with length penalty 1.0
for c in $checkpoints; do
  for a in ${NMT_LP_GRID:-1.0 1.6 2.2}; do
    bleu=$(val_bleu "$c" 5 "$a" "$out/val.beam5.$c.lp$a.$tgt")
    say "beam 5, checkpoint $c, length penalty $a: val BLEU $bleu (lowercased)"
    if better "$bleu" "$top"; then ckpt=$c lp=$a top=$bleu; fi
    if [ "$a" = 1.0 ] && better "$bleu" "$plain_top"; then plain_ckpt=$c plain_top=$bleu; fi
  done
done
margin=${NMT_LP_MARGIN:-1.0}
if [ -n "$plain_ckpt" ] && [ "$lp" != 1.0 ] && ! better "$top" "$(awk -v a="$plain_top" -v m="$margin" 'BEGIN { print a + m }')"; then
  say "length penalty $lp ($top) beats 1.0 ($plain_ckpt, $plain_top) by no more than $margin BLEU: keeping 1.0"
  ckpt=$plain_ckpt lp=1.0 top=$plain_top
fi
say "beam 5 chosen: $ckpt $lp"
mv "$choice.tmp" "$choice"

# The choices as the model's decoding defaults (decode.toml): beam 5 by default, greedy with its own
# checkpoint; an average names the snapshot steps averaged.safetensors holds now (the newest $avg_k).
steps_of() { # CHECKPOINT → the `steps = [...]` line an averaged section needs, nothing otherwise
  [ "$1" = averaged ] || return 0
  "${nmt[@]}" info --model "$out" --json | python3 -c '
import json, sys
k = int(sys.argv[1])
print("steps = %s" % json.load(sys.stdin)["snapshots"][-k:])' "$avg_k"
}
cat >"$out/decode.toml.tmp" <<TOML
# Written by scripts/train-multi30k.sh from its choices on val (val-choice.txt).
default = "beam"

[greedy]
checkpoint = "$greedy"
$(steps_of "$greedy")
length_penalty = 1.0

[beam]
checkpoint = "$ckpt"
$(steps_of "$ckpt")
length_penalty = $lp
beam = 5
TOML
mv "$out/decode.toml.tmp" "$out/decode.toml"

test=$data/test_2016_flickr
scores=$out/test-scores.txt
: >"$scores.tmp"
for beam in 1 5; do
  hyp=$out/test_2016_flickr.beam$beam.$tgt
  c=$greedy a=1.0 how="$greedy checkpoint, chosen on val"
  [ "$beam" = 1 ] || c=$ckpt a=$lp how="$ckpt checkpoint, length penalty $lp, chosen on val"
  {
    echo "## $src→$tgt test_2016_flickr, beam $beam ($how)"
    "${nmt[@]}" eval --model "$out" --checkpoint "$c" --src "$test.$src" --ref "$test.$tgt" --beam "$beam" \
      --length-penalty "$a" --output "$hyp"
    "${nmt[@]}" score --hyp "$hyp" --ref "$test.$tgt" --lowercase
  } | tee -a "$scores.tmp"
done
mv "$scores.tmp" "$scores"
head -n "${NMT_HEATMAP_LINES:-20}" "$test.$src" >"$out/heatmap-sources.$src"
"${nmt[@]}" translate --model "$out" --input "$out/heatmap-sources.$src" --output "$out/heatmap-sources.hyp.$tgt" \
  --checkpoint "$ckpt" --beam 5 --length-penalty "$lp" --attention-json "$out/heatmap-sources.attention.jsonl" --heatmaps "$out/heatmaps"
echo "train-multi30k: scores in $scores; heatmaps in $out/heatmaps/index.html" >&2
