#!/usr/bin/env bash
# The one-command demo: installs what is missing, builds, and renders a 20 s PK battle of two
# synthetic hosts into demo-out/ (MP4 + FLV + PNG snapshots). Extra arguments go to
# `compositor demo` (see `compositor demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prepare.sh
cargo build --release --quiet -p compositor --bins
exec ./target/release/compositor demo "$@"
