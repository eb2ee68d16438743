package s3store

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want location
	}{
		{"s3://my-bucket", location{Bucket: "my-bucket"}},
		{"s3://my.bucket/", location{Bucket: "my.bucket"}},
		{"s3://b12/reg/one/?region=eu-west-3", location{Bucket: "b12", Prefix: "reg/one", Region: "eu-west-3"}},
		{"s3://ecrd/blobs?endpoint=http://127.0.0.1:7070&region=us-east-1&force-path-style=true",
			location{Bucket: "ecrd", Prefix: "blobs", Endpoint: "http://127.0.0.1:7070", Region: "us-east-1", PathStyle: true}},
		{"S3://abc?endpoint=https%3A%2F%2Fs3.example.com%2Fgw&force-path-style=false",
			location{Bucket: "abc", Endpoint: "https://s3.example.com/gw"}},
	} {
		got, err := parseURL(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseURL(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for in, want := range map[string]string{
		"":                        "the scheme is \"\"",
		"http://bucket":           "the scheme is \"http\", want s3",
		"s3:bucket":               "no // after s3:",
		"s3://":                   "no bucket",
		"s3:///prefix":            "no bucket",
		"s3://AKIA:secret@bucket": "credentials do not go in the URL",
		"s3://bucket#x":           "fragment",
		"s3://ab":                 "has 2 characters",
		"s3://Bucket":             "has 'B'",
		"s3://bucket:9000":        "has ':'",
		"s3://-bucket":            "must begin and end with a letter or digit",
		"s3://a..b":               "two adjacent periods",
		"s3://192.168.1.2":        "is an IP address",
		"s3://bucket/a//b":        "empty segment",
		"s3://bucket/a/../b":      "a \"..\" segment",
		"s3://bucket/a%20b":       "has ' '",
		"s3://bucket/" + strings.Repeat("p", 513): "at most 512",
		"s3://bucket?endpoint=":                   "endpoint is empty",
		"s3://bucket?endpoint=ftp://x":            "endpoint's scheme is \"ftp\"",
		"s3://bucket?endpoint=http://":            "endpoint has no host",
		"s3://bucket?endpoint=http://u:p@h":       "endpoint has credentials",
		"s3://bucket?endpoint=http://h?x=1":       "query or fragment",
		"s3://bucket?endpoint=http://h:99999":     "not a port number",
		"s3://bucket?region=":                     "region \"\" should have 1 to 64",
		"s3://bucket?region=us east":              "has ' '",
		"s3://bucket?force-path-style=yes":        "force-path-style is \"yes\", want true or false",
		"s3://bucket?region=a&region=b":           "parameter \"region\" is given 2 times",
		"s3://bucket?acl=private":                 "unknown parameter \"acl\"",
		"s3://bucket?%zz":                         "the query is not valid",
		"s3://bu cket":                            "not a valid URL",
	} {
		_, err := parseURL(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "blob store URL: ") {
			t.Errorf("parseURL(%q) = %v; want an error saying %q", in, err, want)
		}
		if err != nil && strings.Contains(in, "secret") && strings.Contains(err.Error(), "secret") {
			t.Errorf("parseURL(%q) repeats the secret: %v", in, err)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"s3://bucket", "s3://bucket/prefix/a?region=us-east-1",
		"s3://ecrd/blobs?endpoint=http://127.0.0.1:7070&region=us-east-1&force-path-style=true",
		"s3://u:p@bucket", "s3:bucket", "s3://b/a//b", "s3://bucket?endpoint=http%3A%2F%2Fh%3A1",
		"s3://a.b-c/x_y/(z)!*'?force-path-style=1", "s3://[::1]/x", "s3://bucket?x=%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		loc, err := parseURL(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "blob store URL: ") {
				t.Fatalf("error %q does not say it is about the blob store URL", err)
			}
			if u, perr := url.Parse(raw); perr == nil && strings.EqualFold(u.Scheme, "s3") && u.Opaque == "" && u.User != nil &&
				!strings.Contains(err.Error(), "credentials do not go in the URL") {
				t.Fatalf("URL with credentials refused for another reason: %v", err)
			}
			return
		}
		if validBucket(loc.Bucket) != nil {
			t.Fatalf("accepted bucket %q", loc.Bucket)
		}
		if p, err := cleanPrefix(loc.Prefix); err != nil || p != loc.Prefix || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
			t.Fatalf("accepted prefix %q (%v)", loc.Prefix, err)
		}
		again, err := parseURL(loc.String())
		if err != nil || again != loc {
			t.Fatalf("%q parsed as %+v, formatted as %q, which parses as %+v, %v", raw, loc, loc.String(), again, err)
		}
	})
}
