# Durable handlers on Lambda (issue 13): AWS's offline durable-execution conformance bed
# (../shared/durable-conformance/dexbed.py: dex-local-runner from PyPI
# aws-durable-execution-sdk-python-testing 1.4.0, the 155 requirements of
# aws-durable-execution-conformance-tests 1.0.0) in a venv under "$CI_TOOLS", for
# tests/durable_conformance.rs. Sourced by .ci/run; exports ORKESTRA_DEXBED (dexbed.py) and
# ORKESTRA_DEXBED_PYTHON (the venv's python).
dex_venv="$CI_TOOLS/durable-conformance/venv"
if [ ! -x "$dex_venv/bin/python" ] || ! "$dex_venv/bin/python" -c 'import aws_durable_execution_sdk_python_testing, aws_durable_execution_conformance_tests' >/dev/null 2>&1; then
  python3 -m venv "$dex_venv"
  "$dex_venv/bin/pip" install --quiet --disable-pip-version-check \
    aws-durable-execution-sdk-python==3.0.0 aws-durable-execution-sdk-python-testing==1.4.0
  # The package declares Python >= 3.14 but runs on 3.11 (the bed's README).
  "$dex_venv/bin/pip" install --quiet --disable-pip-version-check --ignore-requires-python \
    aws-durable-execution-conformance-tests==1.0.0
fi
dex_bed_dir="${ORKESTRA_DEXBED_DIR:-$CI_ROOT/../shared/durable-conformance}"
if [ ! -f "$dex_bed_dir/dexbed.py" ]; then
  echo "the durable conformance bed is missing: $dex_bed_dir/dexbed.py" >&2
  exit 1
fi
export ORKESTRA_DEXBED="$(cd "$dex_bed_dir" && pwd)/dexbed.py"
export ORKESTRA_DEXBED_PYTHON="$dex_venv/bin/python"
echo "durable conformance bed: $ORKESTRA_DEXBED ($("$ORKESTRA_DEXBED_PYTHON" -m pip show aws-durable-execution-conformance-tests 2>/dev/null | grep '^Version'))"
