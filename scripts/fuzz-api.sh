#!/usr/bin/env bash
# API fuzzing: starts `nmt serve --port 0` on a model (default: the committed toy model) and runs
# schemathesis (PyPI; installed into the set-up venv, pinned below) against its /openapi.json. Every
# generated request must get a status the description documents for its route, a body matching the
# documented schema and content type, and no 5xx but the documented 503 and 504; invalid requests
# must be refused; and the server must still answer GET /health with 200 afterwards and exit 0 on
# SIGTERM. Exit status 0 only when all of that held.
#
#   scripts/fuzz-api.sh [CASES]      CASES: generated cases per API operation (default 100)
#
# Environment: NMT_FUZZ_MODEL (model directory), NMT_FUZZ_SEED (default 1; the run is deterministic for
# a seed), NMT_BIN (the nmt binary; default target/release/nmt, built when missing), NMT_HOME (the
# set-up's home, default ~/.cache/nmt).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cases=${1:-100}
[[ $cases =~ ^[1-9][0-9]*$ ]] || { echo "fuzz-api: CASES must be a positive integer, got '$cases'" >&2; exit 2; }
NMT_HOME=${NMT_HOME:-$HOME/.cache/nmt}
py=$NMT_HOME/venv/bin/python
schemathesis_version=4.32.5
model=${NMT_FUZZ_MODEL:-$root/tests/fixtures/toy-model}
seed=${NMT_FUZZ_SEED:-1}
nmt=${NMT_BIN:-$root/target/release/nmt}

log() { echo "fuzz-api: $*" >&2; }

[ -x "$py" ] || { log "no venv at $NMT_HOME/venv: run scripts/setup.sh first"; exit 1; }
if ! "$py" -c "import sys, importlib.metadata as m; sys.exit(m.version('schemathesis') != '$schemathesis_version')" 2>/dev/null; then
  log "installing schemathesis==$schemathesis_version into $NMT_HOME/venv"
  "$py" -m pip install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi
if [ ! -x "$nmt" ]; then
  log "building $nmt"
  (cd "$root" && cargo build --release --quiet)
fi

work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$nmt" --threads 1 serve --port 0 --model "$model" 2>"$work/server.log" &
server=$!
url=
for _ in $(seq 600); do
  first=$(head -n 1 "$work/server.log" 2>/dev/null || true)
  if [[ $first == "listening on http://"* ]]; then url=${first#listening on }; break; fi
  kill -0 "$server" 2>/dev/null || { log "nmt serve exited before listening:"; cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { log "nmt serve did not start listening within 60 s"; cat "$work/server.log" >&2; exit 1; }
log "server at $url (model $model); $cases cases per operation, seed $seed"

status=0
# Run in the temp directory: schemathesis keeps state in ./.schemathesis.
cd "$work"
"$NMT_HOME/venv/bin/schemathesis" --config-file "$root/scripts/fuzz-api.toml" --no-color run "$url/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
  --max-examples "$cases" --seed "$seed" --generation-database none --workers 1 \
  --request-timeout 60 --suppress-health-check too_slow,filter_too_much \
  --report junit --report-junit-path "$work/junit.xml" || status=$?

# The server must have survived everything it was sent.
if ! "$py" - "$url/health" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
then
  log "FAIL: GET /health did not answer 200 after the run"; status=1
fi
"$py" - "$work/junit.xml" <<'PY' || true
import sys, xml.etree.ElementTree as ET
suites = ET.parse(sys.argv[1]).getroot()
suites = [suites] if suites.tag == "testsuite" else list(suites)
tests = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
print(f"fuzz-api: {tests} operations tested, {bad} with failures or errors", file=sys.stderr)
PY
kill -TERM "$server"
server_status=0
wait "$server" || server_status=$?
server=
if [ "$server_status" != 0 ]; then log "FAIL: nmt serve exited with $server_status after SIGTERM"; status=1; fi
if grep -q "panicked" "$work/server.log"; then log "FAIL: the server log shows a panic:"; grep -A3 panicked "$work/server.log" >&2; status=1; fi
[ "$status" = 0 ] && log "OK" || log "FAILED"
exit "$status"
