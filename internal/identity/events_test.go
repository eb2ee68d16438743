package identity

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity/identitytest"
	"github.com/ecrd/ecrd/internal/keyring"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/testutil"
)

// record is what a test reads of an outbox event.
type record struct {
	Source, Name, Resource string
}

// recordsSince reads the outbox after an event ID: the records, the
// events' documents, and the last ID.
func recordsSince(t *testing.T, meta metadata.Reader, after int64) ([]record, []string, int64) {
	t.Helper()
	events, err := meta.Events(ctx, after, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []record
	var docs []string
	for _, e := range events {
		var env struct {
			Detail struct {
				EventName string `json:"eventName"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(e.Document, &env); err != nil {
			t.Fatal(err)
		}
		out = append(out, record{e.Source, env.Detail.EventName, e.Resource})
		docs = append(docs, string(e.Document))
		after = e.ID
	}
	return out, docs, after
}

// TestEveryChangeIsRecorded: each IAM change appends its record (source
// aws.iam, the IAM action, the entity's ARN) to the outbox in its own
// transaction; a refused change, STS and last-use bookkeeping record
// nothing; no record holds a secret.
func TestEveryChangeIsRecorded(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	_, _, last := recordsSince(t, s.meta, 0)
	iam := func(name, arn string) []record { return []record{{outbox.SourceIAM, name, arn}} }
	user := "arn:aws:iam::" + acct + ":user/team/dev"
	moved := "arn:aws:iam::" + acct + ":user/ops/dev"
	group := "arn:aws:iam::" + acct + ":group/devs"
	role := "arn:aws:iam::" + acct + ":role/ci"
	policy := "arn:aws:iam::" + acct + ":policy/read"
	oidc := "arn:aws:iam::" + acct + ":oidc-provider/issuer.example.com"
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*"}]}`
	var secrets []string // what no record may hold
	var devKey string
	dev := NewContext(ctx, Principal{Account: acct, ARN: user, Type: TypeUser, Name: "dev"})
	steps := []struct {
		what   string
		change func() error
		want   []record
	}{
		{"create an account", func() error { _, err := s.CreateAccount(ctx, "210987654321"); return err },
			iam("CreateAccount", awsid.Root("210987654321"))},
		{"a root access key", func() error {
			k, err := s.CreateAccessKey(ctx, acct)
			secrets = append(secrets, k.Secret)
			return err
		}, iam("CreateAccessKey", awsid.Root(acct))},
		{"create a user", func() error { _, err := s.CreateUser(rc, UserInput{Name: "dev", Path: "/team/"}); return err },
			iam("CreateUser", user)},
		{"a refused creation", func() error {
			_, err := s.CreateUser(rc, UserInput{Name: "DEV"})
			wantIAMError(t, "CreateUser of an existing name", err, CodeEntityExists, "")
			return nil
		}, nil},
		{"create a group", func() error { _, err := s.CreateGroup(rc, "devs", ""); return err }, iam("CreateGroup", group)},
		{"join it", func() error { return s.AddUserToGroup(rc, "devs", "dev") }, iam("AddUserToGroup", group)},
		{"group policy", func() error { return s.PutInlinePolicy(rc, Grantee{Kind: KindGroup, Name: "devs"}, "read", doc) },
			iam("PutGroupPolicy", group)},
		{"delete it", func() error { return s.DeleteInlinePolicy(rc, Grantee{Kind: KindGroup, Name: "devs"}, "read") },
			iam("DeleteGroupPolicy", group)},
		{"leave it", func() error { return s.RemoveUserFromGroup(rc, "devs", "dev") }, iam("RemoveUserFromGroup", group)},
		{"rename it", func() error { return s.UpdateGroup(rc, "devs", "builders", "") }, iam("UpdateGroup", group)},
		{"delete it", func() error { return s.DeleteGroup(rc, "builders") },
			iam("DeleteGroup", "arn:aws:iam::"+acct+":group/builders")},
		{"user policy", func() error { return s.PutInlinePolicy(rc, Grantee{Kind: metadata.IAMUser, Name: "dev"}, "read", doc) },
			iam("PutUserPolicy", user)},
		{"delete it", func() error { return s.DeleteInlinePolicy(rc, Grantee{Kind: metadata.IAMUser, Name: "dev"}, "read") },
			iam("DeleteUserPolicy", user)},
		{"create a policy", func() error { _, err := s.CreatePolicy(rc, PolicyInput{Name: "read", Document: doc}); return err },
			iam("CreatePolicy", policy)},
		{"a version", func() error { _, err := s.CreatePolicyVersion(rc, policy, doc, true); return err },
			iam("CreatePolicyVersion", policy)},
		{"the default", func() error { return s.SetDefaultPolicyVersion(rc, policy, "v1") }, iam("SetDefaultPolicyVersion", policy)},
		{"delete a version", func() error { return s.DeletePolicyVersion(rc, policy, "v2") }, iam("DeletePolicyVersion", policy)},
		{"a refused version deletion", func() error {
			wantIAMError(t, "deleting the default version", s.DeletePolicyVersion(rc, policy, "v1"), CodeDeleteConflict, "")
			return nil
		}, nil},
		{"tag the policy", func() error { return s.TagPolicy(rc, policy, []Tag{{"team", "a"}}, nil) }, iam("TagPolicy", policy)},
		{"untag it", func() error { return s.TagPolicy(rc, policy, nil, []string{"team"}) }, iam("UntagPolicy", policy)},
		{"attach it", func() error { return s.AttachPolicy(rc, Grantee{Kind: metadata.IAMUser, Name: "dev"}, policy) },
			iam("AttachUserPolicy", user)},
		{"detach it", func() error { return s.DetachPolicy(rc, Grantee{Kind: metadata.IAMUser, Name: "dev"}, policy) },
			iam("DetachUserPolicy", user)},
		{"a boundary", func() error { return s.SetBoundary(rc, Grantee{Kind: metadata.IAMUser, Name: "dev"}, policy) },
			iam("PutUserPermissionsBoundary", user)},
		{"no boundary", func() error { return s.SetBoundary(rc, Grantee{Kind: metadata.IAMUser, Name: "dev"}, "") },
			iam("DeleteUserPermissionsBoundary", user)},
		{"tag the user", func() error { return s.Tag(rc, Grantee{Kind: metadata.IAMUser, Name: "dev"}, []Tag{{"team", "a"}}) },
			iam("TagUser", user)},
		{"untag it", func() error { return s.Untag(rc, Grantee{Kind: metadata.IAMUser, Name: "dev"}, []string{"team"}) },
			iam("UntagUser", user)},
		{"the user's access key", func() error {
			k, _, err := s.CreateUserAccessKey(rc, "dev")
			devKey, secrets = k.ID, append(secrets, k.Secret)
			return err
		}, iam("CreateAccessKey", user)},
		{"deactivate it", func() error { return s.UpdateAccessKey(rc, "dev", devKey, "Inactive") }, iam("UpdateAccessKey", user)},
		{"its use", func() error {
			s.NoteKeyUse(acct, devKey, "ecr", "us-east-1")
			return s.FlushKeyUse(ctx)
		}, nil},
		{"delete it", func() error { return s.DeleteAccessKey(rc, "dev", devKey) }, iam("DeleteAccessKey", user)},
		{"move the user", func() error { return s.UpdateUser(rc, "dev", "", "/ops/") }, iam("UpdateUser", user)},
		{"create a role", func() error {
			_, err := s.CreateRole(rc, RoleInput{Name: "ci", TrustPolicy: trustAccount(acct)})
			return err
		}, iam("CreateRole", role)},
		{"describe it", func() error {
			d := "deploys"
			_, err := s.UpdateRole(rc, "ci", "iam:UpdateRoleDescription", RoleChange{Description: &d})
			return err
		}, iam("UpdateRoleDescription", role)},
		{"attach to it", func() error { return s.AttachPolicy(rc, Grantee{Kind: metadata.IAMRole, Name: "ci"}, policy) },
			iam("AttachRolePolicy", role)},
		{"tag it", func() error { return s.Tag(rc, Grantee{Kind: metadata.IAMRole, Name: "ci"}, []Tag{{"team", "a"}}) },
			iam("TagRole", role)},
		{"a refused deletion", func() error {
			wantIAMError(t, "DeleteRole with a policy", s.DeleteRole(rc, "ci"), CodeDeleteConflict, "")
			return nil
		}, nil},
		{"assume it, and a session of the root's own: STS changes nothing stored", func() error {
			a, err := s.AssumeRole(rc, AssumeRoleInput{RoleARN: role, SessionName: "job"})
			if err != nil {
				return err
			}
			secrets = append(secrets, a.Credentials.SecretAccessKey, a.Credentials.SessionToken)
			c, err := s.GetSessionToken(rc, 0, "")
			secrets = append(secrets, c.SecretAccessKey, c.SessionToken)
			return err
		}, nil},
		{"detach from it", func() error { return s.DetachPolicy(rc, Grantee{Kind: metadata.IAMRole, Name: "ci"}, policy) },
			iam("DetachRolePolicy", role)},
		{"delete it", func() error { return s.DeleteRole(rc, "ci") }, iam("DeleteRole", role)},
		{"an OIDC provider", func() error {
			_, err := s.CreateOIDCProvider(rc, OIDCProviderInput{URL: "https://issuer.example.com", ClientIDs: []string{"sts.amazonaws.com"}})
			return err
		}, iam("CreateOpenIDConnectProvider", oidc)},
		{"a client ID", func() error {
			return s.ChangeOIDCProvider(rc, oidc, "iam:AddClientIDToOpenIDConnectProvider", OIDCChange{AddClientID: "other"})
		}, iam("AddClientIDToOpenIDConnectProvider", oidc)},
		{"delete it", func() error { return s.DeleteOIDCProvider(rc, oidc) }, iam("DeleteOpenIDConnectProvider", oidc)},
		{"delete the policy", func() error { return s.DeletePolicy(rc, policy) }, iam("DeletePolicy", policy)},
		{"a refused deletion, by a user the account does not allow", func() error {
			_, err := s.CreateUser(rc, UserInput{Name: "other"})
			if err != nil {
				return err
			}
			_, _, last = recordsSince(t, s.meta, last)
			wantIAMError(t, "DeleteUser without permission", s.DeleteUser(dev, "other"), CodeAccessDenied, "")
			return nil
		}, nil},
		{"delete the user", func() error { return s.DeleteUser(rc, "dev") }, iam("DeleteUser", moved)},
	}
	for _, st := range steps {
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		var got []record
		got, _, last = recordsSince(t, s.meta, last)
		if !slices.Equal(got, st.want) {
			t.Errorf("%s recorded %+v, want %+v", st.what, got, st.want)
		}
	}

	_, docs, _ := recordsSince(t, s.meta, 0)
	for _, d := range docs {
		for _, secret := range secrets {
			if secret != "" && strings.Contains(d, secret) {
				t.Errorf("a record holds a secret: %s", d)
			}
		}
	}
	// One record in full: CloudTrail's record of the call.
	var env struct {
		outbox.Envelope
		Detail struct {
			EventSource  string         `json:"eventSource"`
			EventName    string         `json:"eventName"`
			AWSRegion    string         `json:"awsRegion"`
			UserIdentity outbox.Actor   `json:"userIdentity"`
			Params       map[string]any `json:"requestParameters"`
		} `json:"detail"`
	}
	i := slices.IndexFunc(docs, func(d string) bool { return strings.Contains(d, `"eventName":"UpdateAccessKey"`) })
	if i < 0 {
		t.Fatal("no UpdateAccessKey record")
	}
	if err := json.Unmarshal([]byte(docs[i]), &env); err != nil {
		t.Fatal(err)
	}
	d := env.Detail
	if env.Source != outbox.SourceIAM || env.Account != acct || env.Region != "us-east-1" || d.EventSource != "iam.amazonaws.com" ||
		d.UserIdentity.Type != "Root" || d.UserIdentity.ARN != awsid.Root(acct) ||
		d.Params["userName"] != "dev" || d.Params["accessKeyId"] != devKey || d.Params["status"] != "Inactive" || len(env.Resources) != 1 || env.Resources[0] != user {
		t.Errorf("the UpdateAccessKey record: %s", docs[i])
	}
}

// process is one ecrd process's identity service over a shared database,
// with its own caches and outbox follower.
type process struct {
	*Service
	follower *outbox.Follower
}

// twoProcesses opens one database twice, as two ecrd processes sharing a
// data folder (and its server key file) do.
func twoProcesses(t *testing.T) (a, b process) {
	t.Helper()
	dir, keys := t.TempDir(), testutil.Keyring(t)
	open := func(keys *keyring.Keyring) process {
		meta := identitytest.Store(t, dir)
		s := guarded(t, meta, keys)
		f := outbox.NewFollower(meta, time.Hour, testutil.Logger()) // the test says when to follow
		f.Subscribe(s.Changed)
		if err := f.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return process{s, f}
	}
	return open(keys), open(keys)
}

// catchUp makes a process follow the outbox.
func (p process) catchUp(t *testing.T) {
	t.Helper()
	if err := p.follower.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestChangeThroughOneProcessBindsTheOther: what process B cached (a
// user's compiled grants, an access key's secret, a role session's
// managed session policy) follows changes made through process A once
// B's follower has read them, and only then: B's caches were warm.
func TestChangeThroughOneProcessBindsTheOther(t *testing.T) {
	a, b := twoProcesses(t)
	rc := NewContext(ctx, asRoot(t, a.Service))
	repo := "arn:aws:ecr:us-east-1:" + acct + ":repository/app"
	pull := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage","sts:AssumeRole"],"Resource":"*"}]}`
	describe := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:DescribeImages","Resource":"*"}]}`
	u, err := a.CreateUser(rc, UserInput{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.PutInlinePolicy(rc, Grantee{Kind: metadata.IAMUser, Name: "ci"}, "pull", pull); err != nil {
		t.Fatal(err)
	}
	k, _, err := a.CreateUserAccessKey(rc, "ci")
	if err != nil {
		t.Fatal(err)
	}
	mp, err := a.CreatePolicy(rc, PolicyInput{Name: "session", Document: pull})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateRole(rc, RoleInput{Name: "job", TrustPolicy: trustAccount(acct)}); err != nil {
		t.Fatal(err)
	}
	if err := a.AttachPolicy(rc, Grantee{Kind: metadata.IAMRole, Name: "job"}, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"); err != nil {
		t.Fatal(err)
	}
	sess, err := a.AssumeRole(rc, AssumeRoleInput{RoleARN: "arn:aws:iam::" + acct + ":role/job", SessionName: "run", PolicyARNs: []string{mp.ARN}})
	if err != nil {
		t.Fatal(err)
	}
	b.catchUp(t)

	// What B answers, from its caches once warm.
	userMay := func(p process) bool {
		t.Helper()
		d, _, err := p.Authorize(NewContext(ctx, u.principal(acct)), Check{Action: "ecr:BatchGetImage", Resource: repo, ResourceAccount: acct})
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	keyWorks := func(p process) bool {
		t.Helper()
		_, _, err := p.LookupAccessKey(ctx, k.ID)
		if err != nil && !errors.Is(err, ErrInactiveKey) {
			t.Fatal(err)
		}
		return err == nil
	}
	sessionMay := func(p process) bool {
		t.Helper()
		s, err := p.VerifySession(ctx, sess.Credentials.AccessKeyID, sess.Credentials.SessionToken)
		if err != nil {
			t.Fatal(err)
		}
		d, _, err := p.Authorize(NewContext(ctx, s.Principal()), Check{Action: "ecr:BatchGetImage", Resource: repo, ResourceAccount: acct})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed && d.Reason != iampolicy.SessionDeny {
			t.Fatalf("the session is denied for %s, want its session policy to deny", d.Reason)
		}
		return d.Allowed
	}
	if !userMay(b) || !keyWorks(b) || !sessionMay(b) {
		t.Fatal("B refuses before any change")
	}

	// Through A: the user's policy no longer allows pulling, its key is
	// deactivated, the session policy's new default version allows less.
	if err := a.PutInlinePolicy(rc, Grantee{Kind: metadata.IAMUser, Name: "ci"}, "pull", describe); err != nil {
		t.Fatal(err)
	}
	if err := a.UpdateAccessKey(rc, "ci", k.ID, "Inactive"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreatePolicyVersion(rc, mp.ARN, describe, true); err != nil {
		t.Fatal(err)
	}
	if userMay(a) || keyWorks(a) || sessionMay(a) {
		t.Fatal("A does not apply its own changes at once")
	}
	if !userMay(b) || !keyWorks(b) || !sessionMay(b) {
		t.Fatal("B's caches were not warm: this test would pass without following the outbox")
	}
	b.catchUp(t)
	if userMay(b) {
		t.Error("after following the outbox, B still lets the user pull")
	}
	if keyWorks(b) {
		t.Error("after following the outbox, B still accepts the deactivated key")
	}
	if sessionMay(b) {
		t.Error("after following the outbox, B still applies the session policy's old version")
	}
}
