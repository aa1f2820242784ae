"""An independent verifier of sla-evaluator's signed statements, written from docs/statements.md
with Python's `cryptography` and `protobuf` packages: nothing of sla-evaluator's own code.

Usage: verify_statement.py RESPONSE.json PUBLIC_KEY.pem PROTO_DIR

RESPONSE.json is a saved EvaluateResponse in protobuf's JSON mapping. Exits 0 printing
"verified <keyid>" when the key signed the statement and the response is the one signed;
otherwise exits 1 saying why.
"""

import base64
import hashlib
import importlib.resources
import json
import sys
import tempfile

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)
from google.protobuf import json_format
from grpc_tools import protoc

PAYLOAD_TYPE = "application/vnd.sla.v1.EvaluateResponse+protobuf"


def pae(payload_type, payload):
    """DSSE's pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def stubs(proto_dir):
    out = tempfile.mkdtemp()
    include = str(importlib.resources.files("grpc_tools") / "_proto")
    if protoc.main(["protoc", f"-I{proto_dir}", f"-I{include}", f"--python_out={out}", "sla/v1/sla.proto"]):
        sys.exit("protoc failed")
    sys.path.insert(0, out)
    from sla.v1 import sla_pb2  # noqa: E402  (generated just above)

    return sla_pb2


def fail(reason):
    print("NOT VERIFIED: " + reason)
    sys.exit(1)


def main(response_path, key_path, proto_dir):
    with open(response_path) as file:
        response = json.load(file)
    envelope = response.pop("statement", None)
    if envelope is None:
        fail("the response carries no statement")
    with open(key_path, "rb") as file:
        key = load_pem_public_key(file.read())
    der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    keyid = "sha256:" + hashlib.sha256(der).hexdigest()

    payload_type = envelope["payloadType"]
    payload = base64.b64decode(envelope["payload"])
    if payload_type != PAYLOAD_TYPE:
        fail("payload type " + payload_type)
    signatures = [s for s in envelope["signatures"] if s["keyid"] == keyid]
    if not signatures:
        fail("no signature by key " + keyid)
    for signature in signatures:
        try:
            key.verify(base64.b64decode(signature["sig"]), pae(payload_type, payload))
        except InvalidSignature:
            fail("the signature of " + keyid + " does not match the payload")

    # The payload is the response itself, every field but `statement`: decode it and compare.
    sla_pb2 = stubs(proto_dir)
    signed = sla_pb2.EvaluateResponse()
    signed.ParseFromString(payload)
    given = json_format.Parse(json.dumps(response), sla_pb2.EvaluateResponse())
    if signed != given:
        fail("the response is not the one signed")
    print("verified " + keyid)


if __name__ == "__main__":
    main(*sys.argv[1:])
