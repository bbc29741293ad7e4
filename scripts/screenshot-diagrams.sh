#!/usr/bin/env bash
# Writes the SVG diagrams of the map job and of the nested-group workflow and screenshots them
# with headless Chromium (Debian: `apt-get update && apt-get install -y chromium`), to check the
# in-house layout by eye.
#
#   scripts/screenshot-diagrams.sh [OUT_DIR]     # default: target/diagrams
#
# Leaves OUT_DIR/{map_example,nested_example,swallowing_example}.{svg,png}.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/diagrams}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
chromium_bin="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$chromium_bin" ]; then
  echo "chromium not found: apt-get update && apt-get install -y chromium" >&2
  exit 1
fi
cargo build --quiet --example map_job --example nested_job --example parallel_job
shot() {
  local example="$1" workflow="$2"
  "target/debug/examples/$example" diagram "$workflow" --format svg --output "$out/$workflow.svg" >/dev/null
  local profile
  profile="$(mktemp -d)"
  "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars \
    --screenshot="$out/$workflow.png" --window-size=1200,900 \
    "file://$out/$workflow.svg" >/dev/null 2>&1
  rm -rf "$profile"
  [ -s "$out/$workflow.png" ] || { echo "no screenshot written for $workflow" >&2; exit 1; }
  echo "$out/$workflow.png"
}
shot map_job map_example
shot nested_job nested_example
shot parallel_job swallowing_example
