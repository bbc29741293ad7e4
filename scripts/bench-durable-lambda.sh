#!/usr/bin/env bash
# Benchmarks Orkestra's durable handlers as Lambda durable functions on the offline bed
# (../shared/durable-conformance/dexbed.py, AWS's dex-local-runner as the checkpoint service):
#   - a 1,000-item map with one step per item (bench-1) and the same map followed by a wait, so
#     a second invocation replays its 3,001 operations (bench-2): wall time per execution,
#     invocations per second, CheckpointDurableExecution round trips and updates per step
#     (from the bed's --trace);
#   - cold start of the binary in durable mode: process spawn to the first answer of an
#     invocation (bench-1 with a 1-item map), over N fresh processes.
# Usage: scripts/bench-durable-lambda.sh [RUNS]   (needs ORKESTRA_DEXBED, ORKESTRA_DEXBED_PYTHON:
#   source .ci/setup.d/70-durable-conformance.sh with CI_ROOT and CI_TOOLS set)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
: "${ORKESTRA_DEXBED:?source .ci/setup.d/70-durable-conformance.sh first}"
: "${ORKESTRA_DEXBED_PYTHON:?source .ci/setup.d/70-durable-conformance.sh first}"
cargo build --release --features lambda,aws --example durable_conformance >&2
bin="$PWD/target/release/examples/durable_conformance"
reqs="$PWD/examples/durable_conformance/requirements"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$runs"); do
  (cd "$(dirname "$ORKESTRA_DEXBED")" && "$ORKESTRA_DEXBED_PYTHON" "$ORKESTRA_DEXBED" \
      --runtime-api-cmd "$bin" --requirements-dir "$reqs" --trace --out "$out/run$i" \
      bench-1 bench-2) | tee "$out/run$i.txt" | grep -E '^(PASS|FAIL)'
done
python3 - "$out" "$runs" <<'PY'
import json, re, statistics, sys
from collections import defaultdict
out, runs = sys.argv[1], int(sys.argv[2])
secs = defaultdict(list); invocations = {}
calls = defaultdict(list); updates = defaultdict(list)
for i in range(1, runs + 1):
    arn_req = {}
    for line in open(f"{out}/run{i}.txt"):
        m = re.match(r"^PASS (\S+)\s+\S+\s+([\d.]+)s invocations=(\d+)", line)
        if m:
            secs[m[1]].append(float(m[2])); invocations[m[1]] = int(m[3])
    for line in open(f"{out}/run{i}/invocations.jsonl"):
        rec = json.loads(line)
        ev = json.loads(rec["event"])
        arn_req[ev.get("DurableExecutionArn")] = rec["fn"].removeprefix("req-")
    per = defaultdict(lambda: [0, 0])
    for line in open(f"{out}/run{i}/trace.jsonl"):
        rec = json.loads(line)
        if rec["api"] == "CheckpointDurableExecution":
            req = arn_req.get(rec["arn"], "?")
            per[req][0] += 1; per[req][1] += len(rec["updates"])
    for req, (c, u) in per.items():
        calls[req].append(c); updates[req].append(u)
for req in sorted(secs):
    s = statistics.median(secs[req]); c = statistics.median(calls[req]); u = statistics.median(updates[req])
    print(f"{req}: median {s:.2f} s per execution over {len(secs[req])} runs (min {min(secs[req]):.2f}, "
          f"max {max(secs[req]):.2f}); {invocations[req]} invocation(s) = {invocations[req] / s:.2f} "
          f"invocations/s; {c:.0f} CheckpointDurableExecution calls, {u:.0f} updates for 1,000 steps = "
          f"{c / 1000:.3f} round trips per step")
PY
