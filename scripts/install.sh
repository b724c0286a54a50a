#!/usr/bin/env bash
# install.sh: puts `larder` on PATH: a symlink BIN_DIR/larder -> this checkout's .build/release/larder.
#   ./scripts/install.sh              # BIN_DIR = $LARDER_INSTALL_DIR or /usr/local/bin
#   ./scripts/install.sh ~/.local/bin
# scripts/build.sh runs it after each release build (LARDER_NO_INSTALL=1 skips it), so the
# symlink always points at the newest build. A symlink, not a copy: rebuilding updates `larder`.
# When BIN_DIR is not writable it says so and where the binary is, and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=${1:-${LARDER_INSTALL_DIR:-/usr/local/bin}}
BINARY=$PWD/.build/release/larder
if [[ ! -x "$BINARY" ]]; then
  echo "install: $BINARY does not exist; run ./scripts/build.sh first" >&2
  exit 1
fi
if ! mkdir -p "$BIN_DIR" 2>/dev/null || [[ ! -w "$BIN_DIR" ]]; then
  echo "install: cannot write $BIN_DIR; run larder as $BINARY (or ./scripts/install.sh DIR with DIR on PATH)" >&2
  exit 0
fi
ln -sfn "$BINARY" "$BIN_DIR/larder"
echo "install: $BIN_DIR/larder -> $BINARY ($("$BIN_DIR/larder" --version))" >&2
case ":$PATH:" in
  *":$BIN_DIR:"*) ;;
  *) echo "install: note: $BIN_DIR is not on PATH" >&2 ;;
esac
