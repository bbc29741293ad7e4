# Lambda packaging (issue 4): cargo-lambda and zig from PyPI, for tests/lambda_package.rs, which
# runs scripts/package-lambda.sh (a zig-linked release build, about 2 minutes on 2 cores).
# Sourced by .ci/run.
if ! command -v cargo-lambda >/dev/null 2>&1 || ! python3 -c 'import ziglang' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check cargo-lambda ziglang
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
  hash -r
fi
cargo lambda --version
