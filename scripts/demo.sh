#!/usr/bin/env bash
# The one-command demo: installs what is missing, builds, and renders a 20 s PK battle of two
# synthetic hosts into demo-out/ (MP4 + FLV + PNG snapshots). Extra arguments go to
# `compositor demo` (see `compositor demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Mesa's Vulkan WSI complains on stderr when XDG_RUNTIME_DIR is unset (headless machines).
if [[ -z "${XDG_RUNTIME_DIR:-}" ]]; then
  export XDG_RUNTIME_DIR="/tmp/xdg-runtime-$(id -u)"
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
fi
cargo build --release --quiet -p compositor --bins
exec ./target/release/compositor demo "$@"
