#!/usr/bin/env bash
# The main job on the embedded corpus: set-up if needed, build, train an English→French model on
# corpora/toy-en-fr, score it on the test set, translate a few test sentences and draw their attention
# heatmaps. Re-running reuses a finished model. Output: runs/demo-toy-en-fr (or $NMT_DEMO_OUT).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
cargo build --release --quiet
nmt=target/release/nmt
out=${NMT_DEMO_OUT:-runs/demo-toy-en-fr}
corpus=corpora/toy-en-fr
finished() { # whether the model directory's training state says finished (`nmt info --json`)
  "$nmt" info --model "$1" --json |
    python3 -c 'import json, sys; sys.exit(0 if (json.load(sys.stdin)["training"] or {}).get("finished") else 1)'
}
if [ -f "$out/best.safetensors" ] && finished "$out"; then
  echo "demo: reusing the trained model in $out (delete it to retrain)"
elif [ -f "$out/last.safetensors" ]; then
  "$nmt" train --out "$out" --resume
else
  "$nmt" train --config "$corpus/config.toml" --out "$out"
fi
echo "demo: test-set scores (greedy):"
"$nmt" eval --model "$out" --src "$corpus/test.en" --ref "$corpus/test.fr" --output "$out/test.hyp.fr"
head -n 6 "$corpus/test.en" >"$out/demo.en"
"$nmt" translate --model "$out" --input "$out/demo.en" --output "$out/demo.fr" \
  --attention-json "$out/demo.attention.jsonl" --heatmaps "$out/heatmaps"
echo "demo: translations:"
paste -d '\n' "$out/demo.en" "$out/demo.fr" | sed 'n;s/^/  → /'
echo "demo: heatmaps (one PNG per sentence) in $out/heatmaps/; open $out/heatmaps/index.html"
ls "$out"/heatmaps/*.png
