package kms

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

func (f *fixture) grant(t testing.TB, ctx context.Context, in CreateGrantInput) CreatedGrant {
	t.Helper()
	g, err := f.svc.CreateGrant(ctx, scope, in)
	if err != nil {
		t.Fatalf("CreateGrant: %v", err)
	}
	return g
}

func userARN(name string) string { return "arn:aws:iam::" + acct + ":user/" + name }

// TestGrantAuthorizes checks that a grant allows its grantee the granted
// operations on a key whose policies give it nothing, within the grant's
// constraints, and never past an explicit deny.
func TestGrantAuthorizes(t *testing.T) {
	f := newFixture(t)
	app := f.user(t, "app", "")
	k := f.createKey(t, CreateKeyInput{})
	encrypt := func(ctx context.Context, k Key, encCtx map[string]string) error {
		_, err := f.svc.Encrypt(ctx, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("x"), EncryptionContext: encCtx})
		return err
	}
	denied := "User: " + userARN("app") + " is not authorized to perform: kms:Encrypt on resource: " + k.ARN + " because no identity-based policy allows the kms:Encrypt action"
	wantErr(t, "Encrypt before the grant", encrypt(app, k, nil), CodeAccessDenied, denied)

	g := f.grant(t, f.root, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("app"), Operations: []string{"Encrypt", "Decrypt", "DescribeKey"}})
	if !grantIDRE.MatchString(g.GrantID) || g.GrantToken == "" {
		t.Fatalf("CreateGrant returned %+v", g)
	}
	must(t, "Encrypt with the grant", encrypt(app, k, nil))
	e, err := f.svc.Encrypt(app, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("secret")})
	must(t, "Encrypt", err)
	d, err := f.svc.Decrypt(app, scope, DecryptInput{CiphertextBlob: e.CiphertextBlob})
	if err != nil || string(d.Plaintext) != "secret" {
		t.Fatalf("Decrypt with the grant: %v", err)
	}
	_, err = f.svc.DescribeKey(app, scope, k.ID)
	must(t, "DescribeKey with the grant", err)
	_, err = f.svc.GenerateDataKey(app, scope, DataKeyInput{KeyID: k.ID, KeySpec: "AES_256"})
	wantErr(t, "an operation the grant does not give", err, CodeAccessDenied, "kms:GenerateDataKey")
	_, err = f.svc.KeyPolicy(app, scope, k.ID, "")
	wantErr(t, "a management operation", err, CodeAccessDenied, "kms:GetKeyPolicy")
	another := f.createKey(t, CreateKeyInput{})
	wantErr(t, "another key", encrypt(app, another, nil), CodeAccessDenied, "kms:Encrypt")
	nobody := f.user(t, "nobody", "")
	wantErr(t, "another user", encrypt(nobody, k, nil), CodeAccessDenied, "kms:Encrypt")

	// An explicit deny wins over a grant, in IAM or in the key policy.
	denier := f.user(t, "denier", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}]}`)
	f.grant(t, f.root, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("denier"), Operations: []string{"Encrypt"}})
	wantErr(t, "a grantee whose identity policy denies", encrypt(denier, k, nil), CodeAccessDenied, "with an explicit deny in an identity-based policy")
	denyPolicy := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Deny","Principal":{"AWS":"` + userARN("app") + `"},"Action":"kms:Encrypt","Resource":"*"}]}`
	guarded := f.createKey(t, CreateKeyInput{Policy: denyPolicy})
	f.grant(t, f.root, CreateGrantInput{KeyID: guarded.ID, GranteePrincipal: userARN("app"), Operations: []string{"Encrypt"}})
	wantErr(t, "a key policy that denies the grantee", encrypt(app, guarded, nil), CodeAccessDenied, "with an explicit deny in a resource-based policy")

	// A key policy naming only someone else: the grant alone allows.
	lone := f.createKey(t, CreateKeyInput{Policy: policyFor(userARN("nobody")), BypassPolicyLockoutSafetyCheck: true})
	must(t, "CreateGrant by the user the key policy names", second(f.svc.CreateGrant(nobody, scope, CreateGrantInput{KeyID: lone.ID, GranteePrincipal: userARN("app"), Operations: []string{"Encrypt"}})))
	must(t, "Encrypt with a key only a grant gives", encrypt(app, lone, nil))

	// Constraints.
	sub := f.user(t, "sub", "")
	eq := f.user(t, "eq", "")
	f.grant(t, f.root, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("sub"), Operations: []string{"Encrypt"},
		Constraints: &GrantConstraints{EncryptionContextSubset: map[string]string{"repository": "app"}, EncryptionContextEquals: map[string]string{}}})
	f.grant(t, f.root, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("eq"), Operations: []string{"Encrypt"},
		Constraints: &GrantConstraints{EncryptionContextEquals: map[string]string{"repository": "app"}}})
	for _, c := range []struct {
		name  string
		ctx   context.Context
		enc   map[string]string
		allow bool
	}{
		{"subset, the same context", sub, map[string]string{"repository": "app"}, true},
		{"subset, a larger context", sub, map[string]string{"repository": "app", "layer": "1"}, true},
		{"subset, another value", sub, map[string]string{"repository": "db"}, false},
		{"subset, no context", sub, nil, false},
		{"equals, the same context", eq, map[string]string{"repository": "app"}, true},
		{"equals, a larger context", eq, map[string]string{"repository": "app", "layer": "1"}, false},
		{"equals, no context", eq, nil, false},
	} {
		err := encrypt(c.ctx, k, c.enc)
		if c.allow {
			must(t, c.name, err)
		} else {
			wantErr(t, c.name, err, CodeAccessDenied, "kms:Encrypt")
		}
	}

	// Another account's root as grantee: its root uses the key by ARN,
	// its users when their identity policies allow.
	f.grant(t, f.root, CreateGrantInput{KeyID: k.ID, GranteePrincipal: "arn:aws:iam::" + other + ":root", Operations: []string{"Encrypt", "DescribeKey"}})
	otherScope := Scope{Account: other, Region: region}
	_, err = f.svc.Encrypt(rootOf(other), otherScope, EncryptInput{KeyID: k.ARN, Plaintext: []byte("x")})
	must(t, "Encrypt by the grantee account's root", err)
	_, err = f.svc.Encrypt(rootOf(other), otherScope, EncryptInput{KeyID: k.ID, Plaintext: []byte("x")})
	wantErr(t, "the grantee account naming the key by ID (its own account's)", err, CodeNotFound, "does not exist")
	withIAM := identityContext(f, other, "user/reader", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`)
	_, err = f.svc.Encrypt(withIAM, otherScope, EncryptInput{KeyID: k.ARN, Plaintext: []byte("x")})
	must(t, "Encrypt by a user of the grantee account that its IAM allows", err)
	withoutIAM := identityContext(f, other, "user/none", "")
	_, err = f.svc.Encrypt(withoutIAM, otherScope, EncryptInput{KeyID: k.ARN, Plaintext: []byte("x")})
	wantErr(t, "a user of the grantee account without an identity policy", err, CodeAccessDenied, "kms:Encrypt")
}
func TestGrantOperations(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	in := CreateGrantInput{KeyID: k.ARN, GranteePrincipal: userARN("app"), RetiringPrincipal: userARN("ops"),
		Operations: []string{"Decrypt", "Encrypt"}, Name: "app-grant",
		Constraints: &GrantConstraints{EncryptionContextSubset: map[string]string{"repository": "app"}}}
	g1 := f.grant(t, f.root, in)
	// Idempotent by name: the same request gives the same grant, with a
	// new token; other parameters under the same name make another.
	g2 := f.grant(t, f.root, in)
	if g2.GrantID != g1.GrantID || g2.GrantToken == g1.GrantToken {
		t.Errorf("a repeated CreateGrant with a name: %+v then %+v", g1, g2)
	}
	in.Operations = []string{"Encrypt", "Decrypt"} // the same set
	if g := f.grant(t, f.root, in); g.GrantID != g1.GrantID {
		t.Errorf("the same operations in another order made another grant")
	}
	in.Operations = []string{"Encrypt"}
	g3 := f.grant(t, f.root, in)
	if g3.GrantID == g1.GrantID {
		t.Errorf("other operations under the same name returned the same grant")
	}
	g4 := f.grant(t, f.root, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("ci"), Operations: []string{"GenerateDataKey"}})

	all, next, err := f.svc.ListGrants(f.root, scope, ListGrantsInput{KeyID: k.ID})
	must(t, "ListGrants", err)
	if len(all) != 3 || next != "" || !slices.IsSortedFunc(all, func(a, b Grant) int { return strings.Compare(a.ID, b.ID) }) {
		t.Fatalf("ListGrants: %d grants, next %q", len(all), next)
	}
	i := slices.IndexFunc(all, func(g Grant) bool { return g.ID == g1.GrantID })
	g := all[i]
	if g.KeyARN != k.ARN || g.Name != "app-grant" || g.GranteePrincipal != userARN("app") || g.RetiringPrincipal != userARN("ops") ||
		!slices.Equal(g.Operations, []string{"Decrypt", "Encrypt"}) || g.Constraints == nil || g.Constraints.EncryptionContextSubset["repository"] != "app" ||
		g.Constraints.EncryptionContextEquals != nil || g.IssuingAccount != "arn:aws:iam::"+acct+":root" || !g.CreationDate.Equal(f.clock) {
		t.Errorf("grant %+v", g)
	}
	// Pages, and the filters.
	var paged []string
	for marker := ""; ; {
		page, next, err := f.svc.ListGrants(f.root, scope, ListGrantsInput{KeyID: k.ID, Limit: ptr(1), Marker: marker})
		must(t, "ListGrants page", err)
		if len(page) != 1 {
			t.Fatalf("a page of %d", len(page))
		}
		paged = append(paged, page[0].ID)
		if next == "" {
			break
		}
		marker = next
	}
	if len(paged) != 3 {
		t.Errorf("paging gave %v", paged)
	}
	byID, _, err := f.svc.ListGrants(f.root, scope, ListGrantsInput{KeyID: k.ID, GrantID: g4.GrantID})
	if err != nil || len(byID) != 1 || byID[0].ID != g4.GrantID {
		t.Errorf("ListGrants by GrantId: %v %v", byID, err)
	}
	byGrantee, _, err := f.svc.ListGrants(f.root, scope, ListGrantsInput{KeyID: k.ID, GranteePrincipal: userARN("app")})
	if err != nil || len(byGrantee) != 2 {
		t.Errorf("ListGrants by grantee: %d %v", len(byGrantee), err)
	}
	retirable, _, err := f.svc.ListRetirableGrants(f.root, scope, userARN("ops"), nil, "")
	if err != nil || len(retirable) != 2 {
		t.Errorf("ListRetirableGrants: %d %v", len(retirable), err)
	}

	// Revoke and retire.
	must(t, "RevokeGrant", f.svc.RevokeGrant(f.root, scope, k.ID, g4.GrantID, false))
	wantErr(t, "RevokeGrant again", f.svc.RevokeGrant(f.root, scope, k.ID, g4.GrantID, false), CodeNotFound, "Grant ID "+g4.GrantID+" not found")
	ops := f.user(t, "ops", "")
	must(t, "RetireGrant by token, by the retiring principal", f.svc.RetireGrant(ops, scope, RetireGrantInput{GrantToken: g2.GrantToken}))
	wantErr(t, "RetireGrant with the grant's first token, once retired", f.svc.RetireGrant(ops, scope, RetireGrantInput{GrantToken: g1.GrantToken}),
		CodeNotFound, "Grant ID "+g1.GrantID+" not found")
	must(t, "RetireGrant by key and ID, by the retiring principal", f.svc.RetireGrant(ops, scope, RetireGrantInput{KeyID: k.ARN, GrantID: g3.GrantID}))
	all, _, _ = f.svc.ListGrants(f.root, scope, ListGrantsInput{KeyID: k.ID})
	if len(all) != 0 {
		t.Errorf("%d grants left", len(all))
	}
	if _, err := f.meta.IAMEntity(bg, acct, grantsKind, keyEntity(region, k.ID)); err == nil {
		t.Error("a key without grants keeps a grants document")
	}
}

// TestRetireGrantWho checks who may retire a grant: its retiring
// principal, its grantee when the grant allows RetireGrant, and its
// account, unless denied.
func TestRetireGrantWho(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	grantee := f.user(t, "app", "")
	admin := f.user(t, "admin", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:RetireGrant","Resource":"*"}]}`)
	noRetire := f.user(t, "denied", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:RetireGrant","Resource":"*"}]}`)
	plain := f.user(t, "plain", "")
	mk := func(ops ...string) CreatedGrant {
		return f.grant(t, f.root, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("app"), RetiringPrincipal: userARN("denied"), Operations: ops})
	}
	retire := func(ctx context.Context, g CreatedGrant) error {
		return f.svc.RetireGrant(ctx, scope, RetireGrantInput{KeyID: k.ID, GrantID: g.GrantID})
	}
	g := mk("Encrypt")
	wantErr(t, "the grantee without RetireGrant", retire(grantee, g), CodeAccessDenied,
		"User: "+userARN("app")+" is not authorized to perform: kms:RetireGrant on resource: "+k.ARN+" because no identity-based policy allows the kms:RetireGrant action")
	wantErr(t, "a user of the account without a policy", retire(plain, g), CodeAccessDenied, "because no identity-based policy allows the kms:RetireGrant action")
	wantErr(t, "the retiring principal, denied by its identity policy", retire(noRetire, g), CodeAccessDenied, "with an explicit deny in an identity-based policy")
	wantErr(t, "another account's root", f.svc.RetireGrant(rootOf(other), Scope{Account: other, Region: region}, RetireGrantInput{KeyID: k.ARN, GrantID: g.GrantID}),
		CodeAccessDenied, "because it is neither the grant's retiring principal, nor its grantee with the RetireGrant operation, nor in the account that created it")
	wantErr(t, "dry run", f.svc.RetireGrant(admin, scope, RetireGrantInput{KeyID: k.ID, GrantID: g.GrantID, DryRun: true}), CodeDryRun, "DryRun")
	must(t, "a user of the account allowed kms:RetireGrant", retire(admin, g))
	must(t, "the grantee with RetireGrant", retire(grantee, mk("Encrypt", "RetireGrant")))
	must(t, "the account's root", retire(f.root, mk("Encrypt")))

	for _, c := range []struct {
		name          string
		in            RetireGrantInput
		code, message string
	}{
		{"nothing", RetireGrantInput{}, CodeValidation, "Grant token OR (grant ID, key ID) must be specified"},
		{"a key without a grant ID", RetireGrantInput{KeyID: k.ID}, CodeValidation, "Grant token OR (grant ID, key ID) must be specified"},
		{"a token ecrd did not issue", RetireGrantInput{GrantToken: "AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MWM4Mzc0MWFiYjc0ZDE1ODkyNGFl"}, CodeInvalidGrantToken, "The grant token is not valid"},
		{"a token that is not base64", RetireGrantInput{GrantToken: "%%%"}, CodeInvalidGrantToken, "The grant token is not valid"},
		{"a grant ID of another form", RetireGrantInput{KeyID: k.ID, GrantID: "abc"}, CodeInvalidGrantID, "Invalid grant ID abc"},
		{"a grant that does not exist", RetireGrantInput{KeyID: k.ID, GrantID: strings.Repeat("a", 64)}, CodeNotFound, "Grant ID " + strings.Repeat("a", 64) + " not found"},
		{"a key that does not exist", RetireGrantInput{KeyID: "0b6f1a4e-2f5c-4d6a-9e1b-6a1d2c3b4a59", GrantID: strings.Repeat("a", 64)}, CodeNotFound, "does not exist"},
	} {
		wantErr(t, c.name, f.svc.RetireGrant(f.root, scope, c.in), c.code, c.message)
	}
}

