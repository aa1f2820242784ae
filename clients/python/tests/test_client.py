"""Tests of sla-evaluator-client against a real server.

tests/python_package.rs installs the package (`pip install ./clients/python`) into the tests' venv,
starts the servers and runs this file with pytest: SLA_TARGET names a server with default limits,
SLA_SHEDDING_TARGET one that runs a single call at a time (SLA_SHEDDING_METRICS its metrics URL),
and SLA_SERVICE_CONFIG the repository's clients/service-config.json. Without them the tests that
need them fail: nothing is skipped.
"""

import json
import os
import threading
import time
import urllib.request

import grpc
import numpy as np
import pandas as pd
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

import sla_client
from sla.v1 import sla_pb2 as pb

MARCH_2019_SHANGHAI = int(pd.Timestamp("2019-03-01", tz="Asia/Shanghai").timestamp())
BAD_FROM = int(pd.Timestamp("2019-03-12T10:00", tz="Asia/Shanghai").timestamp())
SPEC = {"policy_id": "tencent-ccc-intl", "term_start": "2019-03-01", "term_end": "2019-03-31",
        "currency": "USD", "fees": [{"month_start": "2019-03-01", "paid": "80.00"}],
        "as_of": "2019-04-01T00:00:00Z"}


def target(name="SLA_TARGET"):
    value = os.environ.get(name)
    assert value, f"{name} is not set: run this file through tests/python_package.rs"
    return value


def march():
    """The contact center's worked example: every minute of March 2019 measured, 100 calls each,
    and 30 minutes at 98% from 10:00 on the 12th."""
    starts = MARCH_2019_SHANGHAI + 60 * np.arange(31 * 1440, dtype=np.int64)
    failed = np.where((starts >= BAD_FROM) & (starts < BAD_FROM + 1800), 2, 0)
    return {"start": starts, "total": np.full(len(starts), 100, dtype=np.uint32), "failed": failed}


def ts(text):
    stamp = Timestamp()
    stamp.FromJsonString(text)
    return stamp


def readable(message_bytes):
    return pb.EvaluateRequest.FromString(message_bytes).columns


# --- the encoder, against the protobuf runtime -------------------------------------------------

