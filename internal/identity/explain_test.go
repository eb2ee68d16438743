package identity

import (
	"strings"
	"testing"

	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/metadata"
)

func TestParsePrincipalARN(t *testing.T) {
	for _, tc := range []struct {
		arn  string
		want principalARN
		ok   bool
	}{
		{"arn:aws:iam::123456789012:root", principalARN{acct, TypeRoot, ""}, true},
		{"arn:aws:iam::123456789012:user/dev", principalARN{acct, metadata.IAMUser, "dev"}, true},
		{"arn:aws:iam::123456789012:user/team/a/dev", principalARN{acct, metadata.IAMUser, "dev"}, true},
		{"arn:aws:iam::123456789012:role/ci", principalARN{acct, metadata.IAMRole, "ci"}, true},
		{"arn:aws:iam::123456789012:role/svc/ci", principalARN{acct, metadata.IAMRole, "ci"}, true},
		{"arn:aws:iam::123456789012:user/", principalARN{}, false},
		{"arn:aws:iam::123456789012:group/devs", principalARN{}, false},
		{"arn:aws:iam::123456789012:policy/p", principalARN{}, false},
		{"arn:aws:sts::123456789012:assumed-role/ci/run", principalARN{}, false},
		{"arn:aws:iam:us-east-1:123456789012:root", principalARN{}, false},
		{"arn:aws:iam::12345:root", principalARN{}, false},
		{"arn:aws:ecr:us-east-1:123456789012:repository/app", principalARN{}, false},
		{"123456789012", principalARN{}, false},
		{"", principalARN{}, false},
	} {
		got, ok := parsePrincipalARN(tc.arn)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parsePrincipalARN(%q) = %+v, %v; want %+v, %v", tc.arn, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPrincipalARNSelf(t *testing.T) {
	user := Principal{Account: acct, ARN: "arn:aws:iam::" + acct + ":user/team/Dev", Type: TypeUser, Name: "Dev"}
	sess := (&Session{Account: acct, Role: "ci", RoleARN: "arn:aws:iam::" + acct + ":role/ci", Name: "run"}).Principal()
	for _, tc := range []struct {
		arn  string
		p    Principal
		self bool
	}{
		{"arn:aws:iam::123456789012:root", Root(acct), true},
		{"arn:aws:iam::210987654321:root", Root(acct), false},
		{"arn:aws:iam::123456789012:user/dev", user, true}, // names are case-insensitive, the path is not needed
		{"arn:aws:iam::123456789012:user/ops", user, false},
		{"arn:aws:iam::210987654321:user/dev", user, false},
		{"arn:aws:iam::123456789012:root", user, false},
		{"arn:aws:iam::123456789012:role/ci", sess, true}, // a role session asks about its role
		{"arn:aws:iam::123456789012:role/cd", sess, false},
		{"arn:aws:iam::123456789012:user/ci", sess, false},
		{"arn:aws:iam::123456789012:role/Dev", user, false},
	} {
		w, ok := parsePrincipalARN(tc.arn)
		if !ok {
			t.Fatalf("parsePrincipalARN(%q) failed", tc.arn)
		}
		if got := w.self(tc.p); got != tc.self {
			t.Errorf("%s self of %s = %v, want %v", tc.arn, tc.p.ARN, got, tc.self)
		}
	}
}

func TestStatementText(t *testing.T) {
	list := `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"ecr:*","Resource":"*"},{"Effect":"Deny","Action":"ecr:PutImage","Resource":"*"}]}`
	single := `{"Version":"2012-10-17","Statement":{"Sid":"Only","Effect":"Allow","Action":"s3:*","Resource":"*"}}`
	for _, tc := range []struct {
		doc   string
		index int
		sid   string
		want  string
		ok    bool
	}{
		{list, 1, "A", "{\n  \"Sid\": \"A\",\n  \"Effect\": \"Allow\",\n  \"Action\": \"ecr:*\",\n  \"Resource\": \"*\"\n}", true},
		{list, 2, "", "{\n  \"Effect\": \"Deny\",\n  \"Action\": \"ecr:PutImage\",\n  \"Resource\": \"*\"\n}", true},
		{list, 1, "B", "", false}, // another statement than the decision named
		{list, 2, "A", "", false},
		{list, 0, "", "", false},
		{list, 3, "", "", false},
		{single, 1, "Only", "{\n  \"Sid\": \"Only\",\n  \"Effect\": \"Allow\",\n  \"Action\": \"s3:*\",\n  \"Resource\": \"*\"\n}", true},
		{single, 2, "", "", false},
		{`{"Version":"2012-10-17"}`, 1, "", "", false},
		{`not json`, 1, "", "", false},
		{`{"Statement":[1]}`, 1, "", "", false},
	} {
		got, ok := StatementText(tc.doc, tc.index, tc.sid)
		if got != tc.want || ok != tc.ok {
			t.Errorf("StatementText(%.40q, %d, %q) = %q, %v; want %q, %v", tc.doc, tc.index, tc.sid, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzStatementText(f *testing.F) {
	f.Add(`{"Statement":[{"Sid":"A","Effect":"Allow"}]}`, 1, "A")
	f.Add(`{"Statement":{"Effect":"Deny"}}`, 1, "")
	f.Add(`{"Statement":[]}`, -1, "")
	f.Add(`{"Statement":"x"}`, 1, "")
	f.Fuzz(func(t *testing.T, doc string, index int, sid string) {
		text, ok := StatementText(doc, index, sid)
		if ok != (text != "") {
			t.Fatalf("ok %v with text %q", ok, text)
		}
	})
}

func TestPlainDenial(t *testing.T) {
	msg := "User: x is not authorized to perform: ecr:PutImage on resource: * because no identity-based policy allows the ecr:PutImage action"
	if got := PlainDenial(msg + encodedPrefix + "abc"); got != msg {
		t.Fatalf("PlainDenial = %q", got)
	}
	if got := PlainDenial(msg); got != msg {
		t.Fatalf("PlainDenial of a message without its encoded part = %q", got)
	}
}

// TestSubject: who may ask what a principal may do, and whom a question
// is about.
func TestSubject(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	mk := func(name string) Principal {
		t.Helper()
		u, err := s.CreateUser(rc, UserInput{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return u.principal(acct)
	}
	dev, ops := mk("dev"), mk("ops")
	if _, err := s.CreateRole(rc, RoleInput{Name: "ci", TrustPolicy: trustAccount(acct)}); err != nil {
		t.Fatal(err)
	}
	devCtx := NewContext(ctx, dev)

	// Any principal may ask about itself, and gets its own principal.
	if p, ok, err := s.Subject(devCtx, "arn:aws:iam::"+acct+":user/dev", acct); err != nil || !ok || p.ARN != dev.ARN {
		t.Fatalf("dev about itself = %+v, %v, %v", p, ok, err)
	}
	// Not about another, nor about anonymous callers, without
	// iam:SimulatePrincipalPolicy; the refusal comes before existence.
	for _, arn := range []string{ops.ARN, "arn:aws:iam::" + acct + ":user/ghost", "*"} {
		_, _, err := s.Subject(devCtx, arn, acct)
		wantIAMError(t, "dev about "+arn, err, CodeAccessDenied, "is not authorized to perform: iam:SimulatePrincipalPolicy")
	}
	if _, _, err := s.Subject(ctx, ops.ARN, acct); err == nil {
		t.Fatal("an anonymous caller asked about a user")
	}
	_, _, err := s.Subject(devCtx, "arn:aws:iam::"+acct+":group/devs", acct)
	wantIAMError(t, "a group", err, CodeInvalidInput, "Invalid principal ARN")

	if err := s.PutInlinePolicy(rc, Grantee{Kind: metadata.IAMUser, Name: "dev"}, "simulate",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:SimulatePrincipalPolicy","Resource":["arn:aws:iam::`+acct+`:user/ops","arn:aws:iam::`+acct+`:role/*","*"]}]}`); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := s.Subject(devCtx, ops.ARN, acct); err != nil || !ok || p.ARN != ops.ARN || p.Type != TypeUser {
		t.Fatalf("dev about ops, with the permission = %+v, %v, %v", p, ok, err)
	}
	if p, ok, err := s.Subject(devCtx, "*", acct); err != nil || ok || p.ARN != "" {
		t.Fatalf("dev about anonymous callers = %+v, %v, %v", p, ok, err)
	}
	p, ok, err := s.Subject(devCtx, "arn:aws:iam::"+acct+":role/ci", acct)
	if err != nil || !ok || p.ARN != "arn:aws:sts::"+acct+":assumed-role/ci/simulated" || p.Session == nil || p.Session.RoleARN != "arn:aws:iam::"+acct+":role/ci" {
		t.Fatalf("dev about a role = %+v, %v, %v", p, ok, err)
	}
	_, _, err = s.Subject(devCtx, "arn:aws:iam::"+acct+":role/ghost", acct)
	wantIAMError(t, "a missing role", err, CodeNoSuchEntity, "The role with name ghost cannot be found.")
	_, _, err = s.Subject(rc, "arn:aws:iam::"+acct+":user/ghost", acct)
	wantIAMError(t, "a missing user", err, CodeNoSuchEntity, "The user with name ghost cannot be found.")
	// A permission on a path does not reach a user elsewhere whose name
	// an ARN under that path ends with, nor another spelling of its name.
	if _, err := s.CreateUser(rc, UserInput{Name: "admin"}); err != nil {
		t.Fatal(err)
	}
	intern := NewContext(ctx, mk("intern"))
	if err := s.PutInlinePolicy(rc, Grantee{Kind: metadata.IAMUser, Name: "intern"}, "simulate",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:SimulatePrincipalPolicy","Resource":["arn:aws:iam::`+acct+`:user/interns/*","arn:aws:iam::`+acct+`:user/ADMIN"]}]}`); err != nil {
		t.Fatal(err)
	}
	for _, arn := range []string{"arn:aws:iam::" + acct + ":user/interns/admin", "arn:aws:iam::" + acct + ":user/ADMIN"} {
		_, _, err := s.Subject(intern, arn, acct)
		wantIAMError(t, "intern about "+arn, err, CodeNoSuchEntity, "The user with name")
	}
	_, _, err = s.Subject(intern, "arn:aws:iam::"+acct+":user/admin", acct)
	wantIAMError(t, "intern about admin", err, CodeAccessDenied, "iam:SimulatePrincipalPolicy")

	// Another account's principals are another account's to explain: the
	// permission would have to be granted there.
	_, _, err = s.Subject(rc, "arn:aws:iam::210987654321:root", acct)
	wantIAMError(t, "another account's root", err, CodeAccessDenied, "iam:SimulatePrincipalPolicy")
	// Its root may ask about itself, about this account's resources.
	other := Root("210987654321")
	if p, ok, err := s.Subject(NewContext(ctx, other), other.ARN, acct); err != nil || !ok || p.ARN != other.ARN {
		t.Fatalf("another account's root about itself = %+v, %v, %v", p, ok, err)
	}
}

// TestPolicyStatement: the text of the statement that decided, from the
// principal's identity policies or boundary.
func TestPolicyStatement(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	u, err := s.CreateUser(rc, UserInput{Name: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"Pull","Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*"},{"Effect":"Deny","Action":"ecr:PutImage","Resource":"*"}]}`
	if err := s.PutInlinePolicy(rc, Grantee{Kind: metadata.IAMUser, Name: "dev"}, "pull", doc); err != nil {
		t.Fatal(err)
	}
	p := u.principal(acct)
	for _, tc := range []struct {
		action string
		want   string
	}{
		{"ecr:BatchGetImage", `"Sid": "Pull"`},
		{"ecr:PutImage", `"Action": "ecr:PutImage"`},
	} {
		d, _, err := s.Authorize(NewContext(ctx, p), Check{Action: tc.action, Resource: "*", ResourceAccount: acct})
		if err != nil {
			t.Fatal(err)
		}
		st := d.Deny
		if st == nil {
			if len(d.Allows) != 1 {
				t.Fatalf("%s: %+v", tc.action, d)
			}
			st = &d.Allows[0]
		}
		text, err := s.PolicyStatement(ctx, p, *st)
		if err != nil || !strings.Contains(text, tc.want) {
			t.Errorf("%s: statement %+v text %q, %v; want it to contain %s", tc.action, st, text, err, tc.want)
		}
	}
	text, err := s.PolicyStatement(ctx, p, iampolicy.Statement{Policy: "pull", Kind: iampolicy.KindIdentity, Index: 1, Sid: "Other"})
	if err != nil || text != "" {
		t.Fatalf("a statement the policy does not hold: %q, %v", text, err)
	}
}