func TestCreateGrantErrors(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	signing := f.createKey(t, CreateKeyInput{KeySpec: SpecECCP256, KeyUsage: UsageSignVerify})
	valid := f.grant(t, f.root, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("app"), Operations: []string{"Encrypt"}})
	app := userARN("app")
	for _, c := range []struct {
		name          string
		in            CreateGrantInput
		code, message string
	}{
		{"only CreateGrant", CreateGrantInput{KeyID: k.ID, GranteePrincipal: app, Operations: []string{"CreateGrant"}}, CodeValidation, "Grants must not contain only the CreateGrant operation."},
		{"no operations", CreateGrantInput{KeyID: k.ID, GranteePrincipal: app, Operations: []string{}}, CodeValidation, "Grants must contain at least one operation."},
		{"an unknown operation", CreateGrantInput{KeyID: k.ID, GranteePrincipal: app, Operations: []string{"Encrypt", "Rotate"}}, CodeValidation,
			"1 validation error detected: Value '[Encrypt, Rotate]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [Decrypt, Encrypt, "},
		{"both constraints", CreateGrantInput{KeyID: k.ID, GranteePrincipal: app, Operations: []string{"Encrypt"},
			Constraints: &GrantConstraints{EncryptionContextSubset: map[string]string{"a": "b"}, EncryptionContextEquals: map[string]string{"a": "b"}}}, CodeValidation, "More than one constraint supplied"},
		{"signing on a symmetric key", CreateGrantInput{KeyID: k.ID, GranteePrincipal: app, Operations: []string{"Sign"}}, CodeValidation,
			"Grant operation Sign is not valid for key " + k.ARN},
		{"data keys from a signing key", CreateGrantInput{KeyID: signing.ID, GranteePrincipal: app, Operations: []string{"GenerateDataKey"}}, CodeValidation,
			"Grant operation GenerateDataKey is not valid for key " + signing.ARN},
		{"a constraint on Sign", CreateGrantInput{KeyID: signing.ID, GranteePrincipal: app, Operations: []string{"Sign"},
			Constraints: &GrantConstraints{EncryptionContextSubset: map[string]string{"a": "b"}}}, CodeValidation, "Grant constraints are not valid for the Sign operation"},
		{"a principal of other characters", CreateGrantInput{KeyID: k.ID, GranteePrincipal: "user app", Operations: []string{"Encrypt"}}, CodeValidation,
			"1 validation error detected: Value 'user app' at 'granteePrincipal' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"},
		{"a name of other characters", CreateGrantInput{KeyID: k.ID, GranteePrincipal: app, Operations: []string{"Encrypt"}, Name: "a name"}, CodeValidation,
			"Value 'a name' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{"a token ecrd did not issue", CreateGrantInput{KeyID: k.ID, GranteePrincipal: app, Operations: []string{"Encrypt"}, GrantTokens: []string{"token"}}, CodeInvalidGrantToken, "The grant token is not valid"},
		{"eleven tokens", CreateGrantInput{KeyID: k.ID, GranteePrincipal: app, Operations: []string{"Encrypt"}, GrantTokens: slices.Repeat([]string{valid.GrantToken}, 11)}, CodeValidation,
			"at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10"},
		{"an alias", CreateGrantInput{KeyID: "alias/app", GranteePrincipal: app, Operations: []string{"Encrypt"}}, CodeNotFound, "Invalid keyId 'alias/app'"},
		{"dry run", CreateGrantInput{KeyID: k.ID, GranteePrincipal: app, Operations: []string{"Encrypt"}, DryRun: true}, CodeDryRun, "DryRun"},
	} {
		_, err := f.svc.CreateGrant(f.root, scope, c.in)
		wantErr(t, c.name, err, c.code, c.message)
	}
	// A token CreateGrant returned is accepted.
	must(t, "CreateGrant with a grant token", second(f.svc.CreateGrant(f.root, scope, CreateGrantInput{KeyID: k.ID, GranteePrincipal: app,
		Operations: []string{"Decrypt"}, GrantTokens: []string{valid.GrantToken}})))
	// Keys pending deletion take no grants, but list theirs.
	_, err := f.svc.ScheduleKeyDeletion(f.root, scope, k.ID, nil)
	must(t, "ScheduleKeyDeletion", err)
	_, err = f.svc.CreateGrant(f.root, scope, CreateGrantInput{KeyID: k.ID, GranteePrincipal: app, Operations: []string{"Encrypt"}})
	wantErr(t, "a key pending deletion", err, CodeInvalidState, k.ARN+" is pending deletion.")
	gs, _, err := f.svc.ListGrants(f.root, scope, ListGrantsInput{KeyID: k.ID})
	if err != nil || len(gs) != 2 {
		t.Errorf("ListGrants of a key pending deletion: %d %v", len(gs), err)
	}
	// A user without kms:CreateGrant.
	_, err = f.svc.CreateGrant(f.user(t, "nobody", ""), scope, CreateGrantInput{KeyID: signing.ID, GranteePrincipal: app, Operations: []string{"Sign"}})
	wantErr(t, "CreateGrant without permission", err, CodeAccessDenied, "kms:CreateGrant on resource: "+signing.ARN)
	_, _, err = f.svc.ListGrants(f.user(t, "lister", ""), scope, ListGrantsInput{KeyID: signing.ID})
	wantErr(t, "ListGrants without permission", err, CodeAccessDenied, "kms:ListGrants")
	wantErr(t, "RevokeGrant without permission", f.svc.RevokeGrant(f.user(t, "revoker", ""), scope, signing.ID, valid.GrantID, false), CodeAccessDenied, "kms:RevokeGrant")
	wantErr(t, "RevokeGrant of a malformed ID", f.svc.RevokeGrant(f.root, scope, signing.ID, "xyz", false), CodeInvalidGrantID, "Invalid grant ID xyz")
	_, _, err = f.svc.ListGrants(f.root, scope, ListGrantsInput{KeyID: signing.ID, GrantID: "xyz"})
	wantErr(t, "ListGrants of a malformed ID", err, CodeInvalidGrantID, "Invalid grant ID xyz")
	_, _, err = f.svc.ListGrants(f.root, scope, ListGrantsInput{KeyID: signing.ID, Limit: ptr(0)})
	wantErr(t, "ListGrants with limit 0", err, CodeValidation, "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")
	_, _, err = f.svc.ListRetirableGrants(f.user(t, "retirer", ""), scope, app, nil, "")
	wantErr(t, "ListRetirableGrants without permission", err, CodeAccessDenied, "kms:ListRetirableGrants on resource: *")
	// Grant tokens of other operations are checked the same way.
	wantErr(t, "CheckGrantTokens", f.svc.CheckGrantTokens([]string{valid.GrantToken, "forged"}), CodeInvalidGrantToken, "The grant token is not valid")
	must(t, "CheckGrantTokens of issued tokens", f.svc.CheckGrantTokens([]string{valid.GrantToken}))
}

