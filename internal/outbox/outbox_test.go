package outbox_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
	"github.com/ecrd/ecrd/internal/outbox"
)

var (
	ctx   = context.Background()
	scope = metadata.Scope{Account: "123456789012", Region: "us-east-1"}
	at    = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	repo  = "arn:aws:ecr:us-east-1:123456789012:repository/team/app"
)

func TestAPICallEnvelope(t *testing.T) {
	e, err := outbox.APICall(scope, at, outbox.SourceECR, outbox.Call{
		EventSource: "ecr.amazonaws.com", Action: "PutLifecyclePolicy",
		Actor:     outbox.Actor{Type: "IAMUser", PrincipalID: "AIDAEXAMPLE", ARN: "arn:aws:iam::123456789012:user/dev", AccountID: "123456789012", SourceIP: "10.0.0.7"},
		Params:    map[string]any{"repositoryName": "team/app"},
		Resources: []string{repo},
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.Source != "aws.ecr" || e.Type != outbox.TypeAPICall || e.Resource != repo || e.Scope != scope || !e.Time.Equal(at) {
		t.Errorf("record = %+v", e)
	}
	var env struct {
		outbox.Envelope
		Detail struct {
			EventName         string         `json:"eventName"`
			EventSource       string         `json:"eventSource"`
			SourceIPAddress   string         `json:"sourceIPAddress"`
			EventType         string         `json:"eventType"`
			UserIdentity      map[string]any `json:"userIdentity"`
			RequestParameters map[string]any `json:"requestParameters"`
			Resources         []map[string]string
		} `json:"detail"`
	}
	if err := json.Unmarshal(e.Document, &env); err != nil {
		t.Fatal(err)
	}
	d := env.Detail
	if env.Version != "0" || env.DetailType != "AWS API Call via CloudTrail" || env.Account != "123456789012" || env.Region != "us-east-1" ||
		env.Time != "2026-12-05T10:00:00Z" || len(env.ID) != 36 || len(env.Resources) != 1 || env.Resources[0] != repo {
		t.Errorf("envelope = %+v", env.Envelope)
	}
	if d.EventName != "PutLifecyclePolicy" || d.EventSource != "ecr.amazonaws.com" || d.SourceIPAddress != "10.0.0.7" || d.EventType != "AwsApiCall" ||
		d.UserIdentity["arn"] != "arn:aws:iam::123456789012:user/dev" || d.RequestParameters["repositoryName"] != "team/app" ||
		len(d.Resources) != 1 || d.Resources[0]["ARN"] != repo || d.Resources[0]["accountId"] != "123456789012" {
		t.Errorf("detail = %+v", d)
	}
	svc, _ := outbox.APICall(scope, at, outbox.SourceECR, outbox.Call{EventSource: "ecr.amazonaws.com", Action: "PolicyExecutionEvent", Actor: outbox.Service("ecr.amazonaws.com")})
	var s struct {
		Detail struct{ EventType string } `json:"detail"`
	}
	json.Unmarshal(svc.Document, &s)
	if s.Detail.EventType != "AwsServiceEvent" {
		t.Errorf("a service's change has eventType %q", s.Detail.EventType)
	}
}

func TestImageAction(t *testing.T) {
	e, err := outbox.ImageAction(scope, at, repo, "team/app", "sha256:abc", "PUSH", "v1")
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		outbox.Envelope
		Detail map[string]string `json:"detail"`
	}
	json.Unmarshal(e.Document, &env)
	want := map[string]string{"result": "SUCCESS", "repository-name": "team/app", "image-digest": "sha256:abc", "action-type": "PUSH", "image-tag": "v1"}
	if env.Source != "aws.ecr" || env.DetailType != "ECR Image Action" || len(env.Detail) != len(want) {
		t.Fatalf("event = %+v", env)
	}
	for k, v := range want {
		if env.Detail[k] != v {
			t.Errorf("detail %s = %q, want %q", k, env.Detail[k], v)
		}
	}
}

// TestFollowersOfOneDatabase: two followers of one database (two
// processes) see every event recorded after they started, in order,
// and none from before.
func TestFollowersOfOneDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ecrd.db")
	a, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	record := func(s metadata.Store, n int) {
		for i := range n {
			e, err := outbox.ImageAction(scope, at, repo, "team/app", "sha256:x", "PUSH", string(rune('a'+i)))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.AppendEvent(ctx, e) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	record(a, 3) // before the followers start: not theirs
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var seenA, seenB []int64
	fa, fb := outbox.NewFollower(a, 0, log), outbox.NewFollower(b, 0, log)
	fa.Subscribe(func(e metadata.Event) { seenA = append(seenA, e.ID) })
	fb.Subscribe(func(e metadata.Event) { seenB = append(seenB, e.ID) })
	for _, f := range []*outbox.Follower{fa, fb} {
		if err := f.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	record(a, 2)
	record(b, 600) // more than one batch
	for _, f := range []*outbox.Follower{fa, fb} {
		if err := f.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for name, seen := range map[string][]int64{"a": seenA, "b": seenB} {
		if len(seen) != 602 {
			t.Fatalf("follower %s saw %d events, want 602", name, len(seen))
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] <= seen[i-1] {
				t.Fatalf("follower %s saw event %d after %d", name, seen[i], seen[i-1])
			}
		}
	}
	if seenA[0] != 4 || fa.Last() != seenA[len(seenA)-1] {
		t.Errorf("follower a started at %d, last %d", seenA[0], fa.Last())
	}
}