@pytest.mark.parametrize("rows", [1, 2, 127, 128, 10_000, 25_001])
def test_encoded_columns_are_what_protobuf_encodes(rows):
    rng = np.random.default_rng(rows)
    # Starts in any order (negative deltas), counts across every varint length.
    starts = rng.integers(-2**40, 2**40, rows, dtype=np.int64)
    totals = rng.integers(0, 2**63, rows, dtype=np.uint64) >> rng.integers(0, 64, rows).astype(np.uint64)
    failed = totals >> np.uint64(3)
    messages = list(sla_client.column_messages(
        sla_client.columns(start=starts, total=totals, failed=failed, duration_seconds=300)))
    assert len(messages) == -(-rows // sla_client.ROWS_PER_MESSAGE)
    for index, message in enumerate(messages):
        rows_here = slice(index * 10_000, (index + 1) * 10_000)
        expected = pb.EvaluateRequest(columns=pb.BucketColumns(
            duration_seconds=300,
            start_base_unix_seconds=int(starts[rows_here][0]),
            start_delta_seconds=np.diff(starts[rows_here], prepend=starts[rows_here][0]).tolist(),
            total=totals[rows_here].tolist(),
            failed=failed[rows_here].tolist()))
        assert message == expected.SerializeToString()


def test_rows_of_each_duration_share_messages_in_their_order():
    cols = sla_client.columns(start=np.array([0, 60, 120, 300, 180]), total=[1, 2, 3, 4, 5],
                              failed=[0, 0, 0, 0, 0], duration_seconds=[60, 300, 60, 300, 60])
    sent = [readable(m) for m in sla_client.column_messages(cols, rows_per_message=2)]
    assert [(c.duration_seconds, list(c.total)) for c in sent] == [
        (60, [1, 3]), (60, [5]), (300, [2, 4])]
    assert [c.start_base_unix_seconds for c in sent] == [0, 180, 60]
    assert list(sent[2].start_delta_seconds) == [0, 240]


def test_a_dataframe_and_arrays_give_the_same_messages():
    data = march()
    frame = pd.DataFrame({
        "start": pd.to_datetime(data["start"], unit="s", utc=True).tz_convert("Asia/Shanghai"),
        "duration_seconds": pd.to_timedelta(60, unit="s"),
        "total": data["total"].astype(np.float64),
        "failed": data["failed"]})
    from_frame = list(sla_client.column_messages(sla_client.columns(frame)))
    from_arrays = list(sla_client.column_messages(sla_client.columns(data)))
    assert from_frame == from_arrays
    # Consecutive minutes cost one byte of start each.
    assert len(readable(from_arrays[0]).start_delta_seconds) == 10_000
    assert len(from_arrays[0]) < 10_000 * 4 + 100


@pytest.mark.parametrize("change, message", [
    ({"failed": [1, 5]}, "row 1: failed 5 exceeds total 4"),
    ({"total": [3.5, 4]}, "row 0: total 3.5 is not a whole number"),
    ({"total": [-1, 4]}, "row 0: total is negative"),
    ({"start": np.array(["2026-01-01T00:00:00.5", "2026-01-01T00:01"], dtype="datetime64[ms]")},
     "is not on a whole second"),
    ({"failed": [0]}, "columns differ in length"),
])
def test_bad_input_is_refused_before_sending(change, message):
    data = {"start": [0, 60], "total": [3, 4], "failed": [0, 1], **change}
    with pytest.raises(ValueError, match=message):
        sla_client.columns(data)


# --- against the server ------------------------------------------------------------------------

def test_evaluate_numpy_arrays():
    with sla_client.channel(target()) as channel:
        response = sla_client.evaluate(channel, SPEC, march())
    month = response.months[0]
    assert month.availability_percent == "99.9327"
    assert month.bad_units == 30
    assert month.status == pb.MONTH_STATUS_MET
    assert response.ingest.buckets_accepted == 31 * 1440
    # 44,640 rows in messages of 10,000.
    assert response.ingest.batches == 5


def test_evaluate_a_dataframe_with_outages_gives_the_same_answer():
    data = march()
    frame = pd.DataFrame({
        "start": pd.to_datetime(data["start"], unit="s", utc=True),
        "total": data["total"], "failed": data["failed"]})
    outage = {"id": "maint-1", "start": "2019-03-12T02:00:00Z", "end": "2019-03-12T02:30:00Z",
              "cause": "CAUSE_SCHEDULED_MAINTENANCE",
              "facts": {"provider_notice": {"status": "NOTICE_STATUS_GIVEN",
                                            "given_at": "2019-03-05T00:00:00Z"}}}
    with sla_client.channel(target()) as channel:
        plain = sla_client.evaluate(channel, SPEC, data)
        from_frame = sla_client.evaluate(channel, SPEC, frame)
        excused = sla_client.evaluate(channel, SPEC, frame, [outage], rows_per_message=4_096)
    assert from_frame == plain
    assert excused.ingest.batches == 11 and excused.ingest.outages == 1
    assert excused.outages[0].outage_id == "maint-1"
    assert excused.outages[0].verdict == pb.VERDICT_EXCLUDED
    assert excused.months[0].bad_units == 0 and excused.months[0].excluded_units == 30
    # The same inputs in another form: the same digest (docs/provenance.md).
    assert from_frame.provenance.input_digest == plain.provenance.input_digest


def test_a_refused_stream_raises_the_servers_status_at_once():
    data = march()
    data["failed"] = data["failed"].copy()
    data["failed"][17] = 101  # over its total: the client checks this, so bypass it
    cols = sla_client.Columns(data["start"], np.full(31 * 1440, 60), data["total"].astype(np.uint64),
                              data["failed"].astype(np.uint64))
    started = time.monotonic()
    with sla_client.channel(target()) as channel, pytest.raises(grpc.RpcError) as refused:
        sla_client.evaluate(channel, SPEC, cols)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "failed 101 exceeds total 100" in refused.value.details()
    assert time.monotonic() - started < 5, "INVALID_ARGUMENT is not retried"


def test_expected_buckets_guards_the_upload():
    spec = dict(SPEC, expected_buckets=31 * 1440 + 1)
    with sla_client.channel(target()) as channel, pytest.raises(grpc.RpcError) as refused:
        sla_client.evaluate(channel, spec, march())
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_the_stubs_serve_the_unary_calls():
    with sla_client.channel(target()) as channel:
        stub = sla_client.stub(channel)
        policies = stub.ListPolicies(pb.ListPoliciesRequest())
        verdicts = stub.ClassifyOutages(pb.ClassifyOutagesRequest(
            policy_id="tencent-sms",
            outages=[pb.Outage(id="surge-1", cause=pb.CAUSE_TRAFFIC_SURGE,
                               start=ts("2024-05-01T02:00:00Z"), end=ts("2024-05-01T03:00:00Z"))]))
    assert "tencent-trtc" in [p.id for p in policies.policies]
    assert verdicts.verdicts[0].verdict == pb.VERDICT_NEEDS_REVIEW


# --- the service config ------------------------------------------------------------------------

def test_the_service_config_is_the_shipped_one():
    config = sla_client.service_config()
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    policy = config["methodConfig"][0]["retryPolicy"]
    assert sorted(policy["retryableStatusCodes"]) == ["RESOURCE_EXHAUSTED", "UNAVAILABLE"]
    shipped = os.environ.get("SLA_SERVICE_CONFIG")
    assert shipped, "SLA_SERVICE_CONFIG is not set: run this file through tests/python_package.rs"
    with open(shipped, encoding="utf-8") as file:
        assert json.load(file) == config


def shed_calls():
    """sla_shed_calls_total of the shedding server, summed over methods."""
    url = os.environ.get("SLA_SHEDDING_METRICS")
    assert url, "SLA_SHEDDING_METRICS is not set: run this file through tests/python_package.rs"
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("sla_shed_calls_total"))


