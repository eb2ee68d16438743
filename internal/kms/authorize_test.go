package kms

import (
	"context"
	"testing"

	"github.com/ecrd/ecrd/internal/identity"
)

func rootOf(account string) context.Context {
	return identity.NewContext(bg, identity.Root(account))
}

const useKeys = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:GenerateDataKey"],"Resource":"*"}]}`

func TestAuthorization(t *testing.T) {
	f := newFixture(t)
	withPolicy := f.user(t, "app", useKeys)
	noPolicy := f.user(t, "nobody", "")
	named := f.user(t, "named", "")
	denied := f.user(t, "denied", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}]}`)

	def := f.createKey(t, CreateKeyInput{})
	// A key whose policy delegates to the account's IAM, and grants one
	// user some actions directly.
	direct := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Sid":"named","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/named"},"Action":["kms:Encrypt","kms:DescribeKey"],"Resource":"*"}]}`
	namedKey := f.createKey(t, CreateKeyInput{Policy: direct})
	// A key whose policy names another principal only.
	elsewhere := f.createKey(t, CreateKeyInput{Policy: policyFor("arn:aws:iam::" + acct + ":user/named"), BypassPolicyLockoutSafetyCheck: true})

	encrypt := func(ctx context.Context, k Key) error {
		_, err := f.svc.Encrypt(ctx, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("x")})
		return err
	}
	denial := func(who, action string, k Key, why string) string {
		return "User: arn:aws:iam::" + acct + ":" + who + " is not authorized to perform: " + action + " on resource: " + k.ARN + " because no " + why + " policy allows the " + action + " action"
	}
	for _, c := range []struct {
		name    string
		ctx     context.Context
		key     Key
		message string // "" when allowed
	}{
		{"root, default policy", f.root, def, ""},
		{"user with an identity policy, default policy", withPolicy, def, ""},
		{"user without an identity policy, default policy", noPolicy, def, denial("user/nobody", "kms:Encrypt", def, "identity-based")},
		{"user named by the key policy, no identity policy", named, namedKey, ""},
		{"user with an identity policy, key policy delegating to IAM", withPolicy, namedKey, ""},
		{"user with an identity policy, key policy naming someone else", withPolicy, elsewhere, denial("user/app", "kms:Encrypt", elsewhere, "resource-based")},
		{"root, key policy naming only a user", f.root, elsewhere, denial("root", "kms:Encrypt", elsewhere, "resource-based")},
		{"explicit deny", denied, def, "User: arn:aws:iam::" + acct + ":user/denied is not authorized to perform: kms:Encrypt on resource: " + def.ARN + " with an explicit deny in an identity-based policy"},
	} {
		err := encrypt(c.ctx, c.key)
		if c.message == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		wantErr(t, c.name, err, CodeAccessDenied, c.message)
	}
	// The key policy grants the named user only what it lists; for the
	// rest it delegates to IAM, where the user has no policy.
	_, err := f.svc.GenerateDataKey(named, scope, DataKeyInput{KeyID: namedKey.ID, KeySpec: "AES_256"})
	wantErr(t, "named user making a data key", err, CodeAccessDenied, denial("user/named", "kms:GenerateDataKey", namedKey, "identity-based"))

	// Operations without a key ask identity policies only.
	_, err = f.svc.CreateKey(noPolicy, scope, CreateKeyInput{})
	wantErr(t, "CreateKey without a policy", err, CodeAccessDenied,
		"User: arn:aws:iam::"+acct+":user/nobody is not authorized to perform: kms:CreateKey on resource: * because no identity-based policy allows the kms:CreateKey action")
	_, _, err = f.svc.ListKeys(noPolicy, scope, nil, "")
	wantErr(t, "ListKeys without a policy", err, CodeAccessDenied, "kms:ListKeys on resource: *")
	_, _, err = f.svc.ListAliases(noPolicy, scope, "", nil, "")
	wantErr(t, "ListAliases without a policy", err, CodeAccessDenied, "kms:ListAliases on resource: *")
	admin := f.user(t, "admin", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)
	k, err := f.svc.CreateKey(admin, scope, CreateKeyInput{})
	must(t, "CreateKey as an admin user", err)
	// CreateAlias needs the alias (identity) and the key (key policy).
	wantErr(t, "CreateAlias by a user allowed only by the key policy", f.svc.CreateAlias(named, scope, "alias/n", namedKey.ID), CodeAccessDenied,
		"kms:CreateAlias on resource: arn:aws:kms:us-east-1:"+acct+":alias/n because no identity-based policy allows")
	wantErr(t, "CreateAlias to a key whose policy does not allow", f.svc.CreateAlias(admin, scope, "alias/n", elsewhere.ID), CodeAccessDenied,
		denial("user/admin", "kms:CreateAlias", elsewhere, "resource-based"))
	must(t, "CreateAlias as an admin", f.svc.CreateAlias(admin, scope, "alias/n", k.ID))
	// An admin user may not lock itself out of a key either.
	wantErr(t, "PutKeyPolicy locking out", f.svc.PutKeyPolicy(admin, scope, k.ID, "", policyFor("arn:aws:iam::"+acct+":user/named"), false), CodeMalformedPolicy, "will not allow you to update")
	must(t, "PutKeyPolicy keeping access", f.svc.PutKeyPolicy(admin, scope, k.ID, "", DefaultKeyPolicy(acct), false))
}

