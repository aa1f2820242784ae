// Uses the TypeScript stubs buf.gen.yaml generates (tests/codegen.rs type-checks this file with
// tsc, runs it with node and decodes what it prints with the server's own message types).
import { create, toBinary } from "@bufbuild/protobuf";
import { EvaluateRequestSchema, SlaEvaluator } from "./sla/v1/sla_pb.js";

const request = create(EvaluateRequestSchema, {
  item: {
    case: "columns",
    value: {
      durationSeconds: 300,
      startBaseUnixSeconds: 1552356000n,
      startDeltaSeconds: [0n, 300n, -600n],
      total: [100n, 100n, 7n],
      failed: [2n, 0n, 7n],
    },
  },
});

console.log(
  JSON.stringify({
    request_hex: Array.from(toBinary(EvaluateRequestSchema, request), (b) =>
      b.toString(16).padStart(2, "0"),
    ).join(""),
    service: SlaEvaluator.typeName,
    methods: Object.values(SlaEvaluator.method).map((m) => `${m.name}:${m.methodKind}`),
  }),
);
