package config

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRemoteRegions(t *testing.T) {
	cfg, err := load(t, []string{"--remote-regions",
		"eu-west-1=https://ecrd.eu.example.com:8443/?profile=dr&ca-file=/etc/ecrd/ca.pem, ap-south-1=http://10.0.0.7:5000?credentials-file=/run/secrets/aws%2Ccreds"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]RemoteRegion{
		"eu-west-1":  {URL: "https://ecrd.eu.example.com:8443", Profile: "dr", CAFile: "/etc/ecrd/ca.pem"},
		"ap-south-1": {URL: "http://10.0.0.7:5000", Profile: "default", CredentialsFile: "/run/secrets/aws,creds"},
	}
	if !maps.Equal(cfg.RemoteRegions, want) {
		t.Errorf("RemoteRegions = %+v, want %+v", cfg.RemoteRegions, want)
	}

	// The same from the environment and from the file; none by default.
	env, err := load(t, nil, map[string]string{"ECRD_REMOTE_REGIONS": "us-west-2=http://127.0.0.1:5001"})
	if err != nil || !maps.Equal(env.RemoteRegions, map[string]RemoteRegion{"us-west-2": {URL: "http://127.0.0.1:5001", Profile: "default"}}) {
		t.Errorf("from ECRD_REMOTE_REGIONS: %+v, %v", env.RemoteRegions, err)
	}
	file := filepath.Join(t.TempDir(), "ecrd.yaml")
	os.WriteFile(file, []byte("remote-regions: us-west-2=https://dr.example.com?profile=replicator\n"), 0o600)
	fromFile, err := load(t, []string{"--config", file}, nil)
	if err != nil || fromFile.RemoteRegions["us-west-2"] != (RemoteRegion{URL: "https://dr.example.com", Profile: "replicator"}) {
		t.Errorf("from the file: %+v, %v", fromFile.RemoteRegions, err)
	}
	if def, err := load(t, nil, nil); err != nil || def.RemoteRegions != nil {
		t.Errorf("default: %+v, %v", def.RemoteRegions, err)
	}

	// String gives back what Set reads (flags are applied again through it).
	v := remoteRegionsValue(want)
	again, err := parseRemoteRegions(v.String())
	if err != nil || !maps.Equal(again, want) {
		t.Errorf("String %q reads back as %+v, %v", v.String(), again, err)
	}
}

func TestRemoteRegionsRejects(t *testing.T) {
	tests := []struct{ in, want string }{
		{"eu-west-1", "entry 1 is not REGION=URL"},
		{"eu-west-1=http://a,", "entry 2 is empty"},
		{"Europe=http://a", `"Europe" does not look like a region`},
		{"eu-west-1=ftp://a", "region eu-west-1: the URL must be http:// or https://"},
		{"eu-west-1=ecrd.example.com", "must be http:// or https://"},
		{"eu-west-1=https://", "has no host"},
		{"eu-west-1=https://a/v2", "must not have a path"},
		{"eu-west-1=https://a#x", "fragment"},
		{"eu-west-1=https://a?region=x", `unknown URL parameter "region"`},
		{"eu-west-1=https://a?profile=a&profile=b", "profile is given 2 times"},
		{"eu-west-1=https://a?profile=", "profile is empty"},
		{"eu-west-1=https://a?profile=my%20profile", "spaces"},
		{"eu-west-1=http://a?ca-file=/ca.pem", "ca-file applies to https:// URLs only"},
		{"eu-west-1=https://a?x=%zz", "query does not parse"},
		{"eu-west-1=http://a,eu-west-1=http://b", "region eu-west-1 is given twice"},
		{"eu-west-1=http://%zz", "does not parse"},
	}
	for _, tt := range tests {
		_, err := load(t, nil, map[string]string{"ECRD_REMOTE_REGIONS": tt.in})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "ECRD_REMOTE_REGIONS: ") {
			t.Errorf("ECRD_REMOTE_REGIONS=%s: %v, want an error containing %q", tt.in, err, tt.want)
		}
		if _, err := load(t, []string{"--remote-regions", tt.in}, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("--remote-regions %s: %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
	// A password in the URL is refused without being quoted back (the flag
	// package quotes a bad flag's value, but that is the command line the
	// user typed; variables and files are not echoed).
	_, err := load(t, nil, map[string]string{"ECRD_REMOTE_REGIONS": "eu-west-1=https://ak:hunter2@a"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "must not carry credentials") {
		t.Errorf("a URL with a password: %v", err)
	}
}

func FuzzRemoteRegions(f *testing.F) {
	for _, s := range []string{"", "eu-west-1=https://a:1?profile=p&ca-file=/x", "us-east-1=http://h,us-west-2=http://h?credentials-file=%2Cx",
		"eu-west-1=http://a,eu-west-1=http://b", "x=y", ",", "eu-west-1=https://[::1]:5000/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseRemoteRegions(s)
		if err != nil {
			return
		}
		v := remoteRegionsValue(m)
		again, err := parseRemoteRegions(v.String())
		if err != nil || !maps.Equal(again, m) {
			t.Fatalf("%q parses as %+v, whose String %q reads back as %+v, %v", s, m, v.String(), again, err)
		}
		for region, r := range m {
			if !regionRE.MatchString(region) || (!strings.HasPrefix(r.URL, "http://") && !strings.HasPrefix(r.URL, "https://")) || r.Profile == "" || strings.Contains(r.URL, "?") {
				t.Fatalf("%q parses as %+v", s, m)
			}
		}
	})
}
