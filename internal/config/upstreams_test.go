package config

import (
	"slices"
	"testing"
)

func TestInsecureUpstreams(t *testing.T) {
	cfg, err := load(t, []string{"--insecure-upstreams", "127.0.0.1:5001, Lab.Example:80"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.1:5001", "lab.example:80"}; !slices.Equal(cfg.InsecureUpstreams, want) {
		t.Fatalf("InsecureUpstreams = %q, want %q", cfg.InsecureUpstreams, want)
	}
	for _, bad := range []string{"example.com", "h:0", ":80", "h:x"} {
		if _, err := load(t, []string{"--insecure-upstreams", bad}, nil); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
