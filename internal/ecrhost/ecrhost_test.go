package ecrhost

import (
	"regexp"
	"testing"
)

func TestString(t *testing.T) {
	for _, c := range []struct {
		h    Host
		want string
	}{
		{Host{Account: "123456789012", Region: "us-east-1", Domain: "amazonaws.com"}, "123456789012.dkr.ecr.us-east-1.amazonaws.com"},
		{Host{Account: "123456789012", Region: "us-east-1", Domain: "registry.test", Port: "5000"}, "123456789012.dkr.ecr.us-east-1.registry.test:5000"},
		{Host{Account: "123456789012", Region: "us-gov-west-1", FIPS: true, Domain: "amazonaws.com"}, "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com"},
		{Host{Account: "210987654321", Region: "cn-north-1", Domain: "amazonaws.com.cn", Port: "443"}, "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn:443"},
	} {
		if got := c.h.String(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.h, got, c.want)
		}
		if h, ok := Parse(c.want); !ok || h != c.h {
			t.Errorf("Parse(%s) = %+v %v", c.want, h, ok)
		}
	}
}

func TestParse(t *testing.T) {
	for host, want := range map[string]Host{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com":           {Account: "123456789012", Region: "us-east-1", Domain: "amazonaws.com"},
		"123456789012.DKR.ECR.US-EAST-1.Example.COM:8443":        {Account: "123456789012", Region: "us-east-1", Domain: "example.com", Port: "8443"},
		"123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com":  {Account: "123456789012", Region: "us-gov-east-1", FIPS: true, Domain: "amazonaws.com"},
		"123456789012.dkr.ecr.ap-southeast-2.localhost:5000":     {Account: "123456789012", Region: "ap-southeast-2", Domain: "localhost", Port: "5000"},
		"123456789012.dkr.ecr.eu-central-1.":                     {Account: "123456789012", Region: "eu-central-1"},
		"[123456789012.dkr.ecr.us-west-2.registry.test]:5000":    {Account: "123456789012", Region: "us-west-2", Domain: "registry.test", Port: "5000"},
		"123456789012.dkr.ecr.us-west-2.a:b:c":                   {Account: "123456789012", Region: "us-west-2", Domain: "a:b:c"},
		"123456789012.dkr.ecr.il-central-1.internal.example.org": {Account: "123456789012", Region: "il-central-1", Domain: "internal.example.org"},
	} {
		if got, ok := Parse(host); !ok || got != want {
			t.Errorf("Parse(%s) = %+v %v, want %+v", host, got, ok, want)
		}
	}
	for _, host := range []string{
		"", "localhost", "localhost:5000", "registry.example.com", "127.0.0.1:5000", "[::1]:5000",
		"12345678901.dkr.ecr.us-east-1.amazonaws.com",   // 11 digits
		"1234567890123.dkr.ecr.us-east-1.amazonaws.com", // 13
		"123456789012.dkr.ecr.us-east-1",                // no domain
		"123456789012.dkr.ecr.useast1.amazonaws.com",    // not a region
		"123456789012.dkr.ecr.us-east.amazonaws.com",
		"123456789012.dkr.ecr-gov.us-east-1.amazonaws.com",
		"x.123456789012.dkr.ecr.us-east-1.amazonaws.com",
		"123456789012.dkr.ecr.us-east-1a.amazonaws.com",
		"123456789012.dkr.ecrus-east-1.amazonaws.com",
		"public.ecr.aws",
	} {
		if h, ok := Parse(host); ok {
			t.Errorf("Parse(%q) = %+v, want no ECR host", host, h)
		}
	}
}

// FuzzParse: Parse never panics, what it reads is canonical (formatting it
// and parsing that gives it back), and a host formatted from valid parts
// parses back to them.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com", "123456789012.DKR.ECR.US-EAST-1.Example.COM:8443",
		"123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com", "[123456789012.dkr.ecr.us-west-2.registry.test]:5000",
		"123456789012.dkr.ecr.us-west-2.a:b:c", "123456789012.dkr.ecr.eu-central-1.", "localhost:5000", "[::1]:80", "",
		"123456789012.dkr.ecr.us-east-1.a]:80", "123456789012.dkr.ecr.us-east-1.x:",
	} {
		f.Add(s, "123456789012", "us-east-1", "example.com", "5000", false)
	}
	f.Add("", "210987654321", "ap-northeast-3", "registry.internal", "", true)
	account := regexp.MustCompile(`^[0-9]{12}$`)
	region := regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]+$`)
	domain := regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)
	port := regexp.MustCompile(`^[0-9]{0,5}$`)
	f.Fuzz(func(t *testing.T, s, acct, reg, dom, p string, fips bool) {
		if h, ok := Parse(s); ok {
			if again, ok := Parse(h.String()); !ok || again != h {
				t.Fatalf("Parse(%q) = %+v, formatted %q, parsed back as %+v %v", s, h, h.String(), again, ok)
			}
		}
		h := Host{Account: acct, Region: reg, FIPS: fips, Domain: dom, Port: p}
		if account.MatchString(acct) && region.MatchString(reg) && domain.MatchString(dom) && port.MatchString(p) {
			if got, ok := Parse(h.String()); !ok || got != h {
				t.Fatalf("%+v formatted as %q parsed back as %+v %v", h, h.String(), got, ok)
			}
		}
	})
}
