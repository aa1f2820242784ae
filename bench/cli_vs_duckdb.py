"""`sla-evaluator evaluate` against DuckDB on the same CSV file, end to end, in one run.

Writes a CSV of S subscriptions x M months of per-minute buckets (the synthetic workload of
bench/compare.py, starts as RFC 3339 UTC instants, or Unix seconds with --starts unix), then times,
best of N runs each:

- `sla-evaluator evaluate --format csv FILE` as a process, from start to exit;
- DuckDB in this process: `read_csv` of the same file plus the policy's SQL, written two ways (the
  natural timestamptz query with the policy's zone, and hand-tuned integer arithmetic on epoch
  seconds), with every core DuckDB wants;

checks that both give the same bad minutes per subscription and month, and prints the times and
the ratio DuckDB time / our time (above 1: we are faster). Run it through bench/cli_vs_duckdb.sh.
"""

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import time

import duckdb

sys.path.insert(0, os.path.dirname(__file__))
from compare import POLICIES, TERM_START_UNIX, month_minutes, workload  # noqa: E402


def write_csv(path, subscriptions, months, starts):
    """The workload as CSV, written by DuckDB (fast, and no rounding anywhere: all integers)."""
    minutes = sum(month_minutes(months))
    data = workload(subscriptions, minutes)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE raw AS SELECT * FROM data")
    start = ("strftime(to_timestamp(start), '%Y-%m-%dT%H:%M:%SZ')" if starts == "rfc3339"
             else "start")
    con.execute(f"""
        COPY (SELECT printf('sub-%02d', sub) AS subscription, {start} AS start, total, failed
              FROM raw ORDER BY sub, raw.start)
        TO '{path}' (HEADER, DELIMITER ',', QUOTE '')""")
    return len(data["sub"])


def duckdb_queries(path, slice_minutes, bound, starts):
    """read_csv plus the policy's SQL: natural (timestamptz, zone) and hand-tuned (integers)."""
    start_type = "TIMESTAMPTZ" if starts == "rfc3339" else "BIGINT"
    source = (f"read_csv('{path}', header=true, columns={{'subscription': 'VARCHAR', "
              f"'start': '{start_type}', 'total': 'BIGINT', 'failed': 'BIGINT'}})")
    ts = "start" if starts == "rfc3339" else "to_timestamp(start)"
    seconds = "epoch(start)::BIGINT" if starts == "rfc3339" else "start"
    offset = 8 * 3600  # Asia/Shanghai has no clock changes
    bad = "failed = total" if bound is None else f"(total - failed) * 100 < {bound} * total"
    natural = f"""
        WITH units AS (
          SELECT subscription, time_bucket(INTERVAL '{slice_minutes} minutes', {ts}, 'Asia/Shanghai') AS unit,
                 sum(total) AS total, sum(failed) AS failed
          FROM {source} GROUP BY ALL)
        SELECT subscription, strftime(date_trunc('month', unit AT TIME ZONE 'Asia/Shanghai'), '%Y-%m-%d') AS month,
               {slice_minutes} * count(*) FILTER (WHERE total > 0 AND {bad}) AS bad
        FROM units GROUP BY ALL ORDER BY ALL"""
    integer = f"""
        WITH units AS (
          SELECT subscription, ({seconds} + {offset}) // {slice_minutes * 60} AS unit,
                 sum(total) AS total, sum(failed) AS failed
          FROM {source} GROUP BY ALL)
        SELECT subscription, strftime(make_timestamp(unit * {slice_minutes * 60} * 1000000), '%Y-%m-01') AS month,
               {slice_minutes} * count(*) FILTER (WHERE total > 0 AND {bad}) AS bad
        FROM units GROUP BY ALL ORDER BY ALL"""
    return {"natural timestamptz SQL": natural, "hand-tuned integer SQL": integer}


def best(runs, action):
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sla-evaluator", required=True, help="path to the release binary")
    parser.add_argument("--policy", default="tencent-trtc",
                        choices=[p for p, (s, _) in POLICIES.items() if s > 0])
    parser.add_argument("--subscriptions", type=int, default=20)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--starts", choices=["rfc3339", "unix"], default="rfc3339")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--file", default="target/bench-cli.csv")
    args = parser.parse_args()

    slice_minutes, bound = POLICIES[args.policy]
    rows = write_csv(args.file, args.subscriptions, args.months, args.starts)
    size = os.path.getsize(args.file)
    last_day = time.strftime("%Y-%m-%d", time.gmtime(TERM_START_UNIX + 8 * 3600
                                                     + sum(month_minutes(args.months)) * 60 - 86400))
    command = [args.sla_evaluator, "evaluate", "--policy", args.policy,
               "--term", f"2023-01-01..{last_day}", "--as-of", "2030-01-01T00:00:00Z",
               "--format", "csv", "--quiet", args.file]
    ours, out = best(args.runs, lambda: subprocess.run(
        command, check=True, capture_output=True, text=True).stdout)
    our_bad = {(r["subscription"], r["month_start"]): int(r["bad_units"])
               for r in csv.DictReader(io.StringIO(out))}

    con = duckdb.connect()
    theirs = {}
    for name, sql in duckdb_queries(args.file, slice_minutes, bound, args.starts).items():
        seconds, result = best(args.runs, lambda: con.execute(sql).fetchall())
        got = {(s, m): int(b) for s, m, b in result}
        if got != our_bad:
            sys.exit(f"DuckDB's {name} disagrees with sla-evaluator on bad minutes")
        theirs[name] = seconds

    print(f"{args.subscriptions} subscriptions x {args.months} months of 1-minute buckets: "
          f"{rows:,} rows, {size / 1e6:.0f} MB of CSV ({args.starts} starts), policy {args.policy}, "
          f"{os.cpu_count()} cores, best of {args.runs}")
    print(f"{'':44} {'seconds':>8} {'M rows/s':>9}")
    print(f"{'sla-evaluator evaluate (process, end to end)':44} {ours:8.2f} {rows / ours / 1e6:9.1f}")
    for name, seconds in theirs.items():
        print(f"{'DuckDB read_csv + ' + name:44} {seconds:8.2f} {rows / seconds / 1e6:9.1f}")
    fastest = min(theirs.values())
    print(f"ratio DuckDB (fastest) / sla-evaluator: {fastest / ours:.2f}")
    print(json.dumps({
        "policy": args.policy, "rows": rows, "bytes": size, "starts": args.starts,
        "sla_evaluator_seconds": round(ours, 3),
        "duckdb_seconds": {k: round(v, 3) for k, v in theirs.items()},
        "ratio_fastest_duckdb_to_sla_evaluator": round(fastest / ours, 2),
    }))


if __name__ == "__main__":
    main()