def classify_while_the_only_slot_is_held(channel_options):
    """Holds the shedding server's one call slot with an open Evaluate stream, sends a
    ClassifyOutages, frees the slot as soon as the server has shed that call once, and returns the
    ClassifyOutages outcome: the server shed it, so OK means a retry answered."""
    release = threading.Event()

    def held_stream():
        yield pb.EvaluateRequest(spec=pb.EvaluationSpec(
            policy_id="tencent-trtc", term_start="2019-03-01", term_end="2019-03-31"))
        release.wait(20)

    address = target("SLA_SHEDDING_TARGET")
    with grpc.insecure_channel(address) as holder_channel, \
            grpc.insecure_channel(address, options=channel_options) as channel:
        holder = sla_client.stub(holder_channel).Evaluate.future(held_stream())
        grpc.channel_ready_future(channel).result(timeout=10)
        shed_before = shed_calls()
        time.sleep(0.2)  # the held stream has taken the slot
        call = sla_client.stub(channel).ClassifyOutages.future(
            pb.ClassifyOutagesRequest(policy_id="tencent-sms"), timeout=20)
        deadline = time.monotonic() + 10
        while shed_calls() == shed_before and time.monotonic() < deadline:
            time.sleep(0.002)
        assert shed_calls() > shed_before, "the server never shed the call"
        release.set()
        holder.result(timeout=20)
        try:
            call.result()
            return "OK"
        except grpc.RpcError as error:
            return error.code().name


def test_without_the_service_config_a_shed_call_fails():
    assert classify_while_the_only_slot_is_held([]) == "RESOURCE_EXHAUSTED"


def test_with_the_service_config_a_shed_call_is_retried_and_succeeds():
    options = [("grpc.service_config", sla_client.SERVICE_CONFIG), ("grpc.enable_retries", 1)]
    assert classify_while_the_only_slot_is_held(options) == "OK"
