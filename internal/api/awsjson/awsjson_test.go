package awsjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/identity"
)

type echoInput struct {
	Name *string `json:"name"`
}

type echoOutput struct {
	Name  string   `json:"name"`
	Items []string `json:"items"`
	More  []string `json:"more,omitempty"`
}

var errFull = errors.New("storage full")

// testService has one operation, Echo, whose input name chooses what it
// does.
func testService(logs *bytes.Buffer) *Service {
	echo := func(ctx context.Context, c auth.Caller, in *echoInput) (*echoOutput, error) {
		if p, ok := identity.FromContext(ctx); !ok || p.Account != c.Principal.Account {
			return nil, errors.New("the principal is not in the context")
		}
		switch *in.Name {
		case "full":
			return nil, errFull
		case "bad":
			return nil, errors.New("secret cause")
		case "gone":
			return nil, context.Canceled
		}
		return &echoOutput{Name: *in.Name}, nil
	}
	check := func(in *echoInput) error {
		if in.Name == nil {
			return &Error{Type: "ValidationException", Message: "name is required", Status: http.StatusBadRequest}
		}
		return nil
	}
	return &Service{
		Name:    "Test",
		Targets: []Operations{{Prefix: "Test_1.", Ops: map[string]Op{"Echo": Operation(echo, check)}}},
		Errors: func(err error) *Error {
			var e *Error
			switch {
			case errors.As(err, &e):
				return e
			case errors.Is(err, errFull):
				return &Error{Type: "ServerException", Message: "storage is full", Status: http.StatusInternalServerError}
			}
			return nil
		},
		Fault:      Error{Type: "InternalException", Message: "internal server error"},
		EmptyLists: true,
		Log:        slog.New(slog.NewTextHandler(logs, nil)),
	}
}

// expectedRecorder notes whether an answer marked its 5xx as expected.
type expectedRecorder struct {
	*httptest.ResponseRecorder
	expected bool
}

func (r *expectedRecorder) ExpectedFailure() { r.expected = true }

func serve(s *Service, ctx context.Context, target, body string) *expectedRecorder {
	rec := &expectedRecorder{ResponseRecorder: httptest.NewRecorder()}
	r := httptest.NewRequest("POST", "/", nil).WithContext(ctx)
	s.Serve(rec, r, auth.Caller{Principal: identity.Root("123456789012"), Region: "us-east-1"}, target, []byte(body))
	return rec
}

func TestServe(t *testing.T) {
	var logs bytes.Buffer
	s := testService(&logs)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name, target, body string
		ctx                context.Context
		status             int
		exception, message string // message: a substring
		expected           bool
	}{
		{"an answer", "Test_1.Echo", `{"name":"x"}`, nil, 200, "", `{"name":"x","items":[]}`, false},
		{"an unknown operation", "Test_1.Nothing", `{}`, nil, 400, "UnknownOperationException", "The operation Test_1.Nothing is not known to this service.", false},
		{"another service's prefix", "Other.Echo", `{}`, nil, 400, "UnknownOperationException", "Other.Echo", false},
		{"a body that is not JSON", "Test_1.Echo", `{`, nil, 400, "SerializationException", "Malformed JSON", false},
		{"a failed check", "Test_1.Echo", `{}`, nil, 400, "ValidationException", "name is required", false},
		{"a service state", "Test_1.Echo", `{"name":"full"}`, nil, 500, "ServerException", "storage is full", true},
		{"a fault", "Test_1.Echo", `{"name":"bad"}`, nil, 500, "InternalException", "internal server error", false},
		{"a client that went away", "Test_1.Echo", `{"name":"gone"}`, gone, 499, "", "", false},
	} {
		ctx := c.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		rec := serve(s, ctx, c.target, c.body)
		if rec.Code != c.status || rec.expected != c.expected {
			t.Errorf("%s: %d (expected failure %v) %s", c.name, rec.Code, rec.expected, rec.Body)
			continue
		}
		if c.status == 499 {
			continue
		}
		if ct := rec.Header().Get("Content-Type"); ct != ContentType {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
		if c.exception == "" {
			if rec.Body.String() != c.message {
				t.Errorf("%s: %s", c.name, rec.Body)
			}
			continue
		}
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Type != c.exception || rec.Header().Get("X-Amzn-ErrorType") != c.exception || !strings.Contains(e.Message, c.message) {
			t.Errorf("%s: %v %v %s", c.name, err, rec.Header(), rec.Body)
		}
	}
	if strings.Contains(logs.String(), "storage full") || !strings.Contains(logs.String(), "secret cause") || !strings.Contains(logs.String(), "Test operation failed") {
		t.Errorf("only the fault is logged, with its cause: %s", logs.String())
	}
}

func TestUnknownOperationBoundsTheTarget(t *testing.T) {
	rec := httptest.NewRecorder()
	Writer{rec}.UnknownOperation(strings.Repeat("x", 200) + "\xff")
	if want := strings.Repeat("x", 128) + "... is not known"; !strings.Contains(rec.Body.String(), want) || rec.Code != 400 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	Writer{rec}.UnknownOperation("a\xffb")
	if !strings.Contains(rec.Body.String(), "a?b") {
		t.Fatalf("%s", rec.Body)
	}
}

func TestAuthError(t *testing.T) {
	for code, want := range map[auth.Code]struct {
		exception string
		status    int
	}{
		auth.CodeMissing:      {"MissingAuthenticationTokenException", 403},
		auth.CodeMalformed:    {"IncompleteSignatureException", 400},
		auth.CodeUnknownKey:   {"UnrecognizedClientException", 400},
		auth.CodeSignature:    {"InvalidSignatureException", 400},
		auth.CodeExpired:      {"InvalidSignatureException", 400},
		auth.CodeExpiredToken: {"ExpiredTokenException", 400},
	} {
		rec := httptest.NewRecorder()
		if !(Writer{rec}).AuthError(&auth.Error{Code: code, Message: "why"}) {
			t.Errorf("%v: not written", code)
			continue
		}
		if rec.Code != want.status || rec.Header().Get("X-Amzn-ErrorType") != want.exception || !strings.Contains(rec.Body.String(), `"message":"why"`) {
			t.Errorf("%v: %d %v %s", code, rec.Code, rec.Header(), rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	if (Writer{rec}).AuthError(&auth.Error{Code: auth.CodeInvalidPass, Message: "a registry password"}) || rec.Body.Len() != 0 {
		t.Errorf("a failure the protocol has no name for was answered: %s", rec.Body)
	}
}
