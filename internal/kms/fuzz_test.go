package kms

import (
	"bytes"
	"testing"
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
