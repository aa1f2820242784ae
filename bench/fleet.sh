#!/usr/bin/env bash
# Month-end for a fleet: 10,000 subscriptions x one month of per-minute buckets, in process,
# through one local server and through three local replicas (see bench/fleet.py).
#   bench/fleet.sh [--subscriptions 10000] [--policy tencent-trtc] [--anchor OTHER_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/bench-venv
if [[ ! -x $venv/bin/python ]] || ! cmp -s bench/requirements.txt "$venv/requirements.installed"; then
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
  cp bench/requirements.txt "$venv/requirements.installed"
fi
cargo build --release --quiet --bin sla-evaluator
exec "$venv/bin/python" bench/fleet.py --sla-evaluator target/release/sla-evaluator "$@"
