package blobspace_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore/filesystem"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/kms"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/blobspace"
	"github.com/ecrd/ecrd/internal/testutil"
)

const kmsKey = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func open(t *testing.T, keys blobspace.Keys) (*blobspace.Spaces, *filesystem.Store) {
	t.Helper()
	fs, err := filesystem.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return blobspace.New(fs, keys, time.Now, testutil.Logger()), fs
}

func blobOf(content []byte) metadata.Blob {
	return metadata.Blob{Digest: digest.FromBytes(content), Size: int64(len(content))}
}

// An encrypted space stores ciphertext and reads back the plaintext; a
// copy into it from the plaintext store checks what it read.
func TestEncryptedSpaceRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, fs := open(t, blobspace.WithServerKeys(nil, testutil.Keyring(t)))
	content := bytes.Repeat([]byte("layer bytes "), 10000)
	b := blobOf(content)

	plain, err := s.Of(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store(ctx, plain, b, bytes.NewReader(content), nil); err != nil {
		t.Fatal(err)
	}
	enc, err := s.Of(ctx, blobspace.ServerKeyARN)
	if err != nil || !enc.Encrypted() || enc.Key() != blobspace.ServerKeyARN {
		t.Fatalf("server key space = %+v, %v", enc, err)
	}
	if err := s.Copy(ctx, b, plain, enc); err != nil {
		t.Fatal(err)
	}
	ns, err := fs.Namespace(ctx, "server-key")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ns.Open(ctx, b.Digest)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(raw)
	raw.Close()
	if bytes.Contains(stored, content[:64]) {
		t.Fatal("the encrypted space holds the plaintext")
	}
	rc, err := s.Open(ctx, enc, b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read back %d bytes, %v; want the %d stored", len(got), err, len(content))
	}

	// A blob whose bytes do not match its digest is not copied.
	bad := metadata.Blob{Digest: digest.FromString("something else"), Size: b.Size}
	if err := s.Store(ctx, plain, bad, bytes.NewReader(content), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Copy(ctx, bad, plain, enc); err == nil {
		t.Fatal("a copy of corrupt bytes succeeded")
	}
	if ok, err := enc.Has(ctx, bad.Digest); ok || err != nil {
		t.Fatalf("the corrupt copy was kept: %v, %v", ok, err)
	}
}

// Key failures come back as *KeyFailure, saying which key, what it
// stopped and why.
func TestKeyFailures(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t, blobspace.WithServerKeys(nil, testutil.Keyring(t)))
	sp, err := s.Of(ctx, kmsKey)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("a blob")
	err = s.Store(ctx, sp, blobOf(content), bytes.NewReader(content), nil)
	var kf *blobspace.KeyFailure
	if !errors.As(err, &kf) || kf.Op != blobspace.OpWrite || kf.Key != kmsKey || kf.Cause == nil || kf.Cause.Code != "KMSInvalidStateException" {
		t.Fatalf("store under a KMS key without a key service: %#v", err)
	}
	if want := "KMS key " + kmsKey + " cannot be used (KMSInvalidStateException: this registry has no KMS key service)"; err.Error() != want {
		t.Fatalf("message %q, want %q", err.Error(), want)
	}
	if err := s.CheckKey(ctx, kmsKey, blobspace.OpRead); !errors.As(err, &kf) || kf.Op != blobspace.OpRead {
		t.Fatalf("CheckKey: %v", err)
	}
	if _, err := s.ResolveKey(ctx, "123456789012", "us-east-1", ""); !errors.As(err, &kf) || kf.Op != blobspace.OpCreate || kf.Key != "alias/aws/ecr" {
		t.Fatalf("ResolveKey: %v", err)
	}

	// Without any key service, an encrypted space cannot be opened.
	none, _ := open(t, nil)
	_, err = none.Of(ctx, kmsKey)
	if !errors.As(err, &kf) || kf.Cause != nil {
		t.Fatalf("space of a KMS key without a key service: %v", err)
	}
	if want := "the repository's blobs are encrypted under KMS key " + kmsKey + ", but this server has no KMS key service to decrypt them: run ecrd with its KMS"; err.Error() != want {
		t.Fatalf("message %q, want %q", err.Error(), want)
	}
}

// TestKeyChangedForgetsItsState: a key's state is checked at most every
// few seconds, unless a change to the key (followed from the outbox)
// says to check it again at once.
func TestKeyChangedForgetsItsState(t *testing.T) {
	ctx := identity.NewContext(context.Background(), identity.Root("123456789012"))
	meta := testutil.SQLite(t, "")
	ids := identity.New(meta, testutil.Keyring(t), testutil.Logger())
	if _, err := ids.CreateAccount(ctx, "123456789012"); err != nil {
		t.Fatal(err)
	}
	svc := kms.New(meta, testutil.Keyring(t), ids, testutil.Logger())
	scope := kms.Scope{Account: "123456789012", Region: "us-east-1"}
	key, err := svc.CreateKey(ctx, scope, kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := open(t, registry.KMSKeys(svc))
	if err := s.CheckKey(ctx, key.ARN, blobspace.OpWrite); err != nil {
		t.Fatalf("an enabled key: %v", err)
	}
	if err := svc.DisableKey(ctx, scope, key.ARN); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckKey(ctx, key.ARN, blobspace.OpWrite); err != nil {
		t.Fatalf("the state last seen is kept for a few seconds; got %v", err)
	}
	s.KeyChanged(key.ARN)
	var kf *blobspace.KeyFailure
	if err := s.CheckKey(ctx, key.ARN, blobspace.OpWrite); !errors.As(err, &kf) {
		t.Fatalf("a disabled key after its change was followed: %v, want a KeyFailure", err)
	}
}
