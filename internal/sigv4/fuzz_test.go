package sigv4

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// maxMessageBytes bounds every error message, whatever the input.
const maxMessageBytes = 600

var hex64 = regexp.MustCompile(`[0-9a-fA-F]{64}`)

// FuzzParse feeds arbitrary Authorization headers, query strings and dates
// to Parse (and what parses to Verify). Neither may panic; every error is an
// *Error with a known code and a bounded, printable message that never
// repeats a signature-sized hex string from the input; and whatever parses
// satisfies the invariants Verify relies on.
func FuzzParse(f *testing.F) {
	presign := "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" + goodSig
	f.Add(authHeader(goodCred, goodSigned, goodSig), "", suiteDate)
	f.Add(authHeader(goodCred, "host;x-amz-date;x-amz-security-token", goodSig), "a=b&c", suiteDate)
	f.Add("", presign, "")
	f.Add("", presign+"&X-Amz-Security-Token=t%2B", "20150830T123600Z")
	f.Add("AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=", "", "")
	f.Add("Bearer x", "X-Amz-Signature=%zz", "garbage")
	f.Add(Algorithm+" Credential="+goodCred+",,SignedHeaders=host,Signature=", "=&&=", "20151330T123600Z")
	f.Fuzz(func(t *testing.T, auth, rawQuery, amzDate string) {
		h := http.Header{}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		if amzDate != "" {
			h.Set("X-Amz-Date", amzDate)
		}
		r := &Request{Method: "GET", Host: "example.amazonaws.com", Path: "/", RawQuery: rawQuery, Header: h}
		p, err := Parse(r)
		if err != nil {
			checkError(t, err, auth+" "+rawQuery)
			return
		}
		if err := p.validate(); err != nil {
			t.Fatalf("Parse returned an invalid Parsed: %v", err)
		}
		if p.Presigned == (auth != "") {
			t.Fatalf("Presigned = %v with Authorization %q", p.Presigned, auth)
		}
		v := &Verifier{Now: func() time.Time { return p.Time }}
		if err := v.Verify(r, p, suiteSecret); err != nil {
			checkError(t, err, auth+" "+rawQuery)
		}
	})
}

func checkError(t *testing.T, err error, input string) {
	t.Helper()
	e, ok := err.(*Error)
	if !ok || e.Code < MissingAuthentication || e.Code > NotYetCurrent {
		t.Fatalf("error %#v is not an *Error with a known code", err)
	}
	if len(e.Message) == 0 || len(e.Message) > maxMessageBytes {
		t.Fatalf("message of %d bytes: %q", len(e.Message), e.Message)
	}
	for i := 0; i < len(e.Message); i++ {
		if c := e.Message[i]; c < 0x20 || c > 0x7e {
			t.Fatalf("unprintable byte %#x in message %q", c, e.Message)
		}
	}
	for _, sig := range hex64.FindAllString(input, -1) {
		if strings.Contains(e.Message, sig) {
			t.Fatalf("message repeats a signature from the input: %q", e.Message)
		}
	}
}
