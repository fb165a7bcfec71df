# Sourced by demo.sh and test.sh (from the repository root): installs what is missing and
# sets up the environment the GPU and media stack need on a headless machine.
bash scripts/setup.sh
# Mesa's Vulkan WSI complains on stderr when XDG_RUNTIME_DIR is unset.
if [[ -z "${XDG_RUNTIME_DIR:-}" ]]; then
  export XDG_RUNTIME_DIR="/tmp/xdg-runtime-$(id -u)"
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
fi
