#!/usr/bin/env bash
# Installs, idempotently, the Debian 12 packages the build, the demo and the tests need.
# Prints nothing when everything is already there. Needs root (or sudo) only when installing.
set -euo pipefail

PKGS=(
  pkg-config
  # GStreamer: dev libraries for gstreamer-rs, plus the plugins the pipelines use.
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  # Software Vulkan adapter (lavapipe) + loader for wgpu on GPU-less machines.
  mesa-vulkan-drivers libvulkan1
  # protoc for tonic/prost code generation.
  protobuf-compiler
  # Reading outputs back in tests and by hand.
  ffmpeg
  # WebRTC peers we did not write, for the WHIP tests: webrtcbin's ICE (libnice) and Chromium.
  gstreamer1.0-nice chromium
  # openssl CLI: the webrtcbin publisher gets an ECDSA certificate (str0m's DTLS takes no RSA).
  openssl
  # Real distribution servers for the output tests: nginx RTMP ingest, SRT tools.
  nginx-light libnginx-mod-rtmp srt-tools
  # nginx's stream module terminates TLS in front of the RTMP module (the RTMPS output test).
  libnginx-mod-stream
  # GIO's TLS backend, which rtmp2sink uses for rtmps://.
  glib-networking
  # scripts/module_cycles.py (the import-cycle check in test.sh).
  python3
  # Self-signed certificates for the gRPC TLS test.
  openssl
  # Text on screen (names, scores, countdowns): a CJK font and colour emoji, the fallback chain
  # of compositor-text. fontconfig's fc-list is how the tests and docs name what is installed.
  fonts-noto-cjk fonts-noto-color-emoji fonts-dejavu-core fontconfig
  # OCR of output frames in the PK tests (English digits + Simplified Chinese).
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim
)

missing=()
for p in "${PKGS[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO="sudo"
fi

echo "setup: installing ${#missing[@]} Debian packages (a few minutes): ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup: apt-get failed (log above)" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
echo "setup: done" >&2
