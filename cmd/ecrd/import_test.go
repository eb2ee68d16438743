package main

import (
	"strings"
	"testing"
)

func TestTagOfRefName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{"", "", false},
		{"v1.2.3", "v1.2.3", false},                                 // skopeo, oras
		{"latest", "latest", false},                                 // docker save
		{"index.docker.io/library/alpine:3.20", "3.20", false},      // crane --annotate-ref, containerd
		{"localhost:5000/team/app:v1", "v1", false},                 // a port before the path
		{"app:v1", "v1", false},                                     // name:tag
		{"app:v1@sha256:" + strings.Repeat("a", 64), "v1", false},   // tag and digest
		{"app@sha256:" + strings.Repeat("a", 64), "", false},        // by digest: no tag
		{"localhost:5000/team/app", "", true},                       // a name without a tag
		{"example.com/team/app", "", true},                          // likewise
		{"-v1", "", true},                                           // not a tag
		{"app:" + strings.Repeat("x", 129), "", true},               // a tag too long
		{"registry.example.com:5000/a/b:c-d_e.f", "c-d_e.f", false}, // every tag character
	} {
		got, err := tagOfRefName(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("tagOfRefName(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1_234_567: "1.2 MB", 52_000 << 20: "54.5 GB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
