package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, func(k string) string { return env[k] })
}

func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ecrd.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:6000\nregion: eu-west-1\nupload-ttl: 2h\naccount-id: \"111111111111\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, []string{"--config", file, "--region", "ap-south-1"}, map[string]string{
		"ECRD_UPLOAD_TTL": "3h",
		"ECRD_REGION":     "us-west-2",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:6000" { // file
		t.Errorf("Listen = %q, want the file's", cfg.Listen)
	}
	if cfg.UploadTTL != 3*time.Hour { // env over file
		t.Errorf("UploadTTL = %v, want the environment's 3h", cfg.UploadTTL)
	}
	if cfg.Region != "ap-south-1" { // flag over env and file
		t.Errorf("Region = %q, want the flag's", cfg.Region)
	}
	if cfg.AccountID != "111111111111" {
		t.Errorf("AccountID = %q", cfg.AccountID)
	}
	if cfg.ShutdownTimeout != Default().ShutdownTimeout {
		t.Errorf("ShutdownTimeout = %v, want the default", cfg.ShutdownTimeout)
	}
}

func TestConfigFileFromEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ecrd.yaml")
	os.WriteFile(file, []byte("log-level: debug\n"), 0o600)
	cfg, err := load(t, nil, map[string]string{"ECRD_CONFIG": file})
	if err != nil || cfg.LogLevel != "debug" {
		t.Fatalf("Load = %+v, %v", cfg, err)
	}
}

func TestRejects(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("no-such-setting: 1\n"), 0o600)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--debug-listen", "0.0.0.0:6060"}, "not a loopback address"},
		{[]string{"--listen", "nonsense"}, "listen address"},
		{[]string{"--public-url", "ftp://x"}, "public URL"},
		{[]string{"--public-url", "http://x/path"}, "public URL"},
		{[]string{"--clock-skew", "1s"}, "too short"},
		{[]string{"--accept-any-credentials=maybe"}, "true or false"},
		{[]string{"--account-id", "12345"}, "12 digits"},
		{[]string{"--region", "Mars"}, "region"},
		{[]string{"--upload-ttl", "soon"}, "not a duration"},
		{[]string{"--upload-ttl", "1s"}, "too short"},
		{[]string{"--log-level", "loud"}, "log level"},
		{[]string{"--config", bad}, "unknown setting"},
		{[]string{"stray"}, "unexpected argument"},
		{[]string{"--min-free-space", "lots"}, "not a size"},
		{[]string{"--min-free-space", "-1"}, "not a size"},
		{[]string{"--max-client-connections", "many"}, "whole number"},
		{[]string{"--max-connections", "-5"}, "must not be negative"},
		{[]string{"--body-timeout", "10ms"}, "too short"},
		{[]string{"--gc-percent", "-1"}, "must not be negative"},
		{[]string{"--gomaxprocs", "-2"}, "must not be negative"},
		{[]string{"--metadata", "mysql://db:3306/ecrd"}, "metadata: not a postgres:// URL"},
		{[]string{"--metadata", "/var/lib/ecrd.db"}, "metadata: not a postgres:// URL"},
		{[]string{"--blobs", "gs://bucket"}, "blobs: not a s3:// URL"},
		{[]string{"--blobs", "s3:///no-bucket"}, "blobs: not a s3:// URL"},
		{[]string{"--blob-redirect", "5m"}, "needs an S3 blob store"},
		{[]string{"--blobs", "s3://b", "--blob-redirect", "1s"}, "use 0s (off), or 1m to 12h"},
	}
	for _, tt := range tests {
		_, err := load(t, tt.args, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%v) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
	for _, ok := range []string{"127.0.0.1:0", "[::1]:5000", "localhost:5000", "0.0.0.0:5000", ":5000"} {
		if _, err := load(t, []string{"--listen", ok}, nil); err != nil {
			t.Errorf("--listen %s: %v", ok, err)
		}
	}
	// A store URL's password never reaches an error.
	if _, err := load(t, []string{"--metadata", "mysql://u:hunter2@db/ecrd"}, nil); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad metadata URL: %v, want an error without its password", err)
	}
	cfg, err := load(t, nil, map[string]string{"ECRD_METADATA": "postgres://ecrd@127.0.0.1:5432/ecrd", "ECRD_BLOBS": "s3://images/ecrd?region=us-east-1"})
	if err != nil || cfg.Metadata != "postgres://ecrd@127.0.0.1:5432/ecrd" || cfg.Blobs != "s3://images/ecrd?region=us-east-1" || !cfg.Shared() {
		t.Errorf("store URLs from the environment: %+v, %v", cfg, err)
	}
	cfg, err = load(t, []string{"--accept-any-credentials", "--public-url", "https://registry.example.com"}, nil)
	if err != nil || !cfg.AcceptAnyCredentials || cfg.PublicURL != "https://registry.example.com" {
		t.Errorf("bool flag without value: %+v, %v", cfg, err)
	}
}

func TestHelp(t *testing.T) {
	fs := flag.NewFlagSet("ecrd serve", flag.ContinueOnError)
	var out strings.Builder
	fs.SetOutput(&out)
	_, err := Load(fs, []string{"--help"}, func(string) string { return "" })
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Load(--help) = %v, want flag.ErrHelp", err)
	}
	cfg := Default()
	for _, s := range cfg.settings() {
		if !strings.Contains(out.String(), "-"+s.name) || !strings.Contains(out.String(), s.env()) {
			t.Errorf("--help does not document %s (%s)", s.name, s.env())
		}
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1024": 1024, "512MiB": 512 << 20, "2 GiB": 2 << 30, "3KiB": 3 << 10, "7B": 7} {
		cfg, err := load(t, []string{"--min-free-space", in}, nil)
		if err != nil || cfg.MinFreeSpace != want {
			t.Errorf("--min-free-space %s: %d, %v; want %d", in, cfg.MinFreeSpace, err, want)
		}
	}
	v := sizeValue(512 << 20)
	if v.String() != "512MiB" {
		t.Errorf("String() = %q", v.String())
	}
}
