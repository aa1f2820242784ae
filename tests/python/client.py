"""A second-language client: Python grpcio with stubs generated from proto/ as shipped.

Usage: client.py HOST:PORT PROTO_DIR. Generates the stubs into a temporary directory, runs one
evaluation and one classification, checks what it can and prints the results as JSON for the Rust
test to check again.
"""

import importlib.resources
import json
import sys
import tempfile

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_tools import protoc


def generate_stubs(proto_dir, out_dir):
    include = str(importlib.resources.files("grpc_tools") / "_proto")
    status = protoc.main([
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        "sla/v1/sla.proto",
    ])
    if status != 0:
        raise SystemExit(f"protoc failed with {status}")
    sys.path.insert(0, out_dir)
    from sla.v1 import sla_pb2, sla_pb2_grpc  # noqa: E402  (generated just above)

    return sla_pb2, sla_pb2_grpc


def at(text):
    stamp = Timestamp()
    stamp.FromJsonString(text)
    return stamp


def main(address, proto_dir):
    with tempfile.TemporaryDirectory() as out_dir:
        pb, rpc = generate_stubs(proto_dir, out_dir)
        with grpc.insecure_channel(address) as channel:
            stub = rpc.SlaEvaluatorStub(channel)

            # The contact center's worked example, fed as packed columns: 30 minutes at 98%
            # from 10:00 Shanghai time on 2019-03-12, and the rest of March measured and fine.
            march = at("2019-02-28T16:00:00Z").seconds
            bad_from = at("2019-03-12T02:00:00Z").seconds
            starts = [march + 60 * i for i in range(31 * 1440)]
            failed = [2 if bad_from <= s < bad_from + 1800 else 0 for s in starts]

            def stream():
                yield pb.EvaluateRequest(spec=pb.EvaluationSpec(
                    policy_id="tencent-ccc-intl", term_start="2019-03-01", term_end="2019-03-31",
                    currency="USD", fees=[pb.MonthlyFee(month_start="2019-03-01", paid="80.00")]))
                for first in range(0, len(starts), 10_000):
                    yield pb.EvaluateRequest(columns=pb.BucketColumns(
                        duration_seconds=60,
                        start_unix_seconds=starts[first:first + 10_000],
                        total=[100] * len(starts[first:first + 10_000]),
                        failed=failed[first:first + 10_000]))

            evaluation = stub.Evaluate(stream())
            month = evaluation.months[0]
            assert month.availability_percent == "99.9327", month
            # The same upload gzip-compressed, as grpcio sends it when asked to.
            compressed = stub.Evaluate(stream(), compression=grpc.Compression.Gzip)
            assert compressed.months == evaluation.months, compressed
            assert month.status == pb.MONTH_STATUS_MET, month

            verdicts = stub.ClassifyOutages(pb.ClassifyOutagesRequest(
                policy_id="tencent-sms",
                outages=[pb.Outage(
                    id="surge-1", start=at("2024-05-01T02:00:00Z"), end=at("2024-05-01T03:00:00Z"),
                    cause=pb.CAUSE_TRAFFIC_SURGE,
                    facts=pb.OutageFacts(
                        daily_messages=50_000_000,
                        customer_notice=pb.Notice(status=pb.NOTICE_STATUS_NOT_GIVEN)))]))
            verdict = verdicts.verdicts[0]

            try:
                stub.GetPolicy(pb.GetPolicyRequest(policy_id="tencent-nope"))
                not_found = None
            except grpc.RpcError as error:
                not_found = error.code().name

            print(json.dumps({
                "availability_percent": month.availability_percent,
                "bad_units": month.bad_units,
                "standard_met": month.standard_met,
                "verdict": pb.Verdict.Name(verdict.verdict),
                "clause_id": verdict.clause_id,
                "missing_facts": list(verdict.missing_facts),
                "get_unknown_policy": not_found,
            }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
