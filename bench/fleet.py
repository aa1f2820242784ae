"""Month-end for a fleet: `sla-evaluator evaluate` over S subscriptions x one month of per-minute
buckets, in process, through one local server, and through three local replicas, in one run.

Writes the fleet as one Parquet file (DuckDB; a row group per subscription, so the input is
grouped by subscription), then runs, each from start to exit:

- `evaluate FILE` in process;
- `evaluate --target HOST:PORT FILE` through one server started here;
- `evaluate --target A,B,C FILE` through three servers started here (round robin);
- with --anchor BINARY, the same in-process run of another build (e.g. the previous release, on
  one thread), in the same run, as the figure the others are measured against.

Every run's output must equal the in-process run's, byte for byte (a wrong answer fails the
bench). Prints one JSON line per run: wall seconds, buckets per second, the client's peak RSS
(from wait4) and each server's (VmHWM from /proc, read before it is stopped). Run it through
bench/fleet.sh.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import duckdb

MARCH_MINUTES = 31 * 1440
# 2026-03-01T00:00:00+08:00: March in Asia/Shanghai, every built-in policy's zone.
MARCH_START = 1_772_294_400


def write_fleet(path, subscriptions):
    """S subscriptions x March's minutes, 20 attempts a minute, about one failed minute in 1,000,
    sorted by subscription and minute, a row group per subscription."""
    rows = subscriptions * MARCH_MINUTES
    con = duckdb.connect()
    con.execute(f"""
        COPY (SELECT printf('sub-%05d', i // {MARCH_MINUTES}) AS subscription,
                     {MARCH_START} + 60 * (i % {MARCH_MINUTES}) AS start,
                     20::BIGINT AS total,
                     CASE WHEN hash(i) % 997 = 0 THEN 20 ELSE 0 END::BIGINT AS failed
              FROM range({rows}) t(i))
        TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE {MARCH_MINUTES}, PARQUET_VERSION V2)""")
    return rows


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss(pid):
    """VmHWM of a running process, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


class Server:
    """A release server on a free port, logging JSON to a file."""

    def __init__(self, binary, workdir, index):
        self.port = free_port()
        self.log = open(os.path.join(workdir, f"server-{index}.log"), "w")
        self.process = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{self.port}", "--metrics-listen",
             f"127.0.0.1:{free_port()}", "--log-format", "json"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise SystemExit(f"the server on port {self.port} did not start")

    def stop(self):
        peak = peak_rss(self.process.pid)
        self.process.terminate()
        self.process.wait()
        self.log.close()
        return peak


def evaluate(binary, policy, parquet, out, extra):
    """Runs `evaluate`, returns (seconds, client peak RSS bytes, stderr)."""
    args = [binary, "evaluate", "--policy", policy, "--term", "2026-03", "--as-of",
            "2026-04-10T00:00:00Z", "--format", "csv", "--quiet", *extra, parquet]
    with open(out, "wb") as stdout, tempfile.TemporaryFile() as stderr:
        began = time.perf_counter()
        process = subprocess.Popen(args, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        stderr.seek(0)
        text = stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{text}")
    return seconds, usage.ru_maxrss * 1024, text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sla-evaluator", required=True, help="the release binary")
    parser.add_argument("--anchor", help="another build's binary, run in process on the same file")
    parser.add_argument("--policy", default="tencent-trtc")
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--max-open", type=int, default=128)
    parser.add_argument("--workdir", default="target/bench-fleet")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    parquet = os.path.join(args.workdir, f"fleet-{args.subscriptions}.parquet")
    buckets = args.subscriptions * MARCH_MINUTES
    if not os.path.exists(parquet):
        write_fleet(parquet, args.subscriptions)
    common = {"policy": args.policy, "subscriptions": args.subscriptions, "buckets": buckets,
              "input_bytes": os.path.getsize(parquet)}
    expected = os.path.join(args.workdir, "in-process.csv")

    def report(run, seconds, client, servers, stderr, output):
        if output != expected:
            with open(output, "rb") as a, open(expected, "rb") as b:
                if a.read() != b.read():
                    raise SystemExit(f"{run}: the answers differ from the in-process run's")
        resent = re.search(r"(\d+) of \d+ subscriptions were resent", stderr)
        print(json.dumps({"run": run, **common, "seconds": round(seconds, 2),
                          "buckets_per_second": round(buckets / seconds),
                          "client_peak_rss_bytes": client,
                          "servers_peak_rss_bytes": servers,
                          "resent": int(resent.group(1)) if resent else 0}), flush=True)

    extra = ["--max-open", str(args.max_open)]
    seconds, client, stderr = evaluate(args.sla_evaluator, args.policy, parquet, expected, extra)
    report("in-process", seconds, client, [], stderr, expected)

    if args.anchor:
        # On one thread: 0.1.x read a Parquet file's row groups on several threads through one
        # shared file position, and failed now and then on a file of many row groups.
        out = os.path.join(args.workdir, "anchor.csv")
        seconds, client, stderr = evaluate(args.anchor, args.policy, parquet, out,
                                           ["--threads", "1"])
        report("anchor-in-process", seconds, client, [], stderr, out)

    for replicas in (1, 3):
        servers = [Server(args.sla_evaluator, args.workdir, i) for i in range(replicas)]
        target = ",".join(f"127.0.0.1:{server.port}" for server in servers)
        out = os.path.join(args.workdir, f"target-{replicas}.csv")
        try:
            seconds, client, stderr = evaluate(args.sla_evaluator, args.policy, parquet, out,
                                               [*extra, "--target", target])
        finally:
            peaks = [server.stop() for server in servers]
        report(f"target-{replicas}-server{'s' if replicas > 1 else ''}", seconds, client, peaks,
               stderr, out)


if __name__ == "__main__":
    sys.exit(main())
