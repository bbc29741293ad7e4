"""Times Orkestra's durable handlers as Lambda durable functions on the offline bed.

The bed's judge reads only the first page (100 events) of an execution's history, so it can
never see a 1,000-item map end; this driver uses the bed's own pieces (AWS's dex-local-runner
as the checkpoint service, the Runtime API transport, the trace) and asks the runner for each
execution's status instead. Run it with the bed's Python:

    $ORKESTRA_DEXBED_PYTHON scripts/bench_dexbed.py BINARY [RUNS] [PARALLEL]

It prints, per case, medians over RUNS (default 3):
  - bench-1: a 1,000-item map, one step per item;
  - bench-2: the same map then a wait, so a second invocation replays its 3,001 operations;
  - echo: PARALLEL (default 50) one-step executions started at once (invocation throughput),
and for each: seconds per execution, invocations, invocations/s, CheckpointDurableExecution
calls and updates, round trips per step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

BED = Path(os.environ.get("ORKESTRA_DEXBED", "../shared/durable-conformance/dexbed.py")).resolve()
sys.path.insert(0, str(BED.parent))
import dexbed  # noqa: E402

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"}


def bed_args(binary: str) -> argparse.Namespace:
    return argparse.Namespace(
        handler_cmd=None, runtime_api_cmd=binary, handler_url=None, runner_port=0,
        function_configs=None, clock="skip", eager_skip=False, callbacks_anytime=False,
        poll=0.05, no_progress=60.0, execution_timeout=300, invocation_timeout=120.0,
        crash_backoff=0.5, trace=True, verbose=False,
    )


def wait_end(bed: dexbed.Bed, arn: str, limit: float = 300.0) -> tuple[str, float]:
    """Polls the runner until the execution ends; returns its status and when it ended."""
    end = time.time() + limit
    while time.time() < end:
        status = bed.client.get_durable_execution(DurableExecutionArn=arn)["Status"]
        if status in TERMINAL:
            return status, time.time()
        time.sleep(0.01)
    raise TimeoutError(f"{arn} did not end within {limit} s")


def checkpoint_calls(trace: Path, arns: set[str]) -> tuple[int, int]:
    calls = updates = 0
    for line in trace.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("api") == "CheckpointDurableExecution" and rec.get("arn") in arns:
            calls += 1
            updates += len(rec.get("updates") or [])
    return calls, updates


def run_case(bed: dexbed.Bed, trace: Path, fn: str, payload, parallel: int) -> dict:
    t0 = time.time()
    arns = [bed.start(fn, payload, 300) for _ in range(parallel)]
    ends = {}
    threads = [threading.Thread(target=lambda a=a: ends.__setitem__(a, wait_end(bed, a))) for a in arns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = [a for a, (status, _) in ends.items() if status != "SUCCEEDED"]
    if failed:
        raise RuntimeError(f"{fn}: {len(failed)} executions did not succeed")
    wall = max(at for _, at in ends.values()) - t0
    mine = [i for i in bed.invocations if i["arn"] in set(arns)]
    calls, updates = checkpoint_calls(trace, set(arns))
    return {"wall": wall, "invocations": len(mine), "invocation_secs": sum(i["secs"] for i in mine),
            "calls": calls, "updates": updates}


def main() -> int:
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    parallel = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    dexbed.isolate_aws_env()
    dexbed.patch_testing_package()
    dexbed.patch_crash_records()
    dexbed.patch_skip_clock()
    import logging
    logging.getLogger("aws_durable_execution_sdk_python_testing").setLevel(logging.CRITICAL)
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # pool warnings while PARALLEL poll
    out = Path(tempfile.mkdtemp(prefix="orkestra-bench-"))
    trace = out / "trace.jsonl"
    dexbed.install_trace(trace)
    bed = dexbed.Bed(bed_args(binary), out)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
    cases = [("bench-1", "req-bench-1", 1000, 1, 1000), ("bench-2", "req-bench-2", 1000, 1, 1000),
             ("echo", "req-bench-echo", 1, parallel, parallel)]
    try:
        bed.start("req-bench-echo", 1, 60)  # warm the runtime process
        time.sleep(1.0)
        for name, fn, payload, n, steps in cases:
            results = [run_case(bed, trace, fn, payload, n) for _ in range(runs)]
            med = {k: statistics.median(r[k] for r in results) for k in results[0]}
            walls = [r["wall"] for r in results]
            print(f"{name}: {n} execution(s) of {payload}-item input, median {med['wall']:.3f} s wall "
                  f"(min {min(walls):.3f}, max {max(walls):.3f}) over {runs} runs; "
                  f"{med['invocations']:.0f} invocations = {med['invocations'] / med['wall']:.1f} invocations/s; "
                  f"time inside invocations {med['invocation_secs']:.3f} s; "
                  f"{med['calls']:.0f} CheckpointDurableExecution calls carrying {med['updates']:.0f} updates "
                  f"for {steps} steps = {med['calls'] / steps:.3f} round trips per step")
    finally:
        bed.close()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
