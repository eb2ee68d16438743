package outbox

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// records are records of the shapes the trail writes, with the values
// that encoding/json escapes.
func records(s string, n float64) []Record {
	scope := metadata.Scope{Account: "123456789012", Region: "us-east-1"}
	at := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
	actor := Actor{Type: "IAMUser", PrincipalID: "AIDA" + s, ARN: "arn:aws:iam::123456789012:user/" + s, AccountID: "123456789012",
		AccessKeyID: "AKIA" + s, UserName: s, SourceIP: "127.0.0.1", UserAgent: s, RequestID: s}
	role := actor
	role.Type, role.UserName = "AssumedRole", ""
	role.SessionContext = &SessionContext{SessionIssuer: &SessionIssuer{Type: "Role", ARN: s},
		WebIDFederationData: &WebIDFederation{FederatedProvider: s, Attributes: map[string]string{s: s, "b": "c"}},
		Attributes:          SessionAttributes{CreationDate: s, MFAAuthenticated: "false"}}
	return []Record{
		NewRecord(scope, at, Call{EventSource: "ecr.amazonaws.com", Action: "BatchGetImage", Actor: actor, ReadOnly: true,
			Params: map[string]any{"registryId": "123456789012", "repositoryName": s,
				"imageIds": []map[string]string{{"imageTag": s}}},
			Resources: []string{"arn:aws:ecr:us-east-1:123456789012:repository/" + s}}),
		NewRecord(scope, at, Call{EventSource: "ecr.amazonaws.com", Action: "PutImage", Actor: role, ErrorCode: s, ErrorMessage: s,
			Params: map[string]any{"layerDigests": []string{s, ""}, "n": n, "i": 7, "i64": int64(-3), "nil": nil, "t": true,
				"nested":   map[string]any{s: []any{s, 1.5, false, nil, map[string]any{}}, "empty": []any{}},
				"nilSlice": []string(nil), "nilMaps": []map[string]string{nil}, "strMap": map[string]string{s: s}},
			Response:  map[string]any{"image": map[string]any{"imageId": map[string]any{"imageDigest": s}}},
			Resources: []string{s, "arn:aws:iam::123456789012:role/x"}}),
		NewRecord(scope, at, Call{EventSource: "iam.amazonaws.com", Action: s, Actor: Service(s)}),
		{},
	}
}

func checkSame(t *testing.T, rec Record) {
	t.Helper()
	want, wantErr := json.Marshal(rec)
	got, err := rec.AppendJSON(nil)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("AppendJSON error %v, json.Marshal error %v", err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON wrote\n%s\njson.Marshal writes\n%s", got, want)
	}
}

func TestAppendJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " back \ slash`, "<script>&amp;</script>", "ctl \x00\x01\b\f\n\r\t\x1f\x7f",
		"bad utf-8 \xff\xfe", "line\u2028para\u2029", "ünïcödé ✓ 🚀", "\xed\xa0\x80 surrogate"} {
		for _, n := range []float64{0, 1, -2.5, 1e21, 1e-7, 123456789} {
			for _, rec := range records(s, n) {
				checkSame(t, rec)
			}
		}
	}
}

func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{"", "a<b>&c", "\xff", "\u2028", "\x00\x1f\"\\"} {
		f.Add(s, 1.0)
	}
	f.Fuzz(func(t *testing.T, s string, n float64) {
		for _, rec := range records(s, n) {
			checkSame(t, rec)
		}
	})
}

func BenchmarkRecordJSON(b *testing.B) {
	rec := records("ci-user", 1)[0]
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = rec.AppendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(rec)
		}
	})
}
