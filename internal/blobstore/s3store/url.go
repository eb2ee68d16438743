package s3store

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// location is what a blob store URL names.
type location struct {
	Bucket string
	// Prefix is the key prefix, without leading or trailing '/'; "" for
	// the whole bucket.
	Prefix string
	// Endpoint is the S3-compatible server's URL; "" for AWS S3.
	Endpoint string
	// Region is "" when the URL names none (the AWS chain's is used).
	Region    string
	PathStyle bool
}

const urlForm = "s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION&force-path-style=true"

// maxPrefix bounds the key prefix, leaving room in S3's 1024-byte keys
// for the layout below it.
const maxPrefix = 512

// parseURL parses a blob store URL. Its errors name what is wrong, never
// repeating the URL, which may hold a secret a user put there by mistake.
func parseURL(raw string) (location, error) {
	fail := func(format string, args ...any) (location, error) {
		return location{}, fmt.Errorf("blob store URL: "+format, args...)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("not a valid URL (%v); the form is %s", err, urlForm)
	}
	switch {
	case !strings.EqualFold(u.Scheme, "s3"):
		return fail("the scheme is %q, want s3: %s", u.Scheme, urlForm)
	case u.Opaque != "":
		return fail("no // after s3: (the form is %s)", urlForm)
	case u.User != nil:
		return fail("credentials do not go in the URL: they come from the standard AWS chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, shared credential files, web identity, instance roles)")
	case u.Fragment != "" || strings.HasSuffix(raw, "#"):
		return fail("a fragment (#...) has no meaning here: %s", urlForm)
	case u.Host == "":
		return fail("no bucket: %s", urlForm)
	}
	var loc location
	if err := validBucket(u.Host); err != nil {
		return fail("%v", err)
	}
	loc.Bucket = u.Host
	if loc.Prefix, err = cleanPrefix(u.Path); err != nil {
		return fail("%v", err)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("the query is not valid (%v)", err)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return fail("parameter %q is given %d times", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "endpoint":
			if loc.Endpoint, err = validEndpoint(v); err != nil {
				return fail("%v", err)
			}
		case "region":
			if err := validRegion(v); err != nil {
				return fail("%v", err)
			}
			loc.Region = v
		case "force-path-style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fail("force-path-style is %q, want true or false", v)
			}
			loc.PathStyle = b
		default:
			return fail("unknown parameter %q (the parameters are endpoint, region and force-path-style)", k)
		}
	}
	return loc, nil
}

// String formats the location as a URL that parses back to it.
func (l location) String() string {
	s := "s3://" + l.Bucket
	if l.Prefix != "" {
		s += "/" + l.Prefix
	}
	q := url.Values{}
	if l.Endpoint != "" {
		q.Set("endpoint", l.Endpoint)
	}
	if l.Region != "" {
		q.Set("region", l.Region)
	}
	if l.PathStyle {
		q.Set("force-path-style", "true")
	}
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// validBucket applies S3's rules for bucket names.
func validBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q has %d characters; S3 bucket names have 3 to 63", b, len(b))
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("bucket name %q has %q: S3 bucket names have lowercase letters, digits, '.' and '-'", b, rune(c))
		}
	}
	if !isAlnum(b[0]) || !isAlnum(b[len(b)-1]) {
		return fmt.Errorf("bucket name %q must begin and end with a letter or digit", b)
	}
	if strings.Contains(b, "..") {
		return fmt.Errorf("bucket name %q has two adjacent periods", b)
	}
	if net.ParseIP(b) != nil {
		return fmt.Errorf("bucket name %q is an IP address, which S3 bucket names may not be", b)
	}
	return nil
}

func isAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// cleanPrefix checks the URL's path and returns it as a key prefix. Only
// the characters S3 calls safe in keys are allowed, so that every server
// stores and lists the keys alike.
func cleanPrefix(p string) (string, error) {
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return "", nil
	}
	if len(p) > maxPrefix {
		return "", fmt.Errorf("the key prefix has %d bytes; at most %d", len(p), maxPrefix)
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return "", fmt.Errorf("the key prefix %q has an empty segment (//)", p)
		case ".", "..":
			return "", fmt.Errorf("the key prefix %q has a %q segment", p, seg)
		}
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(isAlnum(c) || 'A' <= c && c <= 'Z' || strings.IndexByte("/!-_.*'()", c) >= 0) {
			return "", fmt.Errorf("the key prefix %q has %q: use letters, digits and / ! - _ . * ' ( )", p, rune(c))
		}
	}
	return p, nil
}

func validEndpoint(v string) (string, error) {
	e, err := url.Parse(v)
	switch {
	case v == "":
		return "", errors.New("endpoint is empty: leave it out for AWS S3, or give the server's URL, such as http://127.0.0.1:7070")
	case err != nil:
		return "", fmt.Errorf("endpoint is not a URL: %v", err.(*url.Error).Err)
	case e.Scheme != "http" && e.Scheme != "https":
		return "", fmt.Errorf("endpoint's scheme is %q, want http or https", e.Scheme)
	case e.Host == "" || e.Hostname() == "":
		return "", errors.New("endpoint has no host")
	case e.User != nil:
		return "", errors.New("endpoint has credentials in it: they come from the standard AWS chain")
	case e.RawQuery != "" || e.ForceQuery || e.Fragment != "" || strings.Contains(v, "#"):
		return "", errors.New("endpoint has a query or fragment")
	}
	if port := e.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("endpoint's port %q is not a port number", port)
		}
	}
	return v, nil
}

func validRegion(v string) error {
	if v == "" || len(v) > 64 {
		return fmt.Errorf("region %q should have 1 to 64 characters", v)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(isAlnum(c) || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return fmt.Errorf("region %q has %q: regions have letters, digits, '-' and '_'", v, rune(c))
		}
	}
	return nil
}
