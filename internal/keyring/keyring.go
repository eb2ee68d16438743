// Package keyring holds ecrd's server keys and everything derived from
// them: the encryption of stored secrets (access keys' secret halves) and
// the MACs of self-verifying tokens (registry passwords, download URLs).
//
// A keyring has one primary key, used for new seals and MACs, and any
// number of older keys, still accepted, so that a key can be rotated:
// put the new key first, keep the old one until what it protects has
// expired or been re-sealed, then drop it. Every replica of a scale-out
// deployment must have the same keyring.
package keyring

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a server key in bytes.
const KeySize = 32

// Keyring is a set of server keys. It is safe for concurrent use.
type Keyring struct {
	keys []*key // keys[0] is the primary
}

type key struct {
	id   string // first 8 hex digits of the key's SHA-256: names it without revealing it
	seal cipher.AEAD
	mac  []byte // base of the MAC keys, one per purpose
}

// New builds a keyring from raw keys, the first being the primary.
func New(raw ...[]byte) (*Keyring, error) {
	if len(raw) == 0 {
		return nil, errors.New("a keyring needs at least one key")
	}
	k := &Keyring{}
	for i, r := range raw {
		if len(r) != KeySize {
			return nil, fmt.Errorf("server key %d has %d bytes; it must have %d", i+1, len(r), KeySize)
		}
		sum := sha256.Sum256(r)
		enc, err := hkdf.Key(sha256.New, r, nil, "ecrd secret sealing v1", 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(enc)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		mac, err := hkdf.Key(sha256.New, r, nil, "ecrd token mac v1", 32)
		if err != nil {
			return nil, err
		}
		k.keys = append(k.keys, &key{id: hex.EncodeToString(sum[:4]), seal: aead, mac: mac})
	}
	return k, nil
}

// PrimaryID names the primary key (a fingerprint, not the key).
func (k *Keyring) PrimaryID() string { return k.keys[0].id }

func (k *Keyring) find(id string) *key {
	for _, kk := range k.keys {
		if kk.id == id {
			return kk
		}
	}
	return nil
}

// ErrUnknownKey means sealed data or a token names a key the keyring no
// longer holds (or never held).
var ErrUnknownKey = errors.New("sealed with a server key this keyring does not hold")

// Seal encrypts and authenticates plaintext under the primary key.
// context is authenticated too, binding the ciphertext to what it belongs
// to (an access key ID, say), so it cannot be moved to another record.
func (k *Keyring) Seal(plaintext, context []byte) []byte {
	p := k.keys[0]
	nonce := make([]byte, p.seal.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	out := append([]byte(p.id+":"), nonce...)
	return p.seal.Seal(out, nonce, plaintext, context)
}

// Open decrypts what Seal produced, with the same context.
func (k *Keyring) Open(sealed, context []byte) ([]byte, error) {
	id, rest, ok := bytes.Cut(sealed, []byte(":"))
	if !ok {
		return nil, errors.New("sealed data is malformed")
	}
	kk := k.find(string(id))
	if kk == nil {
		return nil, ErrUnknownKey
	}
	n := kk.seal.NonceSize()
	if len(rest) < n {
		return nil, errors.New("sealed data is truncated")
	}
	return kk.seal.Open(nil, rest[:n], rest[n:], context)
}

// MAC returns the primary key's ID and its MAC of msg for a purpose
// (a short constant such as "registry-token"): the same message MACed for
// two purposes gives unrelated MACs.
func (k *Keyring) MAC(purpose string, msg []byte) (keyID string, mac []byte) {
	return k.keys[0].id, k.keys[0].sum(purpose, msg)
}

// VerifyMAC checks, in constant time, a MAC made by the key keyID.
func (k *Keyring) VerifyMAC(keyID, purpose string, msg, mac []byte) error {
	kk := k.find(keyID)
	if kk == nil {
		return ErrUnknownKey
	}
	if !hmac.Equal(kk.sum(purpose, msg), mac) {
		return errors.New("MAC does not match")
	}
	return nil
}

func (kk *key) sum(purpose string, msg []byte) []byte {
	h := hmac.New(sha256.New, kk.mac)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write(msg)
	return h.Sum(nil)
}

// Generate returns a new random server key.
func Generate() []byte {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// Parse reads keys written one per line in standard base64 (as
// `openssl rand -base64 32` prints them), the primary first. Blank lines
// and lines starting with '#' are ignored; commas also separate keys, so
// that a keyring fits in one environment variable.
func Parse(text string) (*Keyring, error) {
	var raw [][]byte
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, field := range strings.Split(line, ",") {
			field = strings.TrimSpace(field)
			if field == "" {
				continue
			}
			b, err := base64.StdEncoding.DecodeString(field)
			if err != nil {
				return nil, fmt.Errorf("server key %d is not base64: %w", len(raw)+1, err)
			}
			raw = append(raw, b)
		}
	}
	return New(raw...)
}

// LoadOrCreate reads the keyring file at path, creating it with one new
// key (mode 0600) if it does not exist. created says whether it did.
func LoadOrCreate(path string) (k *Keyring, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		text := "# ecrd server keys: the first is used for new secrets and tokens, the others\n" +
			"# are still accepted. Keep this file secret; every replica needs the same one.\n" +
			base64.StdEncoding.EncodeToString(Generate()) + "\n"
		if err := writeFileExclusive(path, []byte(text)); err != nil {
			return nil, false, fmt.Errorf("creating server key file: %w", err)
		}
		k, err := Parse(text)
		return k, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading server key file: %w", err)
	}
	k, err = Parse(string(b))
	if err != nil {
		return nil, false, fmt.Errorf("server key file %s: %w", path, err)
	}
	return k, false, nil
}

// writeFileExclusive creates path with mode 0600 and makes it durable.
func writeFileExclusive(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
