#!/usr/bin/env bash
# The Python package (crates/8-apps/clv-python): build the wheel with maturin (the dev profile the
# Rust tests use, so only pyo3 and the module itself compile here), install it into a venv with
# lifetimes, pyspark and pysail, and run the pytest suites: every function against lifetimes', and
# clv.spark against the single-machine results (on pysail's Spark Connect server, and one smoke
# test on local JVM Spark, which needs java: Debian's openjdk-17).
#   tools/python-tests.sh [pytest arguments]
# CLV_PYVENV picks the venv (default target/pyvenv). Pins: lifetimes 0.11.3 needs pandas < 3
# (its calibration summary fails on pandas 3) and pyarrow 26 needs numpy 2.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CLV_PYVENV:-target/pyvenv}
PINS=(lifetimes==0.11.3 pandas==2.2.3 numpy==2.2.6 scipy==1.17.1 pyarrow==26.0.1 polars==2.1.0
      autograd==1.9.1 dill==0.4.1 pytest==9.2.0 maturin==1.16.0 "pyspark[connect]==4.0.1"
      pysail==0.7.2)
if ! "$VENV/bin/python" -c "import lifetimes, pyarrow, polars, pytest, pyspark, pysail" 2>/dev/null \
    || [ ! -x "$VENV/bin/maturin" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "${PINS[@]}"
fi
rm -rf target/wheels
(cd crates/8-apps/clv-python && PATH="$PWD/../../../$VENV/bin:$PATH" \
  maturin build --out ../../../target/wheels) > target/maturin.log 2>&1 || { cat target/maturin.log; exit 1; }
# After `cargo test --workspace` (CI sets CLV_SHARED_BUILD=1) the wheel may compile only what the
# workspace build has no use for: pyo3, its helpers, and the clv crates above it. Anything else
# means the feature pins in crates/8-apps/clv-python/Cargo.toml drifted from the workspace's.
if [ "${CLV_SHARED_BUILD:-0}" = 1 ]; then
  rebuilt=$(grep -oE '^ *Compiling [^ ]+' target/maturin.log | awk '{print $2}' \
    | grep -vE '^(pyo3.*|target-lexicon|indoc|unindent|memoffset|arrow-pyarrow|clv-.*)$' || true)
  if [ -n "$rebuilt" ]; then
    echo "the wheel rebuilt shared dependencies (pin their workspace features in clv-python):" $rebuilt >&2
    exit 1
  fi
fi
"$VENV/bin/pip" install -q --force-reinstall --no-deps target/wheels/clv-*.whl
cd crates/8-apps/clv-python
exec "../../../$VENV/bin/python" -m pytest -q tests "$@"
