#!/usr/bin/env bash
# The test command: set-up if needed (libtorch from PyPI, .cargo/config.toml), then the whole test suite
# in release mode (tests that train are fast there). Extra arguments go to `cargo test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
cd "$root"
cargo test --release "$@"
