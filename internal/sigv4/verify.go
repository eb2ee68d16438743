package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultMaxSkew is the clock skew ECR and STS allow (their "Signature
// expired" messages say "15 min."), used when Verifier.MaxSkew is zero.
const DefaultMaxSkew = 15 * time.Minute

// keyCacheSize bounds the derived-key cache: a few entries per active access
// key per day is all a server needs.
const keyCacheSize = 256

// Verifier checks signatures. The zero value is ready to use; a Verifier
// must not be copied after first use, and is safe for concurrent use.
type Verifier struct {
	// MaxSkew is how far the request time may be from Now, either way.
	// Zero means DefaultMaxSkew.
	MaxSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	keys map[keyID][]byte // derived signing keys, at most keyCacheSize
}

// keyID identifies a derived key by a hash of the secret (never the secret
// itself) and the scope it was derived for.
type keyID struct {
	secret                [sha256.Size]byte
	date, region, service string
}

// Verify checks a request against the authentication data Parse returned
// and the secret of p.Credential.AccessKeyID. In order, it checks:
//   - that p is well formed (IncompleteSignature);
//   - the request time: within MaxSkew of Now, or for a presigned request
//     not yet past X-Amz-Expires (Expired, NotYetCurrent);
//   - that the scope date is the request's date, that 'host' is signed and
//     that every x-amz-* header but x-amz-content-sha256 is signed
//     (SignatureMismatch), and that every signed header is present
//     (IncompleteSignature);
//   - the payload: x-amz-content-sha256, when signed, must equal the
//     body's hash; UNSIGNED-PAYLOAD is accepted only for presigned requests
//     (SignatureMismatch);
//   - the signature, compared in constant time (SignatureMismatch).
//
// It does not check the scope's region or service against the endpoint: see
// Credential.CheckScope. Every error is an *Error.
func (v *Verifier) Verify(r *Request, p *Parsed, secret string) error {
	if err := p.validate(); err != nil {
		return err
	}
	if err := v.checkTime(p); err != nil {
		return err
	}
	if err := checkScopeDate(p); err != nil {
		return err
	}
	if _, ok := slices.BinarySearch(p.SignedHeaders, "host"); !ok {
		return &Error{Code: SignatureMismatch, Message: hostUnsignedMessage}
	}
	if err := checkUnsignedAmz(r, p.SignedHeaders); err != nil {
		return err
	}
	c, err := newCanonical(r, p.SignedHeaders, p.Presigned)
	if err != nil {
		return err
	}
	payloads, err := payloadHashes(r, p)
	if err != nil {
		return err
	}
	uris := []string{canonicalURI(r.Path, p.Credential.Service)}
	if n := normalizedURI(r.Path, p.Credential.Service); n != "" {
		uris = append(uris, n)
	}
	key := v.signingKey(secret, p.Credential)
	scope := p.Credential.scope()
	for _, uri := range uris {
		for _, payload := range payloads {
			sig := signature(key, stringToSign(p.Time, scope, c.request(uri, payload)))
			if hmac.Equal([]byte(sig), []byte(p.Signature)) {
				return nil
			}
		}
	}
	return &Error{Code: SignatureMismatch, Message: mismatchMessage}
}

// validate re-checks what Parse guarantees, since a caller may build a
// Parsed by hand.
func (p *Parsed) validate() error {
	switch {
	case p == nil:
		return &Error{Code: IncompleteSignature, Message: "The request has no parsed authentication data."}
	case !validSignature(p.Signature):
		return signatureFormatError()
	case p.Presigned && (p.Expires < 0 || p.Expires > MaxPresignExpiry):
		return errorf(IncompleteSignature, "X-Amz-Expires must be less than a week (in seconds) that is %d", int(MaxPresignExpiry/time.Second))
	}
	if err := validateCredential(p.Credential); err != nil {
		return err
	}
	return checkSignedHeaders(p.SignedHeaders)
}

// checkTime applies the skew window, worded as AWS words it, and for a
// presigned request its expiry (which, as in S3, gets no extra skew).
func (v *Verifier) checkTime(p *Parsed) error {
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	n := now().UTC().Truncate(time.Second)
	t := p.Time.UTC()
	if t.After(n.Add(skew)) {
		return errorf(NotYetCurrent, "Signature not yet current: %s is still later than %s (%s + %s.)",
			amzTime(t), amzTime(n.Add(skew)), amzTime(n), skewText(skew))
	}
	if p.Presigned {
		if end := t.Add(p.Expires); n.After(end) {
			return errorf(Expired, "Request has expired: it was valid until %s (X-Amz-Date %s + X-Amz-Expires %d) and it is now %s.",
				amzTime(end), amzTime(t), int(p.Expires/time.Second), amzTime(n))
		}
		return nil
	}
	if t.Before(n.Add(-skew)) {
		return errorf(Expired, "Signature expired: %s is now earlier than %s (%s - %s.)",
			amzTime(t), amzTime(n.Add(-skew)), amzTime(n), skewText(skew))
	}
	return nil
}

func amzTime(t time.Time) string { return t.UTC().Format(amzDateFormat) }

// skewText renders the window as AWS does ("15 min"), falling back to
// seconds for a window that is not whole minutes.
func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return fmt.Sprintf("%d sec", d/time.Second)
}

