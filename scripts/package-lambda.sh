#!/usr/bin/env bash
# Packages an Orkestra binary for AWS Lambda's `provided.al2023` runtime: one `bootstrap` that
# serves every registered task (the function's Handler names the task), zipped.
#
# Usage: scripts/package-lambda.sh [--arm64] [--bin NAME | --example NAME] [-- extra cargo args]
#   default artefact: --example lambda_tasks; default architecture: x86_64
#   prints the zip's path on the last line of stdout:
#   target/lambda/<NAME>/bootstrap.zip (x86_64) or target/lambda-arm64/<NAME>/bootstrap.zip
#
# Needs `cargo lambda` and zig, both on PyPI: `pip install cargo-lambda ziglang`. Zig links
# against the glibc `provided.al2023` has (2.34); a plain `cargo build` links this machine's
# glibc and may not start there. The script checks the result: the zip holds exactly `bootstrap`,
# mode 0755, an ELF of the right machine needing no glibc symbol newer than 2.34.
# arm64 (Graviton) needs `rustup target add aarch64-unknown-linux-gnu` first.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=x86_64
kind=--example
name=lambda_tasks
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --arm64) arch=arm64 ;;
    --x86-64|--x86_64) arch=x86_64 ;;
    --bin|--example) kind="$1"; name="${2:?$1 needs a name}"; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "error: unknown argument \`$1\` (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if ! command -v cargo-lambda >/dev/null 2>&1; then
  echo "error: cargo-lambda is not installed; run: pip install cargo-lambda ziglang" >&2
  exit 2
fi

case "$arch" in
  x86_64) arch_flag=--x86-64; lambda_dir=target/lambda; machine="X86-64" ;;
  arm64) arch_flag=--arm64; lambda_dir=target/lambda-arm64; machine="AArch64" ;;
esac

# A smaller zip downloads faster on a cold start; panic messages and locations do not need
# debug info. Override by exporting these variables.
export CARGO_PROFILE_RELEASE_DEBUG="${CARGO_PROFILE_RELEASE_DEBUG:-false}"
export CARGO_PROFILE_RELEASE_STRIP="${CARGO_PROFILE_RELEASE_STRIP:-symbols}"

echo "== cargo lambda build --release $arch_flag --features lambda $kind $name" >&2
cargo lambda build --release "$arch_flag" --features lambda "$kind" "$name" \
  --output-format zip --lambda-dir "$lambda_dir" "${extra[@]}" >&2

zip="$lambda_dir/$name/bootstrap.zip"
[ -f "$zip" ] || { echo "error: cargo lambda produced no $zip" >&2; exit 1; }

contents="$(python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$zip")"
if [ "$contents" != "bootstrap" ]; then
  echo "error: $zip should hold exactly \`bootstrap\`, it holds: $contents" >&2
  exit 1
fi

check_dir="$(mktemp -d)"
trap 'rm -rf "$check_dir"' EXIT
mode="$(python3 -c 'import sys, zipfile; print(oct(zipfile.ZipFile(sys.argv[1]).getinfo("bootstrap").external_attr >> 16 & 0o777))' "$zip")"
if [ "$mode" != "0o755" ]; then
  echo "error: bootstrap in $zip has mode $mode; Lambda needs it executable (0o755)" >&2
  exit 1
fi
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "$check_dir"
bootstrap="$check_dir/bootstrap"
if ! readelf -h "$bootstrap" | grep -q "Machine:.*$machine"; then
  echo "error: $zip's bootstrap is not an $machine executable" >&2
  exit 1
fi
newest_glibc="$(readelf -W --version-info "$bootstrap" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
if [ -n "$newest_glibc" ] && [ "$(printf '%s\n2.34\n' "$newest_glibc" | sort -V | tail -1)" != "2.34" ]; then
  echo "error: bootstrap needs glibc $newest_glibc; provided.al2023 has 2.34" >&2
  exit 1
fi
size="$(stat -c %s "$zip")"
echo "== $zip: bootstrap for $arch, newest glibc symbol ${newest_glibc:-none}, zip $size bytes" >&2
echo "$zip"
