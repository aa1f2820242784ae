"""Python client for sla-evaluator's gRPC API, `sla.v1.SlaEvaluator`.

The generated stubs are `sla.v1.sla_pb2` (messages) and `sla.v1.sla_pb2_grpc` (the stub). This
module adds what most callers need on top:

    import sla_client
    from sla.v1 import sla_pb2 as pb

    with sla_client.channel("localhost:50051") as channel:
        response = sla_client.evaluate(
            channel,
            {"policy_id": "tencent-trtc", "term_start": "2026-03-01", "term_end": "2026-03-31"},
            dataframe,  # columns start, total, failed (and optionally duration_seconds)
        )
    print(response.months[0].availability_percent)

`evaluate` streams the spec, then the buckets as delta-encoded `BucketColumns` of about 10,000
rows a message, then the outages, and returns the `EvaluateResponse`.
"""

from __future__ import annotations

import importlib.resources
import json
import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import grpc
from google.protobuf import json_format

from sla.v1 import sla_pb2 as pb
from sla.v1 import sla_pb2_grpc

from ._columns import ROWS_PER_MESSAGE, Columns, column_messages, columns, encode_columns

__all__ = [
    "ROWS_PER_MESSAGE",
    "Columns",
    "SERVICE_CONFIG",
    "channel",
    "column_messages",
    "columns",
    "encode_columns",
    "evaluate",
    "evaluate_requests",
    "service_config",
    "stub",
]

#: The gRPC service config shipped with the server (clients/service-config.json): round_robin over
#: every address the target resolves to, a 300 s deadline like the server's --call-timeout, and
#: retries of UNAVAILABLE and RESOURCE_EXHAUSTED with exponential backoff.
SERVICE_CONFIG: str = (
    importlib.resources.files(__name__).joinpath("service_config.json").read_text("utf-8"))

_EVALUATE = "/sla.v1.SlaEvaluator/Evaluate"
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)


def channel(target: str, credentials: grpc.ChannelCredentials | None = None,
            options: Sequence[tuple[str, Any]] = ()) -> grpc.Channel:
    """A channel to `target` (e.g. "dns:///sla-evaluator-headless:50051") with the shipped service
    config; plaintext unless `credentials` are given. `options` are added last, so they win."""
    merged = [("grpc.service_config", SERVICE_CONFIG), ("grpc.enable_retries", 1), *options]
    if credentials is None:
        return grpc.insecure_channel(target, options=merged)
    return grpc.secure_channel(target, credentials, options=merged)


def stub(chan: grpc.Channel) -> sla_pb2_grpc.SlaEvaluatorStub:
    """The generated stub, for ListPolicies, GetPolicy and ClassifyOutages."""
    return sla_pb2_grpc.SlaEvaluatorStub(chan)


def evaluate_requests(spec: pb.EvaluationSpec | Mapping[str, Any], buckets: Any = None,
                      outages: Iterable[pb.Outage | Mapping[str, Any]] = (), *,
                      rows_per_message: int = ROWS_PER_MESSAGE) -> Iterator[bytes]:
    """The serialized messages of one Evaluate stream: the spec, the buckets as columns, the
    outages. `spec.expected_buckets` is set to the rows sent unless the spec sets it, so that a
    stream cut short is refused rather than evaluated."""
    spec = _message(spec, pb.EvaluationSpec)
    cols = _as_columns(buckets)
    if not spec.HasField("expected_buckets"):
        spec.expected_buckets = len(cols) if cols is not None else 0
    yield pb.EvaluateRequest(spec=spec).SerializeToString()
    if cols is not None:
        yield from column_messages(cols, rows_per_message)
    for outage in outages:
        yield pb.EvaluateRequest(outage=_message(outage, pb.Outage)).SerializeToString()


def evaluate(chan: grpc.Channel, spec: pb.EvaluationSpec | Mapping[str, Any], buckets: Any = None,
             outages: Iterable[pb.Outage | Mapping[str, Any]] = (), *,
             rows_per_message: int = ROWS_PER_MESSAGE, timeout: float | None = None,
             metadata: Sequence[tuple[str, str]] | None = None,
             compression: grpc.Compression | None = None, attempts: int = 3,
             max_backoff: float = 5.0) -> pb.EvaluateResponse:
    """Evaluates `buckets` under `spec` with `outages`, and returns the response.

    `spec` and each outage are messages or dicts with the proto's field names. `buckets` is a
    pandas DataFrame or a mapping of numpy arrays with `start`, `total`, `failed` and optionally
    `duration_seconds` (see `columns`), or a `Columns`.

    Evaluate is a pure function of its inputs, so a call that ends UNAVAILABLE or
    RESOURCE_EXHAUSTED is sent again whole, up to `attempts` times with exponential backoff:
    gRPC's own retries (the service config) can replay only the first part of a long stream. Any
    other error is raised at once as `grpc.RpcError`.
    """
    call = chan.stream_unary(_EVALUATE, request_serializer=_as_is,
                             response_deserializer=pb.EvaluateResponse.FromString)
    spec = _message(spec, pb.EvaluationSpec)
    cols = _as_columns(buckets)
    outages = [_message(outage, pb.Outage) for outage in outages]
    for attempt in range(1, attempts + 1):
        try:
            return call(evaluate_requests(spec, cols, outages, rows_per_message=rows_per_message),
                        timeout=timeout, metadata=metadata, compression=compression)
        except grpc.RpcError as error:
            if attempt == attempts or error.code() not in _RETRYABLE:
                raise
            time.sleep(random.uniform(0, min(max_backoff, 0.1 * 2 ** (attempt - 1))))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _as_columns(buckets: Any) -> Columns | None:
    if buckets is None or isinstance(buckets, Columns):
        return buckets
    return columns(buckets)


def _message(value: Any, kind: type) -> Any:
    if isinstance(value, kind):
        copy = kind()
        copy.CopyFrom(value)
        return copy
    if isinstance(value, Mapping):
        return json_format.ParseDict(value, kind())
    raise TypeError(f"expected {kind.__name__} or a dict, not {type(value)!r}")


def _as_is(message: bytes) -> bytes:
    return message


def service_config() -> dict[str, Any]:
    """SERVICE_CONFIG, parsed."""
    return json.loads(SERVICE_CONFIG)
