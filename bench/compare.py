"""DuckDB against sla-evaluator on the same buckets, in one run.

Generates the synthetic workload of bench/sla-load/workload.rs (splitmix64 per subscription and minute) with
numpy, loads it into an in-process DuckDB, times the SQL equivalent of the policy (best of three,
on 1 and on 2 threads, written two ways: the hand-tuned integer arithmetic a performance-minded
analyst would write, and the natural timestamptz query with time zones), checks DuckDB's answer
against a numpy reference, runs `sla-load` (our server and client) on the same workload, and prints
the ratios. Run it through bench/compare.sh, which provides the Python packages.
"""

import argparse
import json
import subprocess
import sys
import time

import duckdb
import numpy as np

TERM_START_UNIX = 1_672_502_400  # 2023-01-01T00:00+08:00
SHANGHAI_OFFSET = 8 * 3600

# slice minutes (0 = occurrences) and bad-slice rule (None = every attempt failed, else bound %)
POLICIES = {
    "tencent-im": (1, None),
    "tencent-ccc-intl": (1, 99),
    "tencent-trtc": (5, 99),
    "tencent-sms": (0, None),
    "tencent-ccc-cn": (0, None),
}


def splitmix64(x):
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def month_minutes(months):
    """Minutes of each calendar month from 2023-01 (Shanghai has no clock changes)."""
    days = []
    year, month = 2023, 1
    for _ in range(months):
        next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
        length = np.datetime64(f"{next_year:04d}-{next_month:02d}-01") - np.datetime64(f"{year:04d}-{month:02d}-01")
        days.append(int(length / np.timedelta64(1, "D")))
        year, month = next_year, next_month
    return [d * 1440 for d in days]


def workload(subscriptions, minutes):
    """The buckets of bench/sla-load/workload.rs::minute_counts, as numpy columns."""
    m = np.arange(minutes, dtype=np.uint64)
    subs, starts, totals, faileds = [], [], [], []
    for s in range(subscriptions):
        x = splitmix64((np.uint64(s) << np.uint64(40)) ^ m)
        total = np.uint64(50) + x % np.uint64(100)
        roll = (x >> np.uint64(32)) % np.uint64(1000)
        failed = np.where(roll < 5, total, np.where(roll < 20, total // np.uint64(10), np.uint64(0)))
        subs.append(np.full(minutes, s, dtype=np.int64))
        starts.append(TERM_START_UNIX + 60 * m.astype(np.int64))
        totals.append(total.astype(np.int64))
        faileds.append(failed.astype(np.int64))
    return {
        "sub": np.concatenate(subs),
        "start": np.concatenate(starts),
        "total": np.concatenate(totals),
        "failed": np.concatenate(faileds),
    }


def reference(data, subscriptions, months, slice_minutes, bound):
    """(sub, month index) -> bad units, computed with numpy alone."""
    lengths = month_minutes(months)
    per_sub = sum(lengths)
    expected = {}
    for s in range(subscriptions):
        total = data["total"][s * per_sub:(s + 1) * per_sub]
        failed = data["failed"][s * per_sub:(s + 1) * per_sub]
        first = 0
        for i, length in enumerate(lengths):
            t, f = total[first:first + length], failed[first:first + length]
            if slice_minutes == 0:
                expected[(s, i)] = int(f.sum())
            else:
                t = t.reshape(-1, slice_minutes).sum(axis=1)
                f = f.reshape(-1, slice_minutes).sum(axis=1)
                bad = (t > 0) & ((f == t) if bound is None else ((t - f) * 100 < bound * t))
                expected[(s, i)] = int(bad.sum()) * slice_minutes
            first += length
    return expected


def queries(slice_minutes, bound):
    """The policy's SQL, written with integer arithmetic and with timestamptz + time zones."""
    if slice_minutes == 0:
        integer = f"""
            SELECT sub, strftime(make_timestamp((start + {SHANGHAI_OFFSET}) * 1000000), '%Y-%m') AS month,
                   sum(failed) AS bad
            FROM buckets GROUP BY ALL ORDER BY ALL"""
        natural = """
            SELECT sub, strftime(date_trunc('month', ts AT TIME ZONE 'Asia/Shanghai'), '%Y-%m') AS month,
                   sum(failed) AS bad
            FROM buckets_tz GROUP BY ALL ORDER BY ALL"""
        return integer, natural
    bad = "failed = total" if bound is None else f"(total - failed) * 100 < {bound} * total"
    integer = f"""
        WITH units AS (
          SELECT sub, (start + {SHANGHAI_OFFSET}) // {slice_minutes * 60} AS unit,
                 sum(total) AS total, sum(failed) AS failed
          FROM buckets GROUP BY ALL)
        SELECT sub, strftime(make_timestamp(unit * {slice_minutes * 60} * 1000000), '%Y-%m') AS month,
               {slice_minutes} * count(*) FILTER (WHERE total > 0 AND {bad}) AS bad
        FROM units GROUP BY ALL ORDER BY ALL"""
    natural = f"""
        WITH units AS (
          SELECT sub, time_bucket(INTERVAL '{slice_minutes} minutes', ts, 'Asia/Shanghai') AS unit,
                 sum(total) AS total, sum(failed) AS failed
          FROM buckets_tz GROUP BY ALL)
        SELECT sub, strftime(date_trunc('month', unit AT TIME ZONE 'Asia/Shanghai'), '%Y-%m') AS month,
               {slice_minutes} * count(*) FILTER (WHERE total > 0 AND {bad}) AS bad
        FROM units GROUP BY ALL ORDER BY ALL"""
    return integer, natural


def duckdb_figures(data, expected, months, slice_minutes, bound):
    con = duckdb.connect()
    con.execute("CREATE TABLE buckets AS SELECT * FROM data")
    con.execute("CREATE TABLE buckets_tz AS SELECT sub, to_timestamp(start) AS ts, total, failed FROM buckets")
    labels = [f"{2023 + i // 12}-{i % 12 + 1:02d}" for i in range(months)]
    rows = len(data["sub"])
    figures = {}
    for name, sql in zip(("integer", "timestamptz"), queries(slice_minutes, bound)):
        for threads in (1, 2):
            con.execute(f"SET threads TO {threads}")
            best = None
            for _ in range(3):
                started = time.perf_counter()
                result = con.execute(sql).fetchall()
                elapsed = time.perf_counter() - started
                best = elapsed if best is None else min(best, elapsed)
            got = {(s, labels.index(month)): int(bad) for s, month, bad in result}
            if got != expected:
                sys.exit(f"DuckDB's {name} query disagrees with the numpy reference")
            figures[f"{name}, {threads} thread{'s' if threads > 1 else ''}"] = rows / best
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sla-load", required=True, help="path to the sla-load binary")
    parser.add_argument("--policy", default="tencent-trtc", choices=sorted(POLICIES))
    parser.add_argument("--subscriptions", type=int, default=8)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()

    slice_minutes, bound = POLICIES[args.policy]
    minutes = sum(month_minutes(args.months))
    data = workload(args.subscriptions, minutes)
    expected = reference(data, args.subscriptions, args.months, slice_minutes, bound)
    duck = duckdb_figures(data, expected, args.months, slice_minutes, bound)

    ours, cpu = {}, {}
    for form in ("columns", "rows"):
        out = subprocess.run(
            [args.sla_load, "--form", form, "--policy", args.policy,
             "--subscriptions", str(args.subscriptions), "--months", str(args.months),
             "--streams", str(args.streams), "--connections", str(args.connections)],
            check=True, capture_output=True, text=True).stdout
        report = json.loads(out.strip().splitlines()[-1])
        ours[form] = report["buckets_per_second"]
        # CPU nanoseconds a bucket on each side, from their CPU-time clocks: the two share the cores.
        cpu[form] = {side: report[f"{side}_cpu_seconds_per_million_buckets"] * 1e3
                     for side in ("server", "client")}

    print(f"{args.subscriptions} subscriptions x {args.months} months of 1-minute buckets "
          f"({len(data['sub']):,} buckets), policy {args.policy}")
    print(f"{'':40} {'M buckets/s':>12}")
    for name, rate in duck.items():
        print(f"{'DuckDB SQL, ' + name:40} {rate / 1e6:12.1f}")
    for form, rate in ours.items():
        print(f"{'sla-evaluator end to end, ' + form:40} {rate / 1e6:12.1f}"
              f"   CPU ns a bucket: server {cpu[form]['server']:.0f}, client {cpu[form]['client']:.0f}")
    best_duck = max(duck.values())
    print(json.dumps({
        "policy": args.policy,
        "buckets": len(data["sub"]),
        "duckdb_buckets_per_second": {k: round(v) for k, v in duck.items()},
        "sla_evaluator_buckets_per_second": {k: round(v) for k, v in ours.items()},
        "sla_evaluator_cpu_ns_per_bucket": {k: {s: round(v, 1) for s, v in c.items()} for k, c in cpu.items()},
        "ratio_columns_to_best_duckdb": round(ours["columns"] / best_duck, 2),
        "ratio_rows_to_best_duckdb": round(ours["rows"] / best_duck, 2),
    }))


if __name__ == "__main__":
    main()
