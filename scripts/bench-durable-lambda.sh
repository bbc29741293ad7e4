#!/usr/bin/env bash
# Benchmarks Orkestra's durable handlers as Lambda durable functions, release build:
#   - on the offline bed (../shared/durable-conformance, AWS's dex-local-runner as the
#     checkpoint service): a 1,000-item map with one step per item (bench-1), the same map then
#     a wait so a second invocation replays its 3,001 operations (bench-2), and PARALLEL
#     one-step executions started at once (echo): seconds per execution, invocations/s,
#     CheckpointDurableExecution round trips per step (scripts/bench_dexbed.py);
#   - cold start of the binary in durable mode (spawn to first answer) and the warm round trip
#     (examples/durable_lambda_bench.rs).
# Usage: scripts/bench-durable-lambda.sh [RUNS] [PARALLEL]   (needs ORKESTRA_DEXBED and
#   ORKESTRA_DEXBED_PYTHON: source .ci/setup.d/70-durable-conformance.sh with CI_ROOT and CI_TOOLS set)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
parallel="${2:-50}"
: "${ORKESTRA_DEXBED:?source .ci/setup.d/70-durable-conformance.sh first}"
: "${ORKESTRA_DEXBED_PYTHON:?source .ci/setup.d/70-durable-conformance.sh first}"
cargo build --release --features lambda,aws --example durable_conformance --example durable_lambda_bench >&2
"$ORKESTRA_DEXBED_PYTHON" scripts/bench_dexbed.py "$PWD/target/release/examples/durable_conformance" "$runs" "$parallel"
target/release/examples/durable_lambda_bench