func TestCrossAccount(t *testing.T) {
	f := newFixture(t)
	shared := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + other + `:root"},"Action":["kms:Decrypt","kms:Encrypt","kms:DescribeKey"],"Resource":"*"}]}`
	k := f.createKey(t, CreateKeyInput{Policy: shared})
	private := f.createKey(t, CreateKeyInput{})
	otherScope := Scope{Account: other, Region: region}
	otherRoot := rootOf(other)
	e, err := f.svc.Encrypt(otherRoot, otherScope, EncryptInput{KeyID: k.ARN, Plaintext: []byte("shared")})
	must(t, "Encrypt by another account's root with the key's ARN", err)
	d, err := f.svc.Decrypt(otherRoot, otherScope, DecryptInput{CiphertextBlob: e.CiphertextBlob})
	if err != nil || string(d.Plaintext) != "shared" {
		t.Fatalf("Decrypt by the other account: %v", err)
	}
	_, err = f.svc.Encrypt(otherRoot, otherScope, EncryptInput{KeyID: private.ARN, Plaintext: []byte("x")})
	wantErr(t, "Encrypt with a key the other account is not granted", err, CodeAccessDenied,
		"User: arn:aws:iam::"+other+":root is not authorized to perform: kms:Encrypt on resource: "+private.ARN+" because no resource-based policy allows the kms:Encrypt action")
	_, err = f.svc.Encrypt(otherRoot, otherScope, EncryptInput{KeyID: k.ID, Plaintext: []byte("x")})
	wantErr(t, "a bare key ID names the caller's own account", err, CodeNotFound, "arn:aws:kms:us-east-1:"+other+":key/"+k.ID)
	// Management stays in the key's account.
	wantErr(t, "DisableKey from another account", f.svc.DisableKey(otherRoot, otherScope, k.ARN), CodeNotFound, "does not exist")
}

func TestConditionKeys(t *testing.T) {
	f := newFixture(t)
	ci := f.user(t, "ci", "")
	pol := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/ci"},"Action":"kms:Encrypt","Resource":"*",` +
		`"Condition":{"StringEquals":{"kms:EncryptionContext:repository":"app","kms:CallerAccount":"` + acct + `","aws:ResourceTag/env":"prod"}}}]}`
	k := f.createKey(t, CreateKeyInput{Policy: pol, Tags: []Tag{{"env", "prod"}}})
	encrypt := func(repo string) error {
		_, err := f.svc.Encrypt(ci, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("x"), EncryptionContext: map[string]string{"repository": repo}})
		return err
	}
	must(t, "Encrypt with the context the policy asks for", encrypt("app"))
	wantErr(t, "Encrypt with another context", encrypt("other"), CodeAccessDenied, "kms:Encrypt")
	must(t, "TagResource", f.svc.TagResource(f.root, scope, k.ID, []Tag{{"env", "dev"}}))
	wantErr(t, "Encrypt once the tag changed", encrypt("app"), CodeAccessDenied, "kms:Encrypt")
}
