#!/usr/bin/env bash
# The one-command demo: installs what is missing, builds, and renders a whole 40 s PK battle of
# two synthetic hosts ("小美🌸" vs "Anna ✨": intro, gifts, last ten seconds, WIN/LOSE,
# punishment, co-hosting again) into demo-out/ (MP4 + FLV + HLS + a PNG snapshot per phase). Extra arguments go to
# `compositor demo` (see `compositor demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prepare.sh
cargo build --release --quiet -p compositor --bins
exec ./target/release/compositor demo "$@"