// checkScopeDate requires the credential scope's date to be the request's
// UTC date. AWS reports this as a signature failure.
func checkScopeDate(p *Parsed) error {
	if d := p.Time.UTC().Format(scopeDateFormat); d != p.Credential.Date {
		return errorf(SignatureMismatch,
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			p.Credential.Date, d, amzTime(p.Time))
	}
	return nil
}

// maxReportedHeaders bounds the header names an error lists.
const maxReportedHeaders = 4

// checkUnsignedAmz rejects x-amz-* headers that are present but not signed,
// as S3 does ("There were headers present in the request which were not
// signed"): such a header could change what the request means without
// breaking its signature. x-amz-content-sha256 is exempt because some
// clients send it unsigned; when it is not signed the body is hashed anyway.
func checkUnsignedAmz(r *Request, signed []string) error {
	var unsigned []string
	for k := range r.Header {
		if len(k) < 6 || !strings.EqualFold(k[:6], "x-amz-") {
			continue
		}
		name := strings.ToLower(k)
		if _, ok := slices.BinarySearch(signed, name); !ok && name != "x-amz-content-sha256" {
			unsigned = append(unsigned, fragment(name, 48))
		}
	}
	if len(unsigned) == 0 {
		return nil
	}
	sort.Strings(unsigned)
	if len(unsigned) > maxReportedHeaders {
		unsigned = append(unsigned[:maxReportedHeaders], "...")
	}
	return errorf(SignatureMismatch, "There were headers present in the request which were not signed: %s", strings.Join(unsigned, ", "))
}

// payloadHashes returns the payload hashes the signature may have been
// computed over. A presigned URL's body is unknown when it is signed, so S3
// style signers use UNSIGNED-PAYLOAD while botocore-style signers hash the
// (usually empty) body: both are tried.
func payloadHashes(r *Request, p *Parsed) ([]string, error) {
	computed := r.BodyHash
	if computed == "" {
		computed = payloadHash(r.Body)
	}
	if _, ok := slices.BinarySearch(p.SignedHeaders, "x-amz-content-sha256"); ok {
		values, _ := lookupHeader(r.Header, "x-amz-content-sha256") // present: canonicalHeaders checked
		claimed := strings.TrimSpace(strings.Join(values, ","))
		switch {
		case claimed == computed:
			return []string{claimed}, nil
		case claimed == UnsignedPayload && p.Presigned:
			return []string{claimed}, nil
		case claimed == UnsignedPayload || strings.HasPrefix(claimed, "STREAMING-"):
			return nil, errorf(SignatureMismatch, "x-amz-content-sha256 '%s' is accepted only on presigned requests; sign the payload's SHA-256.", fragment(claimed, 48))
		}
		return nil, &Error{Code: SignatureMismatch, Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	if p.Presigned {
		return []string{computed, UnsignedPayload}, nil
	}
	return []string{computed}, nil
}

// signingKey returns the derived key for secret and the credential scope,
// from the cache when it can. When the cache is full an arbitrary entry is
// evicted: entries for past days are never used again, so no LRU is needed.
func (v *Verifier) signingKey(secret string, c Credential) []byte {
	id := keyID{secret: sha256.Sum256([]byte(secret)), date: c.Date, region: c.Region, service: c.Service}
	v.mu.Lock()
	key, ok := v.keys[id]
	v.mu.Unlock()
	if ok {
		return key
	}
	key = deriveKey(secret, c)
	// Clone so the cache does not pin the request's Authorization header.
	id.date, id.region, id.service = strings.Clone(c.Date), strings.Clone(c.Region), strings.Clone(c.Service)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keys == nil {
		v.keys = make(map[keyID][]byte)
	}
	if len(v.keys) >= keyCacheSize {
		for old := range v.keys {
			delete(v.keys, old)
			break
		}
	}
	v.keys[id] = key
	return key
}

// CheckScope checks the credential scope against the endpoint the request
// was routed to: the service must be service, and the region must be region
// unless region is "" (IAM and STS, which are signed for us-east-1 or the
// client's region). AWS reports both as signature failures.
func (c Credential) CheckScope(service, region string) error {
	if c.Service != service {
		return errorf(SignatureMismatch, "Credential should be scoped to correct service: '%s'.", service)
	}
	if region != "" && c.Region != region {
		return errorf(SignatureMismatch, "Credential should be scoped to a valid region, not '%s'.", c.Region)
	}
	return nil
}