// TestGrantCreateGrant checks what a grant's CreateGrant permission
// allows: grants for a subset of its operations, at least as strict.
func TestGrantCreateGrant(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	delegate := f.user(t, "delegate", "")
	f.grant(t, f.root, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("delegate"), Operations: []string{"Encrypt", "Decrypt", "CreateGrant"},
		Constraints: &GrantConstraints{EncryptionContextSubset: map[string]string{"repository": "app"}}})
	ok := func(name string, ops []string, c *GrantConstraints) {
		t.Helper()
		_, err := f.svc.CreateGrant(delegate, scope, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("app"), Operations: ops, Constraints: c})
		must(t, name, err)
	}
	refused := func(name string, ops []string, c *GrantConstraints) {
		t.Helper()
		_, err := f.svc.CreateGrant(delegate, scope, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("app"), Operations: ops, Constraints: c})
		wantErr(t, name, err, CodeAccessDenied, "a grant's CreateGrant permission allows only grants for operations that grant allows")
	}
	ok("the same constraint", []string{"Encrypt"}, &GrantConstraints{EncryptionContextSubset: map[string]string{"repository": "app"}})
	ok("a stricter subset", []string{"Decrypt"}, &GrantConstraints{EncryptionContextSubset: map[string]string{"repository": "app", "layer": "1"}})
	ok("an equals constraint", []string{"Encrypt"}, &GrantConstraints{EncryptionContextEquals: map[string]string{"repository": "app"}})
	refused("no constraint", []string{"Encrypt"}, nil)
	refused("a looser constraint", []string{"Encrypt"}, &GrantConstraints{EncryptionContextSubset: map[string]string{"layer": "1"}})
	refused("an operation the grant lacks", []string{"GenerateDataKey"}, &GrantConstraints{EncryptionContextSubset: map[string]string{"repository": "app"}})
}

