// A Go client built from the stubs buf.gen.yaml generates (tests/codegen.rs compiles and runs it
// against a real server). Usage: client HOST:PORT. Prints one JSON object for the test to check.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"

	slav1 "sla-evaluator/gen/go/sla/v1"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, os.Args[1], grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fail("dial", err)
	}
	defer conn.Close()
	client := slav1.NewSlaEvaluatorClient(conn)

	policies, err := client.ListPolicies(ctx, &slav1.ListPoliciesRequest{})
	if err != nil {
		fail("ListPolicies", err)
	}

	// TRTC's worked example: six 5-minute units at 98% from 2019-03-12 10:00 Shanghai time, as
	// delta-encoded columns.
	stream, err := client.Evaluate(ctx)
	if err != nil {
		fail("Evaluate", err)
	}
	requests := []*slav1.EvaluateRequest{
		{Item: &slav1.EvaluateRequest_Spec{Spec: &slav1.EvaluationSpec{
			PolicyId: "tencent-trtc", TermStart: "2019-03-01", TermEnd: "2019-03-31",
		}}},
		{Item: &slav1.EvaluateRequest_Columns{Columns: &slav1.BucketColumns{
			DurationSeconds:      300,
			StartBaseUnixSeconds: 1552356000,
			StartDeltaSeconds:    []int64{0, 300, 300, 300, 300, 300},
			Total:                []uint64{100, 100, 100, 100, 100, 100},
			Failed:               []uint64{2, 2, 2, 2, 2, 2},
		}}},
	}
	for _, request := range requests {
		if err := stream.Send(request); err != nil {
			fail("Send", err)
		}
	}
	evaluation, err := stream.CloseAndRecv()
	if err != nil {
		fail("CloseAndRecv", err)
	}
	month := evaluation.GetMonths()[0]
	out, _ := json.Marshal(map[string]interface{}{
		"policies":             len(policies.GetPolicies()),
		"availability_percent": month.GetAvailabilityPercent(),
		"bad_units":            month.GetBadUnits(),
		"buckets_accepted":     evaluation.GetIngest().GetBucketsAccepted(),
	})
	fmt.Println(string(out))
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	os.Exit(1)
}
