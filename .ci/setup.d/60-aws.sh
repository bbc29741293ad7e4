# AWS backends (issue 9, cargo feature `aws`): moto_server (PyPI `moto[server]`) serves
# DynamoDB, S3 and Step Functions in one process on 127.0.0.1 for tests/state_data_backends.rs
# and tests/aws_stop_execution.rs. Sourced by .ci/run; exports ORKESTRA_TEST_AWS_ENDPOINT.
aws_tools="$CI_TOOLS/aws"
mkdir -p "$aws_tools"
if ! command -v moto_server >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "moto[server]>=5.2,<6" >/dev/null
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
  hash -r
fi
aws_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
# The request recorder (tests/aws_stop_execution.rs reads it) writes here, not into the checkout.
MOTO_RECORDER_FILEPATH="$aws_tools/moto_recording" \
  moto_server -H 127.0.0.1 -p "$aws_port" >"$aws_tools/moto_server.log" 2>&1 &
aws_moto_pid=$!
ci_on_exit "kill $aws_moto_pid"
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$aws_port/moto-api/data.json', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.2
done
if ! kill -0 "$aws_moto_pid" 2>/dev/null; then
  cat "$aws_tools/moto_server.log"
  echo "moto_server did not start" >&2
  exit 1
fi
export ORKESTRA_TEST_AWS_ENDPOINT="http://127.0.0.1:$aws_port"
echo "moto_server $(python3 -c 'import moto; print(moto.__version__)') on $ORKESTRA_TEST_AWS_ENDPOINT"