// TestGrantsGoWithTheirKey checks that a key's grants document goes when
// the key's deletion comes due.
func TestGrantsGoWithTheirKey(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	f.grant(t, f.root, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("app"), RetiringPrincipal: userARN("ops"), Operations: []string{"Encrypt"}})
	_, err := f.svc.ScheduleKeyDeletion(f.root, scope, k.ID, ptr(7))
	must(t, "ScheduleKeyDeletion", err)
	f.clock = f.clock.AddDate(0, 0, 8)
	retirable, _, err := f.svc.ListRetirableGrants(f.root, scope, userARN("ops"), nil, "")
	if err != nil || len(retirable) != 0 {
		t.Errorf("ListRetirableGrants after the key's deletion: %d %v", len(retirable), err)
	}
	f.createKey(t, CreateKeyInput{}) // purges deleted keys
	if _, err := f.meta.IAMEntity(bg, acct, grantsKind, keyEntity(region, k.ID)); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("the grants of a deleted key remain: %v", err)
	}
}

// identityContext creates a user ("user/<name>") of an account with an
// inline policy (none if empty) and returns a context acting as it.
func identityContext(f *fixture, account, user, policy string) context.Context {
	name := strings.TrimPrefix(user, "user/")
	root := rootOf(account)
	u, err := f.ids.CreateUser(root, identity.UserInput{Name: name})
	if err != nil {
		panic(err)
	}
	if policy != "" {
		if err := f.ids.PutInlinePolicy(root, identity.Grantee{Kind: metadata.IAMUser, Name: name}, "inline", policy); err != nil {
			panic(err)
		}
	}
	return identity.NewContext(bg, identity.Principal{Account: account, ARN: u.ARN, UserID: u.ID, Type: identity.TypeUser, Name: name})
}
