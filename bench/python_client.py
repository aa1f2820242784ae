"""Throughput of the Python client (clients/python) in buckets per second.

Usage: python bench/python_client.py --target HOST:PORT [--months 12] [--subscriptions 4]
           [--streams 1] [--policy tencent-trtc]

Needs the package installed (pip install ./clients/python) and a running server (ideally the
release build: cargo run --release). Synthesises per-minute buckets of one term per subscription
and prints one JSON line:
- encode_*: building the Evaluate messages alone, with the package's numpy encoder and, for
  comparison, with the protobuf runtime from Python lists (what a hand-written client does);
- evaluate_*: end to end, from numpy arrays to the EvaluateResponse, over `--streams` concurrent
  streams (threads) on one channel.
"""

import argparse
import concurrent.futures
import json
import time

import numpy as np

import sla_client
from sla.v1 import sla_pb2 as pb


def synthetic(months, seed):
    """Per-minute buckets from 2025-01-01 (Shanghai) over `months` 30-day months, 1 in 500 failing."""
    rng = np.random.default_rng(seed)
    rows = months * 30 * 1440
    starts = 1735660800 + 60 * np.arange(rows, dtype=np.int64)
    totals = rng.integers(50, 5_000, rows, dtype=np.uint64)
    failed = np.where(rng.random(rows) < 0.002, totals // 2, 0).astype(np.uint64)
    return {"start": starts, "total": totals, "failed": failed}


def protobuf_runtime_messages(buckets, rows_per_message=sla_client.ROWS_PER_MESSAGE):
    starts, totals, failed = (buckets[k].tolist() for k in ("start", "total", "failed"))
    for first in range(0, len(starts), rows_per_message):
        chunk = starts[first:first + rows_per_message]
        deltas = [chunk[0] - chunk[0]] + [b - a for a, b in zip(chunk, chunk[1:])]
        yield pb.EvaluateRequest(columns=pb.BucketColumns(
            duration_seconds=60, start_base_unix_seconds=chunk[0], start_delta_seconds=deltas,
            total=totals[first:first + rows_per_message],
            failed=failed[first:first + rows_per_message])).SerializeToString()


def rate(rows, seconds):
    return round(rows / seconds)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--subscriptions", type=int, default=4)
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--policy", default="tencent-trtc")
    args = parser.parse_args()

    data = [synthetic(args.months, seed) for seed in range(args.subscriptions)]
    rows = sum(len(d["start"]) for d in data)
    days = args.months * 30
    spec = {"policy_id": args.policy, "term_start": "2025-01-01",
            "term_end": str(np.datetime64("2025-01-01") + np.timedelta64(days - 1, "D")),
            "as_of": "2030-01-01T00:00:00Z", "max_intervals": 0}

    started = time.perf_counter()
    encoded = sum(len(m) for d in data for m in sla_client.column_messages(sla_client.columns(d)))
    encode_numpy = time.perf_counter() - started

    started = time.perf_counter()
    runtime = list(protobuf_runtime_messages(data[0]))
    encode_runtime = time.perf_counter() - started
    # The same bytes either way.
    assert runtime == list(sla_client.column_messages(sla_client.columns(data[0])))

    with sla_client.channel(args.target) as channel:
        sla_client.evaluate(channel, spec, data[0])  # warm up the connection
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.streams) as pool:
            responses = list(pool.map(lambda d: sla_client.evaluate(channel, spec, d), data))
        evaluate = time.perf_counter() - started
    accepted = sum(r.ingest.buckets_accepted for r in responses)
    assert accepted == rows, (accepted, rows)

    print(json.dumps({
        "policy": args.policy, "subscriptions": args.subscriptions, "months": args.months,
        "streams": args.streams, "buckets": rows,
        "wire_bytes_per_bucket": round(encoded / rows, 2),
        "encode_numpy_buckets_per_second": rate(rows, encode_numpy),
        "encode_protobuf_runtime_buckets_per_second": rate(len(data[0]["start"]), encode_runtime),
        "evaluate_seconds": round(evaluate, 3),
        "evaluate_buckets_per_second": rate(rows, evaluate),
    }))


if __name__ == "__main__":
    main()
