"""Buckets from numpy arrays or a pandas DataFrame, encoded as `EvaluateRequest{columns}` messages.

The protobuf runtime builds a repeated field one Python integer at a time; this module writes the
wire format of `BucketColumns` with numpy instead (varints, zigzag, packed fields), which is what
makes the Python path fast. tests/test_client.py checks the bytes against the protobuf runtime's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

#: Rows per message: 10,000 one-minute buckets take about 50 KB on the wire, far below every
#: message limit, and amortise the per-message cost (README, "Client advice").
ROWS_PER_MESSAGE = 10_000

# An int64 field carries a negative value as its 64-bit two's complement.
_U64_MASK = (1 << 64) - 1


class Columns:
    """Validated bucket columns: starts (Unix seconds), durations (seconds), totals, failures."""

    __slots__ = ("starts", "durations", "totals", "failed")

    def __init__(self, starts: np.ndarray, durations: np.ndarray, totals: np.ndarray,
                 failed: np.ndarray):
        self.starts = starts
        self.durations = durations
        self.totals = totals
        self.failed = failed

    def __len__(self) -> int:
        return len(self.starts)


def columns(buckets: Any = None, *, start: Any = None, total: Any = None, failed: Any = None,
            duration_seconds: Any = 60) -> Columns:
    """Reads buckets from a pandas DataFrame or a mapping of arrays (keys `start`, `total`,
    `failed` and optionally `duration_seconds`), or from the keyword arrays.

    `start`: datetime64 values (naive ones are read as UTC; pandas time-zone-aware columns are
    converted) or integer Unix seconds. `duration_seconds`: integers, timedelta64 values, or one
    value for every row (default 60). `total` and `failed`: non-negative whole numbers (floats
    only if every value is whole).
    """
    if buckets is not None:
        if start is not None or total is not None or failed is not None:
            raise TypeError("give either a table of buckets or the start/total/failed arrays")
        if not hasattr(buckets, "__getitem__") or not hasattr(buckets, "__contains__"):
            raise TypeError(f"buckets must be a DataFrame or a mapping, not {type(buckets)!r}")
        missing = [name for name in ("start", "total", "failed") if name not in buckets]
        if missing:
            raise ValueError(f"buckets lack the column(s) {', '.join(missing)}")
        start, total, failed = buckets["start"], buckets["total"], buckets["failed"]
        if "duration_seconds" in buckets:
            duration_seconds = buckets["duration_seconds"]
    elif start is None or total is None or failed is None:
        raise TypeError("start, total and failed are all required")

    starts = _seconds_since_epoch(start)
    totals = _counts(total, "total")
    failures = _counts(failed, "failed")
    durations = _durations(duration_seconds, len(starts))
    if not len(starts) == len(totals) == len(failures) == len(durations):
        raise ValueError(
            f"columns differ in length: start {len(starts)}, total {len(totals)}, "
            f"failed {len(failures)}, duration_seconds {len(durations)}")
    over = np.flatnonzero(failures > totals)
    if len(over):
        row = int(over[0])
        raise ValueError(f"row {row}: failed {failures[row]} exceeds total {totals[row]}")
    return Columns(starts, durations, totals, failures)


def column_messages(cols: Columns, rows_per_message: int = ROWS_PER_MESSAGE) -> Iterator[bytes]:
    """Serialized `EvaluateRequest` messages carrying the rows as `BucketColumns` with
    delta-encoded starts, at most `rows_per_message` rows each; rows of one duration share a
    message (the message has one duration), in their order."""
    if rows_per_message < 1:
        raise ValueError("rows_per_message must be at least 1")
    for duration, rows in _by_duration(cols.durations):
        starts, totals, failed = cols.starts[rows], cols.totals[rows], cols.failed[rows]
        for first in range(0, len(starts), rows_per_message):
            last = first + rows_per_message
            yield encode_columns(int(duration), starts[first:last], totals[first:last],
                                 failed[first:last])


def encode_columns(duration: int, starts: np.ndarray, totals: np.ndarray,
                   failed: np.ndarray) -> bytes:
    """One `EvaluateRequest{columns}` message, as the protobuf runtime would serialize it."""
    base = int(starts[0])
    deltas = np.diff(starts, prepend=np.int64(base))
    body = b"".join((
        _field_varint(1, duration),
        _field_packed(3, totals.astype(np.uint64, copy=False)),
        _field_packed(4, failed.astype(np.uint64, copy=False)),
        _field_varint(5, base & _U64_MASK),
        _field_packed(6, _zigzag(deltas)),
    ))
    return b"\x1a" + _varint(len(body)) + body


def _by_duration(durations: np.ndarray) -> Iterator[tuple[int, Any]]:
    if len(durations) == 0:
        return
    if np.all(durations == durations[0]):
        yield int(durations[0]), slice(None)
        return
    order = np.argsort(durations, kind="stable")
    sorted_durations = durations[order]
    cuts = np.flatnonzero(np.diff(sorted_durations)) + 1
    for rows in np.split(order, cuts):
        yield int(durations[rows[0]]), rows


def _seconds_since_epoch(values: Any) -> np.ndarray:
    series_tz = getattr(getattr(values, "dt", None), "tz", None)
    if series_tz is not None:  # a pandas time-zone-aware column
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError("start must be one-dimensional")
    if array.dtype.kind == "M":
        if np.isnat(array).any():
            raise ValueError(f"start has a missing time at row {int(np.flatnonzero(np.isnat(array))[0])}")
        seconds = array.astype("datetime64[s]")
        if (seconds != array).any():
            row = int(np.flatnonzero(seconds != array)[0])
            raise ValueError(f"row {row}: start {array[row]} is not on a whole second")
        return seconds.astype(np.int64)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    raise TypeError(f"start must be datetime64 or integer Unix seconds, not {array.dtype}")


def _counts(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if array.dtype.kind == "u":
        return array.astype(np.uint64, copy=False)
    if array.dtype.kind == "i":
        if len(array) and array.min() < 0:
            raise ValueError(f"row {int(np.argmin(array))}: {name} is negative")
        return array.astype(np.uint64)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array < 0) | (np.floor(array) != array)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"row {row}: {name} {array[row]} is not a whole number of at least 0")
        return array.astype(np.uint64)
    raise TypeError(f"{name} must hold integers, not {array.dtype}")


def _durations(values: Any, rows: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 0:
        array = np.full(rows, array)
    if array.dtype.kind == "m":
        seconds = array.astype("timedelta64[s]")
        if (seconds != array).any():
            raise ValueError("duration_seconds must be whole seconds")
        array = seconds.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(f"duration_seconds must hold integers, not {array.dtype}")
    if len(array) and (array.min() < 0 or array.max() > np.iinfo(np.uint32).max):
        raise ValueError("duration_seconds must be between 0 and 2^32 - 1")
    return array.astype(np.int64, copy=False)


def _zigzag(values: np.ndarray) -> np.ndarray:
    signed = values.astype(np.int64, copy=False)
    return ((signed << 1) ^ (signed >> 63)).view(np.uint64)


def _varint_lengths(values: np.ndarray) -> np.ndarray:
    lengths = np.ones(len(values), np.int64)
    rest = values >> np.uint64(7)
    while rest.any():
        lengths += rest != 0
        rest >>= np.uint64(7)
    return lengths


def _packed_varints(values: np.ndarray) -> bytes:
    """The concatenated varints of `values` (uint64), vectorised over the array."""
    if len(values) and values.max() < 0x80:
        return values.astype(np.uint8).tobytes()
    lengths = _varint_lengths(values)
    out = np.empty(int(lengths.sum()), np.uint8)
    position = np.cumsum(lengths) - lengths
    rest = values.copy()
    left = lengths
    while len(position):
        more = left > 1
        byte = (rest & np.uint64(0x7F)).astype(np.uint8)
        byte[more] |= 0x80
        out[position] = byte
        position, rest, left = position[more] + 1, rest[more] >> np.uint64(7), left[more] - 1
    return out.tobytes()


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


def _field_packed(number: int, values: np.ndarray) -> bytes:
    if not len(values):
        return b""
    payload = _packed_varints(values)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload
