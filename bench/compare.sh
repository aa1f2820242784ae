#!/usr/bin/env bash
# DuckDB against sla-evaluator on the same buckets, in one run (see bench/compare.py).
#   bench/compare.sh [--policy tencent-trtc] [--subscriptions 8] [--months 12]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/bench-venv
if [[ ! -x $venv/bin/python ]] || ! cmp -s bench/requirements.txt "$venv/requirements.installed"; then
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
  cp bench/requirements.txt "$venv/requirements.installed"
fi
cargo build --release --quiet --bins
exec "$venv/bin/python" bench/compare.py --sla-load target/release/sla-load "$@"
