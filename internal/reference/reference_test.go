package reference

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidateRepository(t *testing.T) {
	good := []string{"ab", "my-app", "team/app", "a.b", "a_b", "a__b", "a---b", "a/b/c/d", "0x", strings.Repeat("a", 256)}
	bad := []string{"", "a", "A1", "-ab", "ab-", "a..b", "a___b", "a//b", "/ab", "ab/", "a b", "a:b", strings.Repeat("a", 257), "team/App"}
	for _, n := range good {
		if err := ValidateRepository(n); err != nil {
			t.Errorf("ValidateRepository(%q) = %v, want nil", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateRepository(n); err == nil {
			t.Errorf("ValidateRepository(%q) = nil, want an error", n)
		}
	}
}

func TestValidateTag(t *testing.T) {
	good := []string{"latest", "v1.2.3", "_x", "A-b_c.d", strings.Repeat("t", 128)}
	bad := []string{"", ".x", "-x", "a/b", "a:b", "a b", strings.Repeat("t", 129)}
	for _, tag := range good {
		if err := ValidateTag(tag); err != nil {
			t.Errorf("ValidateTag(%q) = %v, want nil", tag, err)
		}
	}
	for _, tag := range bad {
		if err := ValidateTag(tag); err == nil {
			t.Errorf("ValidateTag(%q) = nil, want an error", tag)
		}
	}
}

func TestParseReference(t *testing.T) {
	sha256 := "sha256:" + strings.Repeat("a", 64)
	sha512 := "sha512:" + strings.Repeat("b", 128)
	tests := []struct {
		in         string
		wantTag    string
		wantDigest string
		wantErr    string
	}{
		{in: "latest", wantTag: "latest"},
		{in: sha256, wantDigest: sha256},
		{in: sha512, wantDigest: sha512},
		{in: "sha256:baddigeststring", wantErr: "invalid"},
		{in: "sha256:" + strings.Repeat("a", 63), wantErr: "invalid"},
		{in: "sha256:" + strings.Repeat("A", 64), wantErr: "invalid"},
		{in: "sha384:" + strings.Repeat("a", 96), wantErr: "only sha256 and sha512"},
		{in: "md5:abc", wantErr: "invalid"},
		{in: "-bad", wantErr: "tag"},
	}
	for _, tt := range tests {
		got, err := ParseReference(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseReference(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseReference(%q) = %v", tt.in, err)
			continue
		}
		if got.Tag != tt.wantTag || string(got.Digest) != tt.wantDigest {
			t.Errorf("ParseReference(%q) = %+v, want tag %q digest %q", tt.in, got, tt.wantTag, tt.wantDigest)
		}
		if got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"latest", "sha256:" + strings.Repeat("a", 64), "sha512:" + strings.Repeat("0", 128), "a:b:c", "", "..", "sha256:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			if len(err.Error()) > 600 {
				t.Fatalf("error message is %d bytes: messages must stay bounded", len(err.Error()))
			}
			return
		}
		if (r.Tag == "") == (r.Digest == "") {
			t.Fatalf("ParseReference(%q) = %+v: exactly one of tag and digest must be set", s, r)
		}
		if r.Digest != "" {
			if err := r.Digest.Validate(); err != nil {
				t.Fatalf("accepted digest %q does not validate: %v", r.Digest, err)
			}
		}
		if r.String() != s {
			t.Fatalf("String() = %q, want the input %q", r.String(), s)
		}
	})
}

func FuzzValidateRepository(f *testing.F) {
	for _, s := range []string{"ab", "team/app", "a__b", "a___b", "a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateRepository(s) != nil {
			return
		}
		// Accepted names are safe to use as path segments and SQL keys.
		if strings.Contains(s, "..") || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.ContainsAny(s, " \x00:?#%") {
			t.Fatalf("accepted unsafe repository name %q", s)
		}
	})
}

var (
	repositoryRE = regexp.MustCompile(`^` + RepositoryPattern + `$`)
	tagRE        = regexp.MustCompile(`^` + TagPattern + `$`)
)

// checkMatchers compares the hand-written matchers with the grammars'
// regular expressions on s.
func checkMatchers(t *testing.T, s string) {
	t.Helper()
	if got, want := isRepositoryName(s), repositoryRE.MatchString(s); got != want {
		t.Errorf("isRepositoryName(%q) = %v, the pattern says %v", s, got, want)
	}
	if got, want := isTag(s), tagRE.MatchString(s); got != want {
		t.Errorf("isTag(%q) = %v, the pattern says %v", s, got, want)
	}
}

func TestMatchers(t *testing.T) {
	for _, s := range []string{"", "a", "ab", "a/b", "a//b", "/a", "a/", "a.b", "a..b", "a_b", "a__b", "a___b", "a-b", "a---b",
		"a.-b", "a-.b", "a_-b", "-a", "a-", "_a", "a_", ".a", "a.", "A", "aB", "team/app-1.2_x__y", "0/1/2", "a/b.c/d--e",
		"Tag_1.0-rc", "_tag", ".tag", "-tag", "t" + strings.Repeat("x", 127), "t" + strings.Repeat("x", 128), "tag with space", "ü"} {
		checkMatchers(t, s)
	}
}

func FuzzMatchers(f *testing.F) {
	for _, s := range []string{"a/b", "a__b", "a-._b", "v1.0", "_x", "a//b"} {
		f.Add(s)
	}
	f.Fuzz(checkMatchers)
}
