package sigv4

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	goodCred   = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
	goodSig    = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	goodSigned = "host;x-amz-date"
)

func authHeader(cred, signed, sig string) string {
	return Algorithm + " Credential=" + cred + ", SignedHeaders=" + signed + ", Signature=" + sig
}

func TestParseAuthorization(t *testing.T) {
	for _, tc := range []struct {
		name    string
		auth    []string
		date    string // X-Amz-Date; "-" for none
		want    Code
		message string // a prefix of the message
	}{
		{name: "valid", auth: []string{authHeader(goodCred, goodSigned, goodSig)}},
		{name: "valid without spaces", auth: []string{Algorithm + " Credential=" + goodCred + ",SignedHeaders=" + goodSigned + ",Signature=" + goodSig}},
		{name: "none", want: MissingAuthentication, message: "Missing Authentication Token"},
		{name: "empty", auth: []string{""}, want: IncompleteSignature,
			message: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."},
		{name: "bearer without date", auth: []string{"Bearer eyJhbGciOi"}, date: "-", want: IncompleteSignature,
			message: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."},
		{name: "sigv2", auth: []string{"AWS AKIDEXAMPLE:qaNdqGsI6bq4Hi+9Gzovwyjbh0E="}, want: IncompleteSignature, message: "Authorization header requires 'Credential'"},
		{name: "sigv4a", auth: []string{"AWS4-ECDSA-P256-SHA256 Credential=x"}, want: IncompleteSignature,
			message: "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'."},
		{name: "two headers", auth: []string{authHeader(goodCred, goodSigned, goodSig), authHeader(goodCred, goodSigned, goodSig)}, want: IncompleteSignature},
		{name: "missing signature", auth: []string{Algorithm + " Credential=" + goodCred + ", SignedHeaders=" + goodSigned}, want: IncompleteSignature,
			message: "Authorization header requires 'Signature' parameter."},
		{name: "no equal sign", auth: []string{Algorithm + " Credential " + goodCred + ", SignedHeaders=" + goodSigned + ", Signature=" + goodSig},
			want: IncompleteSignature, message: "'Credential AKIDEXAMPLE/20150830/...' not a valid key=value pair (missing equal-sign) in Authorization header."},
		{name: "duplicate part", auth: []string{authHeader(goodCred, goodSigned, goodSig) + ", Signature=" + goodSig}, want: IncompleteSignature,
			message: "Authorization header has more than one 'Signature' parameter."},
		{name: "unknown part", auth: []string{authHeader(goodCred, goodSigned, goodSig) + ", Region=x"}, want: IncompleteSignature},
		{name: "too long", auth: []string{authHeader(goodCred, goodSigned, goodSig) + strings.Repeat(" ", maxAuthorizationBytes)}, want: IncompleteSignature},
		{name: "credential parts", auth: []string{authHeader("AKIDEXAMPLE/20150830/us-east-1/aws4_request", goodSigned, goodSig)}, want: IncompleteSignature,
			message: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20150830/us-east-1/aws4_request'"},
		{name: "credential terminator", auth: []string{authHeader("AKIDEXAMPLE/20150830/us-east-1/service/aws4", goodSigned, goodSig)}, want: IncompleteSignature,
			message: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4'."},
		{name: "credential date", auth: []string{authHeader("AKIDEXAMPLE/20150230/us-east-1/service/aws4_request", goodSigned, goodSig)}, want: IncompleteSignature},
		{name: "credential key", auth: []string{authHeader("AKID-EXAMPLE/20150830/us-east-1/service/aws4_request", goodSigned, goodSig)}, want: IncompleteSignature},
		{name: "credential empty key", auth: []string{authHeader("/20150830/us-east-1/service/aws4_request", goodSigned, goodSig)}, want: IncompleteSignature},
		{name: "credential region", auth: []string{authHeader("AKIDEXAMPLE/20150830/US-EAST-1/service/aws4_request", goodSigned, goodSig)}, want: IncompleteSignature},
		{name: "credential service", auth: []string{authHeader("AKIDEXAMPLE/20150830/us-east-1//aws4_request", goodSigned, goodSig)}, want: IncompleteSignature},
		{name: "signed headers empty", auth: []string{authHeader(goodCred, "", goodSig)}, want: IncompleteSignature},
		{name: "signed headers empty name", auth: []string{authHeader(goodCred, "host;;x-amz-date", goodSig)}, want: IncompleteSignature},
		{name: "signed headers upper", auth: []string{authHeader(goodCred, "Host;x-amz-date", goodSig)}, want: IncompleteSignature},
		{name: "signed headers unsorted", auth: []string{authHeader(goodCred, "x-amz-date;host", goodSig)}, want: IncompleteSignature,
			message: "SignedHeaders must be sorted and must not repeat a header."},
		{name: "signed headers repeated", auth: []string{authHeader(goodCred, "host;host;x-amz-date", goodSig)}, want: IncompleteSignature},
		{name: "signed headers too many", auth: []string{authHeader(goodCred, manyHeaders(maxSignedHeaders+1), goodSig)}, want: IncompleteSignature},
		{name: "signed headers at limit", auth: []string{authHeader(goodCred, manyHeaders(maxSignedHeaders), goodSig)}},
		{name: "signature short", auth: []string{authHeader(goodCred, goodSigned, goodSig[1:])}, want: IncompleteSignature},
		{name: "signature upper", auth: []string{authHeader(goodCred, goodSigned, strings.ToUpper(goodSig))}, want: IncompleteSignature},
		{name: "date extended format", auth: []string{authHeader(goodCred, goodSigned, goodSig)}, date: "2015-08-30T12:36:00Z", want: IncompleteSignature,
			message: "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{name: "date one-digit hour", auth: []string{authHeader(goodCred, goodSigned, goodSig)}, date: "20150830T93600ZZ", want: IncompleteSignature},
		{name: "date missing", auth: []string{authHeader(goodCred, goodSigned, goodSig)}, date: "-", want: IncompleteSignature,
			message: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"X-Amz-Date": {suiteDate}}
			switch tc.date {
			case "-":
				h.Del("X-Amz-Date")
			case "":
			default:
				h.Set("X-Amz-Date", tc.date)
			}
			if tc.auth != nil {
				h["Authorization"] = tc.auth
			}
			p, err := Parse(&Request{Method: "GET", Host: "h", Path: "/", Header: h})
			if CodeOf(err) != tc.want {
				t.Fatalf("got %v, want code %v", err, tc.want)
			}
			if err != nil {
				if msg := err.(*Error).Message; !strings.HasPrefix(msg, tc.message) {
					t.Fatalf("message\n got %q\nwant %q...", msg, tc.message)
				}
				return
			}
			if p.Credential.AccessKeyID != suiteKeyID || p.Signature != goodSig || !p.Time.Equal(suiteTime) {
				t.Fatalf("parsed %+v", p)
			}
		})
	}
}

func manyHeaders(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = "h" + strconv.Itoa(1000+i)
	}
	names[n-1] = "host"
	return strings.Join(names, ";")
}

func TestParseDateHeader(t *testing.T) {
	h := http.Header{"Date": {"Sun, 30 Aug 2015 12:36:00 GMT"}, "Authorization": {authHeader(goodCred, "date;host", goodSig)}}
	p, err := Parse(&Request{Method: "GET", Host: "h", Path: "/", Header: h})
	if err != nil || !p.Time.Equal(suiteTime) {
		t.Fatalf("got %v, %v", p, err)
	}
	h.Set("Date", "2015-08-30")
	if _, err := Parse(&Request{Header: h}); CodeOf(err) != IncompleteSignature {
		t.Fatalf("bad Date header: got %v", err)
	}
}

func TestParsePresigned(t *testing.T) {
	valid := "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + strings.ReplaceAll(goodCred, "/", "%2F") +
		"&X-Amz-Date=" + suiteDate + "&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=" + goodSig
	for _, tc := range []struct {
		name, query string
		want        Code
		message     string
	}{
		{name: "valid", query: valid},
		{name: "valid with token", query: valid + "&X-Amz-Security-Token=abc%2Bdef"},
		{name: "missing expires", query: strings.Replace(valid, "&X-Amz-Expires=900", "", 1), want: IncompleteSignature, message: presignRequired},
		{name: "only a signature", query: "X-Amz-Signature=" + goodSig, want: IncompleteSignature, message: presignRequired},
		{name: "duplicate", query: valid + "&X-Amz-Date=" + suiteDate, want: IncompleteSignature},
		{name: "duplicate token", query: valid + "&X-Amz-Security-Token=a&X-Amz-Security-Token=b", want: IncompleteSignature},
		{name: "algorithm", query: strings.Replace(valid, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1), want: IncompleteSignature},
		{name: "expires too long", query: strings.Replace(valid, "=900", "=604801", 1), want: IncompleteSignature},
		{name: "expires a week", query: strings.Replace(valid, "=900", "=604800", 1)},
		{name: "expires negative", query: strings.Replace(valid, "=900", "=-1", 1), want: IncompleteSignature},
		{name: "expires huge", query: strings.Replace(valid, "=900", "=99999999999999999999", 1), want: IncompleteSignature},
		{name: "malformed", query: valid + "&x=%zz", want: IncompleteSignature},
		{name: "encoded name", query: strings.Replace(valid, "X-Amz-Algorithm", "X-Amz-%41lgorithm", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(&Request{Method: "GET", Host: "h", Path: "/", RawQuery: tc.query})
			if CodeOf(err) != tc.want {
				t.Fatalf("got %v, want code %v", err, tc.want)
			}
			if err != nil {
				if msg := err.(*Error).Message; !strings.HasPrefix(msg, tc.message) {
					t.Fatalf("message %q", msg)
				}
				return
			}
			if !p.Presigned || p.Credential.Service != "service" || p.Expires == 0 || !p.Time.Equal(suiteTime) {
				t.Fatalf("parsed %+v", p)
			}
		})
	}
}

func TestVerifyRejectsBadParsed(t *testing.T) {
	v := &Verifier{Now: func() time.Time { return suiteTime }}
	r := suite[0].request()
	good, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*Parsed{
		"nil":               nil,
		"unsorted headers":  {Credential: good.Credential, SignedHeaders: []string{"x-amz-date", "host"}, Signature: goodSig, Time: suiteTime},
		"bad signature":     {Credential: good.Credential, SignedHeaders: good.SignedHeaders, Signature: "zz", Time: suiteTime},
		"bad credential":    {Credential: Credential{AccessKeyID: "A", Date: "2015", Region: "r", Service: "s"}, SignedHeaders: good.SignedHeaders, Signature: goodSig, Time: suiteTime},
		"presign too long":  {Credential: good.Credential, SignedHeaders: good.SignedHeaders, Signature: goodSig, Time: suiteTime, Presigned: true, Expires: MaxPresignExpiry + 1},
		"presign negative":  {Credential: good.Credential, SignedHeaders: good.SignedHeaders, Signature: goodSig, Time: suiteTime, Presigned: true, Expires: -1},
		"no signed headers": {Credential: good.Credential, SignedHeaders: nil, Signature: goodSig, Time: suiteTime},
	} {
		if err := v.Verify(r, p, suiteSecret); CodeOf(err) != IncompleteSignature && !(name == "no signed headers" && CodeOf(err) == SignatureMismatch) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"":              "/",
		"/":             "/",
		"//":            "/",
		"/a/./b":        "/a/b",
		"/a/b/..":       "/a",
		"/a/b/../":      "/a/",
		"/../../a":      "/a",
		"//example//":   "/example/",
		"/a%2F../b":     "/a%2F../b", // an escaped slash is not a separator
		"/example/..":   "/",
		"/.../a":        "/.../a",
		"/a/b/c/../../": "/a/",
	} {
		if got := normalizePath(in); got != want {
			t.Errorf("normalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalValue(t *testing.T) {
	for in, want := range map[string]string{
		"  a   b  c ":   "a b c",
		"\ta \t b\t":    "a \t b",
		"a\u00a0":       "a",
		"":              "",
		"   ":           "",
		`" a   b "`:     `" a b "`,
		"x\u00a0  \ty ": "x\u00a0 \ty",
	} {
		var b strings.Builder
		writeCanonicalValue(&b, in)
		if b.String() != want {
			t.Errorf("canonical value of %q = %q, want %q", in, b.String(), want)
		}
	}
}

func TestSkewWording(t *testing.T) {
	r := suite[0].request()
	p, _ := Parse(r)
	v := &Verifier{MaxSkew: 90 * time.Second, Now: func() time.Time { return suiteTime.Add(2 * time.Minute) }}
	err := v.Verify(r, p, suiteSecret)
	want := "Signature expired: 20150830T123600Z is now earlier than 20150830T123630Z (20150830T123800Z - 90 sec.)"
	if CodeOf(err) != Expired || err.(*Error).Message != want {
		t.Fatalf("got %v", err)
	}
	v = &Verifier{MaxSkew: 5 * time.Minute, Now: func() time.Time { return suiteTime.Add(-6 * time.Minute) }}
	err = v.Verify(r, p, suiteSecret)
	want = "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z (20150830T123000Z + 5 min.)"
	if CodeOf(err) != NotYetCurrent || err.(*Error).Message != want {
		t.Fatalf("got %v", err)
	}
}

func TestCheckScope(t *testing.T) {
	c := Credential{AccessKeyID: "AKID", Date: "20260304", Region: "us-east-1", Service: "sts"}
	if err := c.CheckScope("sts", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckScope("sts", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	err := c.CheckScope("iam", "")
	if CodeOf(err) != SignatureMismatch || err.(*Error).Message != "Credential should be scoped to correct service: 'iam'." {
		t.Fatalf("got %v", err)
	}
	err = c.CheckScope("sts", "eu-west-1")
	if CodeOf(err) != SignatureMismatch || err.(*Error).Message != "Credential should be scoped to a valid region, not 'us-east-1'." {
		t.Fatalf("got %v", err)
	}
}

func TestKeyCacheIsBoundedAndKeyedBySecret(t *testing.T) {
	v := &Verifier{}
	c := Credential{AccessKeyID: "AKID", Date: "20260304", Region: "us-east-1", Service: "ecr"}
	first := v.signingKey("secret-0", c)
	for i := range 2 * keyCacheSize {
		v.signingKey("secret-"+strconv.Itoa(i), c)
	}
	if n := len(v.keys); n > keyCacheSize {
		t.Fatalf("cache holds %d keys", n)
	}
	if got := v.signingKey("secret-0", c); string(got) != string(first) {
		t.Fatal("a re-derived key differs")
	}
	if got := v.signingKey("secret-1", c); string(got) == string(first) {
		t.Fatal("another secret got the same key")
	}
	other := c
	other.Region = "us-west-2"
	if got := v.signingKey("secret-0", other); string(got) == string(first) {
		t.Fatal("another region got the same key")
	}
}

func TestCodeString(t *testing.T) {
	if SignatureMismatch.String() != "SignatureMismatch" || Code(0).String() != "Code(0)" || Code(99).String() != "Code(99)" {
		t.Fatal("Code.String")
	}
	err := error(&Error{Code: Expired, Message: "m"})
	if err.Error() != "sigv4: Expired: m" || CodeOf(err) != Expired || CodeOf(nil) != 0 {
		t.Fatal("Error")
	}
}
