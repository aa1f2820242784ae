"""An independent implementation of the input digest that docs/provenance.md specifies.

Reads one JSON document on stdin describing an evaluation's inputs (calendar-month policies only)
and prints "sha256:<hex>". Written from the documentation, not from the Rust code, so that the tests
can check the server against it.
"""

import datetime
import hashlib
import json
import sys
from decimal import Decimal
from zoneinfo import ZoneInfo


def plain(decimal_text):
    """A decimal written plainly and as short as possible."""
    text = format(Decimal(decimal_text).normalize(), "f")
    return text


def instant(text):
    """RFC 3339 in UTC with nine fractional digits (datetime keeps only six, so the fraction is
    carried as text)."""
    whole, _, rest = text.partition(".")
    fraction = "".join(c for c in rest if c.isdigit()) if rest else ""
    zone = "Z" if text.endswith("Z") else text[-6:]
    at = datetime.datetime.fromisoformat(whole.replace("Z", "") + zone.replace("Z", "+00:00"))
    at = at.astimezone(datetime.timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S") + "." + fraction.ljust(9, "0")[:9] + "Z"


def varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def calendar_months(first, last, zone):
    """(first day, last day, first instant, end instant) of each calendar month of the term."""
    months = []
    day = first
    while day <= last:
        next_month = (day.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
        month_last = min(last, next_month - datetime.timedelta(days=1))
        start = datetime.datetime.combine(day, datetime.time(), zone).timestamp()
        end = datetime.datetime.combine(month_last + datetime.timedelta(days=1), datetime.time(), zone).timestamp()
        months.append((day, month_last, int(start), int(end)))
        day = month_last + datetime.timedelta(days=1)
    return months


def digest(inputs):
    zone = ZoneInfo(inputs["time_zone"])
    first = datetime.date.fromisoformat(inputs["term"][0])
    last = datetime.date.fromisoformat(inputs["term"][1])
    months = calendar_months(first, last, zone)
    as_of = datetime.datetime.fromisoformat(inputs["as_of"].replace("Z", "+00:00")).timestamp()

    lines = [
        "sla-evaluator input v1",
        "policy_id " + inputs["policy_id"],
    ]
    # Only a spec that names a subscription has its line.
    if inputs.get("subscription"):
        lines.append("subscription " + inputs["subscription"])
    lines += [
        "term %s %s" % (first, last),
        "time_zone " + inputs["time_zone"],
        "currency " + (inputs["currency"] or "-"),
        "message_unit_price " + (plain(inputs["message_unit_price"]) if inputs["message_unit_price"] else "-"),
        "calendar " + inputs["calendar"]["name"],
    ]
    lines += ["holiday " + day for day in sorted(inputs["calendar"]["holidays"])]
    lines += ["make_up_day " + day for day in sorted(inputs["calendar"]["make_up_days"])]
    lines += ["fee %s %s %s" % (month, plain(paid), plain(deductions))
              for month, paid, deductions in sorted(inputs["fees"])]
    lines.append("as_of " + instant(inputs["as_of"]))
    lines.append("max_intervals %d" % inputs["max_intervals"])

    per_month = [[] for _ in months]
    ignored = 0
    for start, duration, total, failed in inputs["buckets"]:
        end = start + duration
        if end <= months[0][2] or start >= months[-1][3] or start >= as_of:
            ignored += 1
            continue
        index = next(i for i, m in enumerate(months) if m[2] <= start < m[3])
        per_month[index].append(((start - months[index][2]) // 60, duration // 60, total, failed))
    lines.append("buckets_ignored %d" % ignored)

    hash = hashlib.sha256(("\n".join(lines) + "\n").encode())
    for (day, _, start, _), records in zip(months, per_month):
        # Longest runs of buckets of one length, each starting where the one before it ends.
        runs = []
        for minute, span, total, failed in sorted(records):
            if runs and runs[-1]["span"] == span and runs[-1]["end"] == minute:
                runs[-1]["counts"].append((total, failed))
                runs[-1]["end"] += span
            else:
                runs.append({"minute": minute, "span": span, "end": minute + span, "counts": [(total, failed)]})
        body = bytearray()
        previous_end = 0
        for run in runs:
            body += varint(run["minute"] - previous_end) + varint(run["span"]) + varint(len(run["counts"]))
            for total, failed in run["counts"]:
                body += varint(total) + varint(failed)
            previous_end = run["end"]
        hash.update(("month %s %d %d %d\n" % (day, start, len(records), len(body))).encode())
        hash.update(bytes(body))
    outages = sorted(
        json.dumps(outage, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        for outage in inputs["outages"]
    )
    hash.update(("outages %d\n" % len(outages)).encode())
    for line in outages:
        hash.update(line + b"\n")
    return "sha256:" + hash.hexdigest()


if __name__ == "__main__":
    print(digest(json.load(sys.stdin)))
