package sigv4

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sign signs r in place with header authentication, as an AWS SDK does: it
// sets X-Amz-Date, signs host and every header present except those SDKs
// never sign, and sets Authorization. To sign with temporary credentials,
// set the X-Amz-Security-Token header first. cred.Date is ignored: the scope
// date is t's UTC date.
func Sign(r *Request, cred Credential, secret string, t time.Time) error {
	cred.Date = t.UTC().Format(scopeDateFormat)
	if err := checkSignable(r, cred); err != nil {
		return err
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Del("Authorization")
	r.Header.Set("X-Amz-Date", amzTime(t))
	signed := signableHeaders(r.Header)
	if err := checkSignedHeaders(signed); err != nil {
		return fmt.Errorf("sigv4: cannot sign: %w", err)
	}
	c, err := newCanonical(r, signed, false)
	if err != nil {
		return fmt.Errorf("sigv4: cannot sign: %w", err)
	}
	key := deriveKey(secret, cred)
	sig := signature(key, stringToSign(t, cred.scope(), c.request(canonicalURI(r.Path, cred.Service), payloadHash(r.Body))))
	r.Header.Set("Authorization", Algorithm+" Credential="+cred.AccessKeyID+"/"+cred.scope()+
		", SignedHeaders="+c.signedHeaders+", Signature="+sig)
	return nil
}

// Presign returns r's query string with query-string authentication added,
// valid from t for expires (one second to a week, whole seconds). Only host
// is signed and the payload is UNSIGNED-PAYLOAD, as for S3 presigned URLs,
// so whoever holds the URL can use it from any HTTP client. To presign with
// temporary credentials, put X-Amz-Security-Token in r.RawQuery first.
// cred.Date is ignored: the scope date is t's UTC date.
func Presign(r *Request, cred Credential, secret string, t time.Time, expires time.Duration) (string, error) {
	if expires < time.Second || expires > MaxPresignExpiry || expires%time.Second != 0 {
		return "", fmt.Errorf("sigv4: cannot presign: expiry %v is not a whole number of seconds from 1s to a week", expires)
	}
	cred.Date = t.UTC().Format(scopeDateFormat)
	if err := checkSignable(r, cred); err != nil {
		return "", err
	}
	pairs, err := parseQuery(r.RawQuery)
	if err != nil {
		return "", fmt.Errorf("sigv4: cannot presign: the query string is malformed: %w", err)
	}
	for _, q := range pairs {
		if i := slices.Index(presignParams[:], q.name); i >= 0 && i != qSecurityToken {
			return "", fmt.Errorf("sigv4: cannot presign: the query already has %s", q.name)
		}
	}
	pairs = append(pairs,
		queryPair{presignParams[qAlgorithm], Algorithm},
		queryPair{presignParams[qCredential], cred.AccessKeyID + "/" + cred.scope()},
		queryPair{presignParams[qDate], amzTime(t)},
		queryPair{presignParams[qExpires], strconv.Itoa(int(expires / time.Second))},
		queryPair{presignParams[qSignedHeaders], "host"},
	)
	headers, err := canonicalHeaders(r, []string{"host"})
	if err != nil {
		return "", err
	}
	c := canonical{method: r.Method, query: canonicalQuery(pairs, true), headers: headers, signedHeaders: "host"}
	key := deriveKey(secret, cred)
	sig := signature(key, stringToSign(t, cred.scope(), c.request(canonicalURI(r.Path, cred.Service), UnsignedPayload)))
	return c.query + "&" + presignParams[qSignature] + "=" + sig, nil
}

// checkSignable rejects what the verifier would reject anyway.
func checkSignable(r *Request, cred Credential) error {
	if err := validateCredential(cred); err != nil {
		return fmt.Errorf("sigv4: cannot sign: %w", err)
	}
	if r.Host == "" {
		return errors.New("sigv4: cannot sign: the request has no Host")
	}
	return nil
}

// newCanonical builds the URI- and payload-independent parts of r's
// canonical request. Errors are *Error.
func newCanonical(r *Request, signed []string, presigned bool) (canonical, error) {
	headers, err := canonicalHeaders(r, signed)
	if err != nil {
		return canonical{}, err
	}
	pairs, err := parseQuery(r.RawQuery)
	if err != nil {
		return canonical{}, errorf(SignatureMismatch, "The query string cannot be canonicalized: %s.", err)
	}
	return canonical{
		method:        r.Method,
		query:         canonicalQuery(pairs, presigned),
		headers:       headers,
		signedHeaders: strings.Join(signed, ";"),
	}, nil
}

// signableHeaders lists host and every header present, lowercased, sorted
// and unique, leaving out those the AWS SDKs never sign because proxies and
// HTTP stacks add or rewrite them.
func signableHeaders(h http.Header) []string {
	names := []string{"host"}
	for k := range h {
		switch name := strings.ToLower(k); name {
		case "authorization", "user-agent", "x-amzn-trace-id", "expect", "transfer-encoding", "host":
		default:
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
