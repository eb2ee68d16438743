package kms

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/identity/identitytest"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/testutil"
)

// event is what a test reads of an outbox record: its source, action,
// resource, and who made the change.
type event struct {
	Source, Name, Resource, Actor string
}

// eventsSince reads the outbox after an event ID: the records, their
// documents, and the last ID.
func eventsSince(t *testing.T, meta metadata.Reader, after int64) ([]event, []string, int64) {
	t.Helper()
	es, err := meta.Events(bg, after, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []event
	var docs []string
	for _, e := range es {
		var env struct {
			Detail struct {
				EventSource  string       `json:"eventSource"`
				EventName    string       `json:"eventName"`
				UserIdentity outbox.Actor `json:"userIdentity"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(e.Document, &env); err != nil {
			t.Fatal(err)
		}
		if env.Detail.EventSource != "kms.amazonaws.com" && e.Source == outbox.SourceKMS {
			t.Errorf("a KMS record's event source is %q", env.Detail.EventSource)
		}
		out = append(out, event{e.Source, env.Detail.EventName, e.Resource, env.Detail.UserIdentity.Type})
		docs = append(docs, string(e.Document))
		after = e.ID
	}
	return out, docs, after
}

// TestEveryChangeIsRecorded: each KMS change appends its record (source
// aws.kms, the KMS action, the key's ARN or the alias's) to the outbox in
// its own transaction, made by the caller or, for what KMS does on its
// own, by KMS; a refused change and the cryptographic operations record
// nothing; no record holds plaintext, a data key or a grant token.
func TestEveryChangeIsRecorded(t *testing.T) {
	f := newFixture(t)
	_, _, last := eventsSince(t, f.meta, 0)
	var k, old Key
	var secrets [][]byte
	var token string
	kms := func(name string, arn *string) func() []event {
		return func() []event { return []event{{outbox.SourceKMS, name, *arn, "Root"}} }
	}
	keyARN, aliasARN := new(string), new(string)
	*aliasARN = "arn:aws:kms:us-east-1:" + acct + ":alias/app"
	onKey := func(name string) func() []event { return kms(name, keyARN) }
	nobody := f.user(t, "nobody", "")
	_, _, last = eventsSince(t, f.meta, last)
	steps := []struct {
		what   string
		change func() error
		want   func() []event
	}{
		{"create a key", func() error {
			var err error
			k, err = f.svc.CreateKey(f.root, scope, CreateKeyInput{Description: "app", Tags: []Tag{{"team", "a"}}})
			*keyARN = k.ARN
			return err
		}, onKey("CreateKey")},
		{"enable rotation", func() error { return f.svc.EnableKeyRotation(f.root, scope, k.ID, ptr(90)) }, onKey("EnableKeyRotation")},
		{"disable it", func() error { return f.svc.DisableKeyRotation(f.root, scope, k.ID) }, onKey("DisableKeyRotation")},
		{"rotate now", func() error { _, err := f.svc.RotateKeyOnDemand(f.root, scope, k.ARN); return err }, onKey("RotateKeyOnDemand")},
		{"describe it", func() error { return f.svc.UpdateKeyDescription(f.root, scope, k.ID, "app data") }, onKey("UpdateKeyDescription")},
		{"tag it", func() error { return f.svc.TagResource(f.root, scope, k.ID, []Tag{{"env", "prod"}}) }, onKey("TagResource")},
		{"untag it", func() error { return f.svc.UntagResource(f.root, scope, k.ID, []string{"env"}) }, onKey("UntagResource")},
		{"its policy", func() error { return f.svc.PutKeyPolicy(f.root, scope, k.ID, "", DefaultKeyPolicy(acct), false) }, onKey("PutKeyPolicy")},
		{"disable it", func() error { return f.svc.DisableKey(f.root, scope, k.ID) }, onKey("DisableKey")},
		{"a refused change, by a caller the key policy does not allow", func() error {
			wantErr(t, "EnableKey by nobody", f.svc.EnableKey(nobody, scope, k.ID), CodeAccessDenied, "")
			return nil
		}, nil},
		{"enable it", func() error { return f.svc.EnableKey(f.root, scope, k.ID) }, onKey("EnableKey")},
		{"encrypt, decrypt and make data keys: no change", func() error {
			e, err := f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("plaintext-never-recorded")})
			if err != nil {
				return err
			}
			if _, err := f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: e.CiphertextBlob}); err != nil {
				return err
			}
			dk, err := f.svc.GenerateDataKey(f.root, scope, DataKeyInput{KeyID: k.ID, KeySpec: "AES_256"})
			secrets = append(secrets, []byte("plaintext-never-recorded"), dk.Plaintext)
			return err
		}, nil},
		{"an alias", func() error { return f.svc.CreateAlias(f.root, scope, "alias/app", k.ID) }, kms("CreateAlias", aliasARN)},
		{"a refused alias", func() error {
			wantErr(t, "CreateAlias of an existing alias", f.svc.CreateAlias(f.root, scope, "alias/app", k.ID), CodeAlreadyExists, "")
			return nil
		}, nil},
		{"point it elsewhere", func() error {
			old = k
			var err error
			k, err = f.svc.CreateKey(f.root, scope, CreateKeyInput{})
			if err != nil {
				return err
			}
			_, _, last = eventsSince(t, f.meta, last)
			return f.svc.UpdateAlias(f.root, scope, "alias/app", k.ID)
		}, kms("UpdateAlias", aliasARN)},
		{"delete it", func() error { return f.svc.DeleteAlias(f.root, scope, "alias/app") }, kms("DeleteAlias", aliasARN)},
		{"a grant", func() error {
			*keyARN = k.ARN
			g, err := f.svc.CreateGrant(f.root, scope, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("nobody"), Operations: []string{"Encrypt"}})
			token = g.GrantToken
			return err
		}, onKey("CreateGrant")},
		{"retire it", func() error { return f.svc.RetireGrant(f.root, scope, RetireGrantInput{GrantToken: token}) }, onKey("RetireGrant")},
		{"another", func() error {
			g, err := f.svc.CreateGrant(f.root, scope, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("nobody"), Operations: []string{"Decrypt"}})
			if err != nil {
				return err
			}
			_, _, last = eventsSince(t, f.meta, last)
			return f.svc.RevokeGrant(f.root, scope, k.ID, g.GrantID, false)
		}, onKey("RevokeGrant")},
		{"schedule its deletion", func() error { _, err := f.svc.ScheduleKeyDeletion(f.root, scope, k.ID, ptr(7)); return err },
			onKey("ScheduleKeyDeletion")},
		{"cancel it", func() error { _, err := f.svc.CancelKeyDeletion(f.root, scope, k.ID); return err }, onKey("CancelKeyDeletion")},
		{"a scheduled rotation, which KMS makes when the key is next used", func() error {
			*keyARN = old.ARN
			if err := f.svc.EnableKeyRotation(f.root, scope, old.ID, ptr(90)); err != nil {
				return err
			}
			_, _, last = eventsSince(t, f.meta, last)
			f.clock = f.clock.Add(91 * 24 * time.Hour)
			_, err := f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: old.ID, Plaintext: []byte("x")})
			return err
		}, func() []event { return []event{{outbox.SourceKMS, "RotateKey", old.ARN, "AWSService"}} }},
		{"a deletion coming due, done when the next key is created", func() error {
			if _, err := f.svc.ScheduleKeyDeletion(f.root, scope, old.ID, ptr(7)); err != nil {
				return err
			}
			_, _, last = eventsSince(t, f.meta, last)
			f.clock = f.clock.Add(8 * 24 * time.Hour)
			k, _ = f.svc.CreateKey(f.root, scope, CreateKeyInput{})
			return nil
		}, func() []event {
			return []event{{outbox.SourceKMS, "DeleteKey", old.ARN, "AWSService"}, {outbox.SourceKMS, "CreateKey", k.ARN, "Root"}}
		}},
		{"ECR's managed key, made on first use", func() error { _, err := f.svc.DescribeKey(f.root, scope, ECRAlias); return err },
			func() []event {
				managed, _ := f.svc.ECRManagedKey(bg, acct, region)
				return []event{{outbox.SourceKMS, "CreateKey", managed.ARN, "Root"},
					{outbox.SourceKMS, "CreateAlias", "arn:aws:kms:us-east-1:" + acct + ":" + ECRAlias, "Root"}}
			}},
	}
	for _, st := range steps {
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		var got, want []event
		got, _, last = eventsSince(t, f.meta, last)
		if st.want != nil {
			want = st.want()
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s recorded %+v, want %+v", st.what, got, want)
		}
	}
	_, docs, _ := eventsSince(t, f.meta, 0)
	for _, d := range docs {
		for _, secret := range secrets {
			if strings.Contains(d, string(secret)) || strings.Contains(d, base64.StdEncoding.EncodeToString(secret)) {
				t.Errorf("a record holds plaintext: %s", d)
			}
		}
		if strings.Contains(d, token) || strings.Contains(d, `"sealed"`) {
			t.Errorf("a record holds a grant token or key material: %s", d)
		}
	}
}

// process is one ecrd process's KMS (and IAM) over a shared database,
// with its own caches and outbox follower.
type process struct {
	svc      *Service
	ids      *identity.Service
	follower *outbox.Follower
}

// catchUp makes a process follow the outbox.
func (p process) catchUp(t *testing.T) {
	t.Helper()
	if err := p.follower.CatchUp(bg); err != nil {
		t.Fatal(err)
	}
}

// twoProcesses opens one database twice, as two ecrd processes sharing a
// data folder (and its server key file) do.
func twoProcesses(t *testing.T) (a, b process) {
	t.Helper()
	dir, keys, log := t.TempDir(), testutil.Keyring(t), identitytest.Logger(t)
	open := func() process {
		meta := identitytest.Store(t, dir)
		ids := identity.New(meta, keys, log)
		p := process{svc: New(meta, keys, &guardedIDs{Authorizer: ids, tb: t}, log), ids: ids, follower: outbox.NewFollower(meta, time.Hour, log)}
		p.follower.Subscribe(ids.Changed)
		p.follower.Subscribe(p.svc.Changed)
		if err := p.follower.Start(bg); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a = open()
	if _, err := a.ids.EnsureAccount(bg, acct); err != nil {
		t.Fatal(err)
	}
	return a, open()
}

// TestChangeThroughOneProcessBindsTheOther: a key disabled, and a key
// policy changed, through process A bind process B once B's follower has
// read them, and only then (B answered from its cache); a ciphertext of
// material A rotated in decrypts in B at once.
func TestChangeThroughOneProcessBindsTheOther(t *testing.T) {
	a, b := twoProcesses(t)
	root := identity.NewContext(bg, identity.Root(acct))
	u, err := a.ids.CreateUser(root, identity.UserInput{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ids.PutInlinePolicy(root, identity.Grantee{Kind: metadata.IAMUser, Name: "app"}, "kms",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
	app := identity.NewContext(bg, identity.Principal{Account: acct, ARN: u.ARN, UserID: u.ID, Type: identity.TypeUser, Name: "app"})
	disabled, err := a.svc.CreateKey(root, scope, CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	restricted, err := a.svc.CreateKey(root, scope, CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := a.svc.CreateKey(root, scope, CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	b.catchUp(t)
	encrypt := func(p process, ctx context.Context, k Key) error {
		_, err := p.svc.Encrypt(ctx, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("x")})
		return err
	}
	// B's caches, warm: the keys' documents and compiled policies.
	must(t, "B encrypts with the key", encrypt(b, root, disabled))
	must(t, "the user encrypts in B", encrypt(b, app, restricted))
	must(t, "B encrypts with the key to rotate", encrypt(b, root, rotated))

	// Through A: one key disabled, another's policy no longer delegating
	// to IAM, the third rotated and used.
	must(t, "DisableKey through A", a.svc.DisableKey(root, scope, disabled.ID))
	only := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/admin"},"Action":"kms:*","Resource":"*"}]}`
	must(t, "PutKeyPolicy through A", a.svc.PutKeyPolicy(root, scope, restricted.ID, "", only, true))
	if _, err := a.svc.RotateKeyOnDemand(root, scope, rotated.ID); err != nil {
		t.Fatal(err)
	}
	e, err := a.svc.Encrypt(root, scope, EncryptInput{KeyID: rotated.ID, Plaintext: []byte("new material")})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "A after its own DisableKey", encrypt(a, root, disabled), CodeDisabled, "")
	wantErr(t, "A after its own PutKeyPolicy", encrypt(a, app, restricted), CodeAccessDenied, "")

	// The rotation binds at once: B does not know the material yet, and
	// reads the key again.
	if d, err := b.svc.Decrypt(root, scope, DecryptInput{CiphertextBlob: e.CiphertextBlob}); err != nil || string(d.Plaintext) != "new material" {
		t.Fatalf("B decrypting what A's new material made: %q, %v", d.Plaintext, err)
	}
	if err := encrypt(b, root, disabled); err != nil {
		t.Fatalf("B's cache was not warm: this test would pass without following the outbox (%v)", err)
	}
	if err := encrypt(b, app, restricted); err != nil {
		t.Fatalf("B's cache was not warm: this test would pass without following the outbox (%v)", err)
	}
	b.catchUp(t)
	wantErr(t, "B after following the outbox: the disabled key", encrypt(b, root, disabled), CodeDisabled, "")
	wantErr(t, "B after following the outbox: the key policy", encrypt(b, app, restricted), CodeAccessDenied, "")
}
