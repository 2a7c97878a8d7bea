#!/usr/bin/env bash
# Crash test: kill a toy training run with SIGKILL at N random moments (default 20) and check after each
# kill that every best/last checkpoint on disk loads (`nmt translate` with it works) and that `--resume`
# is not blocked by the directory lock. Prints one line per kill and a summary; exits 1 on any failure.
#   scripts/crash-test.sh [KILLS] [MAX_DELAY_MS]
# Extra `--set` values for the run can be given in NMT_CRASH_SETS (space-separated key=value).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kills=${1:-20}
max_delay_ms=${2:-15000}
nmt="$root/target/release/nmt"
[ -x "$nmt" ] || (cd "$root" && cargo build --release)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out="$work/run"
# Validation every 10 steps, so kills often land near a checkpoint write.
sets=(--set train.valid_every=10 --set train.valid_bleu_sentences=50 --set train.max_epochs=0 --set train.patience=0)
for s in ${NMT_CRASH_SETS:-}; do sets+=(--set "$s"); done
nmt1() { "$nmt" --threads 1 --device cpu "$@"; }

loads() { # DIR WHICH → 0 if that checkpoint translates a line
    echo "the small doctor carries the red book." | nmt1 translate --model "$1" --checkpoint "$2" >/dev/null 2>"$work/load.err"
}

failures=0 checked=0 fresh=0 resumed=0 lost_first_best=0
for ((k = 1; k <= kills; k++)); do
    if [ -f "$out/last.safetensors" ]; then
        mode=resume; resumed=$((resumed + 1))
        args=(train --out "$out" --resume "${sets[@]}")
    else
        if [ -f "$out/best.safetensors" ]; then
            # Killed between the first best and the first last: nothing to resume, start over.
            lost_first_best=$((lost_first_best + 1))
            rm -rf "$out"
        fi
        mode=fresh; fresh=$((fresh + 1))
        args=(train --config "$root/corpora/toy-en-fr/config.toml" --out "$out" "${sets[@]}")
    fi
    # Started directly (not through a function) so that $! is the nmt process itself.
    "$nmt" --threads 1 --device cpu "${args[@]}" >/dev/null 2>"$work/train.err" &
    pid=$!
    delay_ms=$((RANDOM % max_delay_ms))
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "kill $k: the run ($mode) had already exited:"; tail -3 "$work/train.err"
        failures=$((failures + 1))
        continue
    fi
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    status=""
    for which in best last; do
        if [ -f "$out/$which.safetensors" ]; then
            checked=$((checked + 1))
            if loads "$out" "$which"; then
                status+=" $which:ok"
            else
                status+=" $which:FAILED($(tail -1 "$work/load.err"))"
                failures=$((failures + 1))
            fi
        else
            status+=" $which:absent"
        fi
    done
    step=$({ nmt1 info --model "$out" 2>/dev/null || true; } | sed -n 's/.*"step":\([0-9]*\).*/\1/p' | head -1)
    echo "kill $k ($mode, after ${delay_ms} ms):$status step=${step:-none} temp-files=$(find "$out" -name '*.tmp' 2>/dev/null | wc -l)"
done

# The lock died with the last process: --resume starts at once and clears the killed writes' temp files.
if [ -f "$out/last.safetensors" ]; then
    if nmt1 train --out "$out" --resume --set train.max_steps=1 >/dev/null 2>"$work/train.err" \
        && [ "$(find "$out" -name '*.tmp' | wc -l)" -eq 0 ] && loads "$out" last; then
        echo "final --resume: ok (not blocked, temp files cleared, last loads)"
    else
        echo "final --resume: FAILED"; tail -3 "$work/train.err"
        failures=$((failures + 1))
    fi
fi
echo "summary: $kills kills ($fresh fresh starts, $resumed resumes, $lost_first_best killed before the first last), $checked checkpoints checked, $failures failures"
if [ "$checked" -eq 0 ]; then
    echo "no kill landed after a checkpoint was written: nothing was tested; raise MAX_DELAY_MS" >&2
    exit 1
fi
[ "$failures" -eq 0 ]
