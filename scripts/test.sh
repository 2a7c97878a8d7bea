#!/usr/bin/env bash
# The test command: set-up if needed (libtorch from PyPI, .cargo/config.toml), then the whole test suite
# in release mode (tests that train are fast there), the ignored tests included: those need something
# outside the crate (the Multi30k corpus beside the clone, ../shared/corpora/multi30k) and must fail
# loudly here when it is missing. Extra arguments go to `cargo test` before the `--`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
cd "$root"
cargo test --release "$@" -- --include-ignored
