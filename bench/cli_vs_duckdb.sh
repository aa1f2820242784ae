#!/usr/bin/env bash
# `sla-evaluator evaluate` against DuckDB on the same CSV file, end to end (see
# bench/cli_vs_duckdb.py).
#   bench/cli_vs_duckdb.sh [--policy tencent-trtc] [--subscriptions 20] [--months 12] [--starts rfc3339|unix]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/bench-venv
if [[ ! -x $venv/bin/python ]] || ! cmp -s bench/requirements.txt "$venv/requirements.installed"; then
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
  cp bench/requirements.txt "$venv/requirements.installed"
fi
cargo build --release --quiet --bin sla-evaluator
exec "$venv/bin/python" bench/cli_vs_duckdb.py --sla-evaluator target/release/sla-evaluator "$@"
