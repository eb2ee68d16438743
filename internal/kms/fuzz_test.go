package kms

import (
	"bytes"
	"testing"

	"github.com/ecrd/ecrd/internal/awserr"
)

// FuzzDecrypt feeds Decrypt and DecryptDataKey arbitrary blobs and
// encryption contexts: they never panic, and only the blobs encryption
// made, with their own context, ever decrypt.
func FuzzDecrypt(f *testing.F) {
	fx := newFixture(f)
	k := fx.createKey(f, CreateKeyInput{})
	encCtx := map[string]string{"repository": "app"}
	made := map[string][]byte{} // blob -> plaintext
	for _, pt := range [][]byte{[]byte("a"), bytes.Repeat([]byte("layer key "), 10)} {
		e, err := fx.svc.Encrypt(fx.root, scope, EncryptInput{KeyID: k.ID, Plaintext: pt, EncryptionContext: encCtx})
		if err != nil {
			f.Fatal(err)
		}
		made[string(e.CiphertextBlob)] = pt
		f.Add(e.CiphertextBlob, "repository", "app")
		f.Add(e.CiphertextBlob, "repository", "ap")
		f.Add(e.CiphertextBlob[:len(e.CiphertextBlob)-1], "repository", "app")
	}
	f.Add([]byte{1}, "", "")
	f.Add([]byte{1, '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '1', '2', 255}, "k", "v")
	f.Fuzz(func(t *testing.T, blob []byte, key, value string) {
		ctx := map[string]string{key: value}
		want, known := made[string(blob)]
		valid := known && key == "repository" && value == "app"
		d, err := fx.svc.Decrypt(fx.root, scope, DecryptInput{CiphertextBlob: blob, EncryptionContext: ctx})
		switch {
		case err == nil && !valid:
			t.Fatalf("a blob encryption did not make decrypted: %x with %v", blob, ctx)
		case err == nil && !bytes.Equal(d.Plaintext, want):
			t.Fatalf("decrypted %q, want %q", d.Plaintext, want)
		case err != nil && valid:
			t.Fatalf("a valid blob did not decrypt: %v", err)
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("not a KMS error: %v", err)
			}
		}
		pt, _, err := fx.svc.DecryptDataKey(bg, blob, ctx)
		if (err == nil) != valid || (err == nil && !bytes.Equal(pt, want)) {
			t.Fatalf("DecryptDataKey = %q, %v (valid %v)", pt, err, valid)
		}
	})
}

// FuzzGrantToken feeds RetireGrant's and CheckGrantTokens' token reader
// arbitrary strings: it never panics, and only the tokens CreateGrant
// returned read, each as its own grant.
func FuzzGrantToken(f *testing.F) {
	fx := newFixture(f)
	k := fx.createKey(f, CreateKeyInput{})
	issued := map[string]string{} // token -> grant ID
	for range 2 {
		g, err := fx.svc.CreateGrant(fx.root, scope, CreateGrantInput{KeyID: k.ID, GranteePrincipal: userARN("app"), Operations: []string{"Encrypt"}})
		if err != nil {
			f.Fatal(err)
		}
		issued[g.GrantToken] = g.GrantID
		f.Add(g.GrantToken)
		f.Add(g.GrantToken[:len(g.GrantToken)-1])
		f.Add(g.GrantToken + "A")
	}
	f.Add("")
	f.Add("AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MWM4")
	f.Fuzz(func(t *testing.T, token string) {
		ref, err := fx.svc.parseGrantToken(token)
		id, known := issued[token]
		switch {
		case err == nil && !known:
			t.Fatalf("a token CreateGrant did not return reads: %q", token)
		case err != nil && known:
			t.Fatalf("an issued token does not read: %v", err)
		case err == nil && (ref.grantID != id || ref.keyID != k.ID || ref.scope != scope):
			t.Fatalf("token read as %+v", ref)
		case err != nil && awserr.Code(err) != CodeInvalidGrantToken:
			t.Fatalf("not InvalidGrantTokenException: %v", err)
		}
	})
}
