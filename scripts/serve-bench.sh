#!/usr/bin/env bash
# Server benchmark (not a test): starts `nmt serve --model MODEL_DIR` and runs scripts/serve_bench.py
# against it — one client sending test_2016_flickr sentences one at a time, then CLIENTS concurrent
# clients (default 32) each sending one sentence per request, REQUESTS requests in all (default 20,000).
# Prints sentences/s, p50/p95/p99 latency and errors of both runs, the throughput ratio, and the server's
# RSS after 1,000 and after all requests of the concurrent run. Run it on an otherwise idle machine.
#   scripts/serve-bench.sh MODEL_DIR [CLIENTS] [REQUESTS]
# Environment: NMT_CORPUS_DIR (default ../shared/corpora/multi30k beside the clone), NMT_SRC (the
# source language, default de), NMT_SERVE_ARGS (extra `nmt serve` flags, e.g. "--max-wait-ms 10").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:?usage: scripts/serve-bench.sh MODEL_DIR [CLIENTS] [REQUESTS]}
clients=${2:-32}
requests=${3:-20000}
corpus=${NMT_CORPUS_DIR:-$root/../shared/corpora/multi30k}
input="$corpus/test_2016_flickr.${NMT_SRC:-de}"
[ -f "$input" ] || { echo "error: $input is missing (set NMT_CORPUS_DIR)" >&2; exit 1; }
python=${NMT_PYTHON:-$HOME/.cache/nmt/venv/bin/python}
[ -x "$python" ] || python=python3
nmt="$root/target/release/nmt"
[ -x "$nmt" ] || (cd "$root" && cargo build --release)
work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck disable=SC2086 # NMT_SERVE_ARGS is a list of flags
"$nmt" serve --model "$model" --port 0 ${NMT_SERVE_ARGS:-} 2>"$work/server.log" &
server=$!
for _ in $(seq 600); do
    grep -q '^listening on ' "$work/server.log" && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
done
port=$(head -1 "$work/server.log" | sed -n 's|^listening on http://.*:\([0-9]*\)$|\1|p')
[ -n "$port" ] || { echo "error: the server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
echo "nmt serve --model $model ${NMT_SERVE_ARGS:-} on port $port; $(nproc) cores; input $input"
"$python" "$root/scripts/serve_bench.py" --port "$port" --pid "$server" --input "$input" \
    --clients "$clients" --requests "$requests"
