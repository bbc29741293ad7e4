#!/usr/bin/env bash
# Writes the SVG diagrams of the map job and of the nested-group workflow and screenshots them
# with headless Chromium (Debian: `apt-get update && apt-get install -y chromium`), to check the
# in-house layout by eye.
#
#   scripts/screenshot-diagrams.sh [OUT_DIR]     # default: target/diagrams
#
# Leaves OUT_DIR/{map_example,nested_example,swallowing_example,durable_execution}.{svg,png};
# the last is a recorded durable execution (`durable diagram`) of examples/durable_cli.rs.
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
cargo build --quiet --example map_job --example nested_job --example parallel_job --example durable_cli
screenshot() {
  local workflow="$1"
  local profile width height
  profile="$(mktemp -d)"
  # The window fits the whole SVG (at least 1200x900).
  width="$(sed -n 's/^<svg[^>]* width="\([0-9]*\)".*/\1/p' "$out/$workflow.svg")"
  height="$(sed -n 's/^<svg[^>]* height="\([0-9]*\)".*/\1/p' "$out/$workflow.svg")"
  width=$(( width > 1200 ? width : 1200 ))
  height=$(( height > 900 ? height : 900 ))
  "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars \
    --screenshot="$out/$workflow.png" --window-size="$width,$height" \
    "file://$out/$workflow.svg" >/dev/null 2>&1
  rm -rf "$profile"
  [ -s "$out/$workflow.png" ] || { echo "no screenshot written for $workflow" >&2; exit 1; }
  echo "$out/$workflow.png"
}
shot() {
  local example="$1" workflow="$2"
  "target/debug/examples/$example" diagram "$workflow" --format svg --output "$out/$workflow.svg" >/dev/null
  screenshot "$workflow"
}
shot map_job map_example
shot nested_job nested_example
shot parallel_job swallowing_example
# A durable execution: a 5-item map recorded in a scratch store, then drawn from its records.
db="$(mktemp -d)/orkestra.db"
ORKESTRA_DB="$db" target/debug/examples/durable_cli durable start process_numbers --id demo --input 5 >/dev/null
ORKESTRA_DB="$db" target/debug/examples/durable_cli durable diagram demo --format svg \
  --output "$out/durable_execution.svg" >/dev/null
screenshot durable_execution
rm -rf "$(dirname "$db")"
