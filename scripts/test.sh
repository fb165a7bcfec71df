#!/usr/bin/env bash
# The project's test command (README, CI): installs what is missing, then checks formatting,
# lints and runs every test of the workspace in the release profile (the end-to-end tests
# drive the release binary). Works without a GPU: wgpu falls back to Mesa's lavapipe.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prepare.sh
echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== module cycles" >&2
python3 scripts/module_cycles.py
echo "== cargo clippy --all-targets -- -D warnings" >&2
cargo clippy --workspace --all-targets --release --quiet -- -D warnings
echo "== cargo build --release (compositor binary for the end-to-end tests)" >&2
cargo build --release --quiet -p compositor --bins
echo "== cargo test --workspace --release" >&2
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --release --lib --bins --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole workspace (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
