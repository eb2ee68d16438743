package registry

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// FuzzPushToken: whatever a push-order token holds, decoding it returns
// a cursor or errBadToken, never panics; a cursor it returns encodes to a
// token that decodes to the same cursor, in its order only.
func FuzzPushToken(f *testing.F) {
	d := digest.FromString("x")
	for _, seed := range []string{
		"",
		encodePushToken(OrderPushedNewest, metadata.PushCursor{PushedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Digest: d}),
		encodePushToken(OrderPushedOldest, metadata.PushCursor{PushedAt: time.Unix(0, -1), Digest: d}),
		encodeToken(d.String()),
		base64.RawURLEncoding.EncodeToString([]byte("pn:9223372036854775807|" + d.String())),
		base64.RawURLEncoding.EncodeToString([]byte("pn:-0|sha512:" + d.Encoded())),
		base64.RawURLEncoding.EncodeToString([]byte("pn:1|sha256:")),
		"garbage!",
		"cG46",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		for _, order := range []ImageOrder{OrderPushedNewest, OrderPushedOldest} {
			c, err := decodePushToken(order, token)
			if err != nil {
				if err != errBadToken {
					t.Fatalf("decoding %q: %v, not errBadToken", token, err)
				}
				continue
			}
			if token == "" {
				if !c.IsZero() {
					t.Fatalf("the empty token decodes to %+v", c)
				}
				continue
			}
			if c.Digest.Validate() != nil {
				t.Fatalf("%q decodes to an invalid digest %q", token, c.Digest)
			}
			again := encodePushToken(order, c)
			back, err := decodePushToken(order, again)
			if err != nil || back != c {
				t.Fatalf("%q: %+v encodes to %q, which decodes to %+v, %v", token, c, again, back, err)
			}
			other := OrderPushedOldest
			if order == OrderPushedOldest {
				other = OrderPushedNewest
			}
			if _, err := decodePushToken(other, token); err != errBadToken {
				t.Fatalf("%q, made for order %d, is read in order %d: %v", token, order, other, err)
			}
			if _, err := decodeToken(token); err != errBadToken {
				t.Fatalf("%q, a push-order token, is read as a digest-order one: %v", token, err)
			}
		}
	})
}
