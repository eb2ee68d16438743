package awsquery

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/identity"
)

const testNS = "https://example.test/doc/2010-05-08/"

func TestResult(t *testing.T) {
	rec := httptest.NewRecorder()
	Writer{W: rec, XMLNS: testNS, RequestID: "req-1"}.Result("GetUser", struct{ User struct{ UserName string } }{struct{ UserName string }{"alice"}})
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<GetUserResponse xmlns="` + testNS + `"><GetUserResult><User><UserName>alice</UserName></User></GetUserResult>` +
		`<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetUserResponse>`
	if rec.Code != 200 || rec.Body.String() != want || rec.Header().Get("Content-Type") != "text/xml" {
		t.Fatalf("%d %v\n%s", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	Writer{W: rec, XMLNS: testNS, RequestID: "req-2"}.Result("DeleteUser", nil)
	if strings.Contains(rec.Body.String(), "Result") || !strings.Contains(rec.Body.String(), "<DeleteUserResponse") {
		t.Fatalf("an action without output: %s", rec.Body)
	}
}

func TestError(t *testing.T) {
	for status, kind := range map[int]string{400: "Sender", 404: "Sender", 500: "Receiver"} {
		rec := httptest.NewRecorder()
		Writer{W: rec, XMLNS: testNS, RequestID: "req-1"}.Error("Code", "a <message>", status)
		want := `<ErrorResponse xmlns="` + testNS + `"><Error><Type>` + kind + `</Type><Code>Code</Code>` +
			`<Message>a &lt;message&gt;</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`
		if rec.Code != status || !strings.HasSuffix(rec.Body.String(), want) {
			t.Errorf("%d: %d %s", status, rec.Code, rec.Body)
		}
	}
}

func TestStatus(t *testing.T) {
	for code, want := range map[string]int{
		identity.CodeNoSuchEntity: 404, identity.CodeEntityExists: 409, identity.CodeDeleteConflict: 409,
		identity.CodeLimitExceeded: 409, identity.CodeConcurrentModification: 409, identity.CodeAccessDenied: 403, identity.CodeValidation: 400,
		identity.CodeExpiredToken: 400, identity.CodeInvalidMessage: 400, identity.CodeIDPCommunication: 400,
		identity.CodeMalformedPolicy: 400, "Anything": 400,
	} {
		if got := Status(code); got != want {
			t.Errorf("%s: %d, want %d", code, got, want)
		}
	}
}

func TestAuthError(t *testing.T) {
	for code, want := range map[auth.Code]struct {
		code   string
		status int
	}{
		auth.CodeMissing:      {"MissingAuthenticationToken", 403},
		auth.CodeMalformed:    {"IncompleteSignature", 400},
		auth.CodeUnknownKey:   {"InvalidClientTokenId", 403},
		auth.CodeSignature:    {"SignatureDoesNotMatch", 403},
		auth.CodeExpired:      {"SignatureDoesNotMatch", 403},
		auth.CodeExpiredToken: {"ExpiredToken", 403},
	} {
		rec := httptest.NewRecorder()
		if !(Writer{W: rec, XMLNS: testNS, RequestID: "r"}).AuthError(&auth.Error{Code: code, Message: "why"}) {
			t.Errorf("%v: not written", code)
			continue
		}
		if rec.Code != want.status || !strings.Contains(rec.Body.String(), "<Code>"+want.code+"</Code><Message>why</Message>") {
			t.Errorf("%v: %d %s", code, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	if (Writer{W: rec, XMLNS: testNS, RequestID: "r"}).AuthError(&auth.Error{Code: auth.CodeInvalidPass, Message: "a registry password"}) || rec.Body.Len() != 0 {
		t.Errorf("a failure the protocol has no name for was answered: %s", rec.Body)
	}
}

func TestAnswer(t *testing.T) {
	var logs bytes.Buffer
	s := &Service{Name: "IAM", XMLNS: testNS, Fault: "ServiceFailure", Log: slog.New(slog.NewTextHandler(&logs, nil))}
	for _, c := range []struct {
		err    error
		status int
		want   string
	}{
		{nil, 200, "<GetUserResult><Name>x</Name></GetUserResult>"},
		{&awserr.Error{Code: identity.CodeNoSuchEntity, Message: "The user with name x cannot be found."}, 404,
			"<Code>NoSuchEntity</Code><Message>The user with name x cannot be found.</Message>"},
		{errors.New("secret cause"), 500, "<Type>Receiver</Type><Code>ServiceFailure</Code><Message>internal server error: the registry logged the cause</Message>"},
	} {
		rec := httptest.NewRecorder()
		s.Answer(s.Writer(rec, "req"), "GetUser", struct{ Name string }{"x"}, c.err)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.want) || strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("%v: %d %s", c.err, rec.Code, rec.Body)
		}
	}
	if !strings.Contains(logs.String(), "serving an IAM call") || !strings.Contains(logs.String(), "secret cause") {
		t.Errorf("the fault was not logged: %s", logs.String())
	}
	rec := httptest.NewRecorder()
	s.InvalidAction(s.Writer(rec, "req"), Form{url.Values{"Action": {"Nope"}, "Version": {"2010-05-08"}}})
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "<Code>InvalidAction</Code><Message>Could not find operation Nope for version 2010-05-08</Message>") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}

func TestForm(t *testing.T) {
	f := Form{url.Values{
		"UserName":                     {"alice"},
		"Empty":                        {""},
		"MaxItems":                     {"10"},
		"Bad":                          {"ten"},
		"TagKeys.member.1":             {"a"},
		"TagKeys.member.2":             {"b"},
		"TagKeys.member.4":             {"after a gap"},
		"Tags.member.1.Key":            {"k1"},
		"Tags.member.1.Value":          {"v1"},
		"Tags.member.2.Key":            {"k2"},
		"PolicyArns.member.1.arn":      {"arn:1"},
		"PolicyArns.member.2.arn":      {"arn:2"},
		"ContextEntries.member.1.Name": {"n"},
	}}
	if v, err := f.Required("UserName"); v != "alice" || err != nil {
		t.Errorf("Required: %q %v", v, err)
	}
	for _, name := range []string{"RoleName", "Empty"} {
		_, err := f.Required(name)
		var e *awserr.Error
		want := "1 validation error detected: Value null at '" + strings.ToLower(name[:1]) + name[1:] + "' failed to satisfy constraint: Member must not be null"
		if !errors.As(err, &e) || e.Code != identity.CodeValidation || e.Message != want {
			t.Errorf("Required(%s): %v", name, err)
		}
	}
	if n, ok, err := f.Int("MaxItems"); n != 10 || !ok || err != nil {
		t.Errorf("Int: %d %v %v", n, ok, err)
	}
	if n, ok, err := f.Int("Marker"); n != 0 || ok || err != nil {
		t.Errorf("Int of an absent parameter: %d %v %v", n, ok, err)
	}
	if _, _, err := f.Int("Bad"); err == nil || !strings.HasSuffix(err.Error(), "Value 'ten' at 'bad' failed to satisfy constraint: Member must be an integer") {
		t.Errorf("Int of a word: %v", err)
	}
	if got := f.Members("TagKeys"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Members: %q", got)
	}
	if got := f.Members("Nothing"); got != nil {
		t.Errorf("Members of an absent list: %q", got)
	}
	if got := f.MemberFields("PolicyArns", "arn"); !reflect.DeepEqual(got, []string{"arn:1", "arn:2"}) {
		t.Errorf("MemberFields: %q", got)
	}
	if got := f.Tags("Tags"); !reflect.DeepEqual(got, []identity.Tag{{Key: "k1", Value: "v1"}, {Key: "k2"}}) {
		t.Errorf("Tags: %+v", got)
	}
	if got := f.Tags("NoTags"); got != nil {
		t.Errorf("Tags of an absent list: %+v", got)
	}
}
