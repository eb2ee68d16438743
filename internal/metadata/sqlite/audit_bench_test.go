package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
)

// BenchmarkAppendAuditEvents writes the audit trail's batches as its
// writer does under load (hundreds of records of reads a transaction,
// without waiting for the disk), with documents of a pull's size. It
// reports the cost per record: the trail writes one per request.
//
//	go test ./internal/metadata/sqlite -run '^$' -bench AppendAuditEvents
func BenchmarkAppendAuditEvents(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 400
	doc := []byte(`{"eventVersion":"1.08",` + strings.Repeat(`"x":"0123456789abcdef0123456789abcdef",`, 20) + `"eventCategory":"Management"}`)
	scope := metadata.Scope{Account: "123456789012", Region: "us-east-1"}
	start := time.Now()
	n := 0
	events := make([]metadata.AuditEvent, batch)
	for b.Loop() {
		for i := range events {
			n++
			events[i] = metadata.AuditEvent{
				ID: fmt.Sprintf("01a246a2-bc96-7ef1-80dd-%012d", n), Scope: scope, Time: start.Add(time.Duration(n) * time.Microsecond),
				Name: "BatchGetImage", Source: "ecr.amazonaws.com", Username: "ci", AccessKeyID: "AKIAEXAMPLE000000001", ReadOnly: true,
				ResourceType: "AWS::ECR::Repository", ResourceName: "team/app", Document: doc,
			}
		}
		if err := s.UpdateNoSync(ctx, func(tx metadata.Tx) error { return tx.AppendAuditEvents(ctx, events) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
}
