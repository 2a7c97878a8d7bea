#!/usr/bin/env bash
# Idempotent set-up: libtorch 2.13.0 (from the PyPI wheel torch==2.13.0, in a virtual environment at
# $NMT_HOME/venv, default ~/.cache/nmt) and a git-ignored .cargo/config.toml [env] section, so that a
# plain `cargo build` / `cargo test` works afterwards. A user who already has libtorch 2.13 sets
# LIBTORCH before running this script and no Python install happens.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
NMT_HOME=${NMT_HOME:-$HOME/.cache/nmt}
venv=$NMT_HOME/venv
torch_version=2.13.0

log() { echo "setup: $*" >&2; }

command -v cargo >/dev/null || { log "cargo not found: install Rust (https://rustup.rs) first"; exit 1; }

if [ -n "${LIBTORCH:-}" ]; then
  [ -d "$LIBTORCH/lib" ] || { log "LIBTORCH=$LIBTORCH has no lib/ folder"; exit 1; }
  libtorch=$LIBTORCH
  abi=${LIBTORCH_CXX11_ABI:-1}
else
  py=${NMT_PYTHON:-python3}
  if [ ! -x "$venv/bin/python" ]; then
    log "creating virtual environment $venv"
    mkdir -p "$NMT_HOME"
    "$py" -m venv "$venv"
  fi
  # tokenizers and safetensors: scripts/torch_nmt.py (the PyTorch port of a model directory) and the
  # fixture scripts; tokenizers 0.23 reads the JSON files of the Rust crate's same release.
  if ! "$venv/bin/python" -c "import sys, torch, tokenizers, safetensors; sys.exit(torch.__version__.split('+')[0] != '$torch_version' or tokenizers.__version__ != '0.23.2' or safetensors.__version__ != '0.8.0')" 2>/dev/null; then
    log "installing torch==$torch_version, tokenizers and safetensors into $venv (torch is about 4.7 GB with its CUDA runtime wheels; a few minutes)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$torch_version" numpy tokenizers==0.23.2 safetensors==0.8.0
  fi
  read -r libtorch abi < <("$venv/bin/python" -c "import torch, os; print(os.path.dirname(torch.__file__), int(torch._C._GLIBCXX_USE_CXX11_ABI))")
fi

mkdir -p "$root/.cargo"
cfg=$root/.cargo/config.toml
tmp=$(mktemp "$cfg.XXXXXX")
cat >"$tmp" <<TOML
# Written by scripts/setup.sh; git-ignored. Tells tch's build where libtorch is.
[env]
LIBTORCH = "$libtorch"
LIBTORCH_CXX11_ABI = "$abi"
NMT_PYTHON = "${venv}/bin/python"
TOML
mv "$tmp" "$cfg"
log "libtorch at $libtorch (cxx11 abi $abi); wrote $cfg"
