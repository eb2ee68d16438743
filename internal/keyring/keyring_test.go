package keyring

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, err := New(Generate())
	if err != nil {
		t.Fatal(err)
	}
	sealed := k.Seal([]byte("secret"), []byte("AKIA1"))
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("sealed data contains the plaintext")
	}
	got, err := k.Open(sealed, []byte("AKIA1"))
	if err != nil || string(got) != "secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(sealed, []byte("AKIA2")); err == nil {
		t.Fatal("sealed data opened under another context")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open(sealed, []byte("AKIA1")); err == nil {
		t.Fatal("tampered data opened")
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := Generate(), Generate()
	old, _ := New(oldKey)
	sealed := old.Seal([]byte("s"), nil)
	id, mac := old.MAC("token", []byte("m"))

	rotated, _ := New(newKey, oldKey)
	if got, err := rotated.Open(sealed, nil); err != nil || string(got) != "s" {
		t.Fatalf("rotated keyring cannot open old data: %v", err)
	}
	if err := rotated.VerifyMAC(id, "token", []byte("m"), mac); err != nil {
		t.Fatalf("rotated keyring rejects an old MAC: %v", err)
	}
	if rotated.PrimaryID() == old.PrimaryID() {
		t.Fatal("the new key is not primary")
	}
	dropped, _ := New(newKey)
	if _, err := dropped.Open(sealed, nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Open after dropping the key = %v, want ErrUnknownKey", err)
	}
	if err := dropped.VerifyMAC(id, "token", []byte("m"), mac); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("VerifyMAC after dropping the key = %v", err)
	}
}

func TestMACPurposes(t *testing.T) {
	k, _ := New(Generate())
	id, mac := k.MAC("registry-token", []byte("msg"))
	if err := k.VerifyMAC(id, "registry-token", []byte("msg"), mac); err != nil {
		t.Fatal(err)
	}
	if err := k.VerifyMAC(id, "download-url", []byte("msg"), mac); err == nil {
		t.Fatal("a MAC verified under another purpose")
	}
	if err := k.VerifyMAC(id, "registry-token", []byte("msh"), mac); err == nil {
		t.Fatal("a MAC verified for another message")
	}
}

func TestParse(t *testing.T) {
	a, b := base64.StdEncoding.EncodeToString(Generate()), base64.StdEncoding.EncodeToString(Generate())
	k, err := Parse("# comment\n\n" + a + "\n" + b + "\n")
	if err != nil || len(k.keys) != 2 {
		t.Fatalf("Parse = %v, %v", k, err)
	}
	if k2, err := Parse(a + "," + b); err != nil || k2.PrimaryID() != k.PrimaryID() {
		t.Fatalf("comma-separated Parse = %v", err)
	}
	for _, bad := range []string{"", "# only a comment", "not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.key")
	k1, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreate = %v, created %v", err, created)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	k2, created, err := LoadOrCreate(path)
	if err != nil || created || k2.PrimaryID() != k1.PrimaryID() {
		t.Fatalf("second LoadOrCreate = %v, created %v, same key %v", err, created, k2.PrimaryID() == k1.PrimaryID())
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "#") {
		t.Fatal("the key file does not explain itself")
	}
}
