#!/usr/bin/env bash
# The test command: set-up if needed (libtorch from PyPI, .cargo/config.toml), then the whole test suite
# in release mode (tests that train are fast there), the ignored tests included: those need something
# outside the crate and must fail loudly here when it is missing — the Multi30k corpus beside the clone
# (../shared/corpora/multi30k), Chromium and its WebDriver for the page's browser test (installed below
# from Debian's packages when missing), schemathesis for the API fuzzing (scripts/fuzz-api.sh installs it
# into the set-up venv). Extra arguments go to `cargo test` before the `--`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
# tests/serve_browser.rs drives /usr/bin/chromium through /usr/bin/chromedriver (Debian's `chromium`
# and `chromium-driver`). CI runs as root on Debian; elsewhere a missing browser makes that test fail.
if [ ! -x /usr/bin/chromedriver ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test: installing chromium and chromium-driver (apt-get) for tests/serve_browser.rs" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "test: /usr/bin/chromedriver is missing and apt-get cannot run here: install Debian's chromium and chromium-driver, or tests/serve_browser.rs fails" >&2
  fi
fi
cd "$root"
cargo test --release "$@" -- --include-ignored
