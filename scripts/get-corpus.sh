#!/usr/bin/env bash
# Gets a corpus the project knows into a local folder (see corpora/README.md).
#
#   scripts/get-corpus.sh multi30k [DEST] [--force]
#
# multi30k: downloads train, val and test_2016_flickr in en/de/fr from a pinned commit of
# github.com/multi30k/dataset, checks each .gz against its sha256, and unpacks it into DEST
# (default corpora/multi30k/data/, git-ignored) as train.en, train.de, ... With NMT_CORPUS_DIR=DIR
# it copies the nine already-unpacked files from DIR instead (no network needed).
#
# Idempotent: when DEST already holds the same files, nothing changes. A file in DEST with other
# content is never overwritten unless --force is given. Each file lands atomically (staged in DEST,
# then renamed), and every check runs before the first file is replaced.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

log() { echo "get-corpus: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}
usage() {
  cat >&2 <<'EOF'
usage: scripts/get-corpus.sh multi30k [DEST] [--force]
  DEST      where the unpacked files go (default: corpora/multi30k/data/ in the repository)
  --force   replace files in DEST whose content differs
  NMT_CORPUS_DIR=DIR   copy the unpacked files from DIR instead of downloading
EOF
}

force=0
args=()
for a in "$@"; do
  case $a in
    --force) force=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      usage
      die "unknown option $a"
      ;;
    *) args+=("$a") ;;
  esac
done
if [ ${#args[@]} -lt 1 ] || [ ${#args[@]} -gt 2 ]; then
  usage
  exit 2
fi
[ "${args[0]}" = multi30k ] || die "unknown corpus '${args[0]}' (known: multi30k)"
dest=${args[1]:-$root/corpora/multi30k/data}

commit=a3d2e0d26b56f3846f66a952536ffed4e401d05a
base=https://raw.githubusercontent.com/multi30k/dataset/$commit/data/task1/raw
files=(train.en train.de train.fr val.en val.de val.fr test_2016_flickr.en test_2016_flickr.de test_2016_flickr.fr)
# sha256 of the published .gz files: what a download is checked against.
declare -A gz_sha=(
  [train.en]=d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f
  [train.de]=726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6
  [train.fr]=622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c
  [val.en]=14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28
  [val.de]=f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a
  [val.fr]=ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9
  [test_2016_flickr.en]=611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9
  [test_2016_flickr.de]=9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8
  [test_2016_flickr.fr]=6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90
)
# sha256 of the unpacked files, only to recognize a finished install without going to the network
# (so a training script can call this script offline once the data is there).
declare -A txt_sha=(
  [train.en]=460a15fbd157e34a7a9957ee388c1ca247fe47af3ef25fb50442af6c274e0fc6
  [train.de]=2c2b73fd2b548fbcde3a875e0a78d6ee94d498bfdee6bd3eae3945779e9ddf72
  [train.fr]=5925a3c18f1587b6b54b87743106e6e8ab93618edb6f65d19eac0621f853a10d
  [val.en]=1f2a23d992769b5b3d209b0a10dd0b77c08cceb1f20dfb97ed0aafa49d107227
  [val.de]=660e09eb7e1da2f856ea13ee5ad3cf6d36b3d5b0b733c857e94c5747a3dfc660
  [val.fr]=5304e444d842e962b2dda4d816b70b22a1765b15401642b7ca37a67477e708dc
  [test_2016_flickr.en]=399a4382932c1aadd3ceb9bef1008d388a64c76d4ae4e9d4728c6f4301cac182
  [test_2016_flickr.de]=4be6b5b3236b79c25475c6bb829800a7ce559e9ba7a1f6c2394fe4d40be46d16
  [test_2016_flickr.fr]=cb3160d69b002bb638e66cc7612fcd56cb0af82eadc9c142dedc438afb885ef6
)

sha256() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

if [ -n "${NMT_CORPUS_DIR:-}" ]; then
  src=$NMT_CORPUS_DIR
  [ -d "$src" ] || die "NMT_CORPUS_DIR=$src is not a directory"
  for f in "${files[@]}"; do
    [ -f "$src/$f" ] || die "NMT_CORPUS_DIR=$src has no $f (it needs all of: ${files[*]})"
  done
else
  complete=1
  for f in "${files[@]}"; do
    if [ ! -f "$dest/$f" ] || [ "$(sha256 "$dest/$f")" != "${txt_sha[$f]}" ]; then
      complete=0
      break
    fi
  done
  if [ $complete = 1 ]; then
    log "multi30k is already in $dest"
    exit 0
  fi
  command -v curl >/dev/null || die "curl not found; install it, or set NMT_CORPUS_DIR to a directory holding the unpacked files"
fi

mkdir -p "$dest"
stage=
trap '[ -z "$stage" ] || rm -rf "$stage"' EXIT
stage=$(mktemp -d "$dest/.staging.XXXXXX")

for f in "${files[@]}"; do
  if [ -n "${NMT_CORPUS_DIR:-}" ]; then
    cat "$src/$f" >"$stage/$f"
    continue
  fi
  url=$base/$f.gz
  log "downloading $url"
  if ! curl -fsSL --connect-timeout 30 --retry 2 -o "$stage/$f.gz" "$url"; then
    die "could not download $url; without network access, set NMT_CORPUS_DIR to a directory holding the unpacked files"
  fi
  got=$(sha256 "$stage/$f.gz")
  if [ "$got" != "${gz_sha[$f]}" ]; then
    rm -f "$stage/$f.gz"
    die "$f.gz: sha256 mismatch (expected ${gz_sha[$f]}, got $got); deleted the download"
  fi
  gzip -dc "$stage/$f.gz" >"$stage/$f" || die "$f.gz: cannot unpack"
  rm -f "$stage/$f.gz"
done

changed=()
conflicts=()
for f in "${files[@]}"; do
  if [ -e "$dest/$f" ]; then
    cmp -s "$stage/$f" "$dest/$f" && continue
    conflicts+=("$f")
  fi
  changed+=("$f")
done
if [ ${#conflicts[@]} -gt 0 ] && [ $force = 0 ]; then
  die "$dest already holds a different ${conflicts[*]}; nothing was changed (use --force to replace them)"
fi
if [ ${#changed[@]} -eq 0 ]; then
  log "multi30k is already in $dest"
  exit 0
fi
for f in "${changed[@]}"; do
  mv -f "$stage/$f" "$dest/$f"
done
log "multi30k in $dest (${#changed[@]} file(s) written: ${changed[*]})"
