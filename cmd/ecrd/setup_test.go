package main

import (
	"net"
	"testing"

	"github.com/ecrd/ecrd/internal/config"
	"github.com/ecrd/ecrd/internal/ecrhost"
	"github.com/ecrd/ecrd/internal/metadata"
)

func TestEndpoints(t *testing.T) {
	scope := metadata.Scope{Account: "123456789012", Region: "eu-west-1"}
	addr := &net.TCPAddr{IP: net.IPv4zero, Port: 5000}
	for _, c := range []struct {
		cfg  config.Config
		want string
	}{
		{config.Config{}, "http://localhost:5000"},
		{config.Config{PublicURL: "https://registry.example.com/"}, "https://registry.example.com"},
		{config.Config{RegistryDomain: "localhost"}, "http://123456789012.dkr.ecr.eu-west-1.localhost:5000"},
		{config.Config{PublicURL: "https://registry.example.com", RegistryDomain: "example.com"}, "https://123456789012.dkr.ecr.eu-west-1.example.com"},
		{config.Config{PublicURL: "https://registry.example.com:8443", RegistryDomain: "example.com"}, "https://123456789012.dkr.ecr.eu-west-1.example.com:8443"},
	} {
		endpoint, err := endpoints(c.cfg, addr)
		if err != nil {
			t.Fatal(err)
		}
		got := endpoint(scope)
		if got != c.want {
			t.Errorf("%+v: %s, want %s", c.cfg, got, c.want)
		}
		// The server reads the registry back from the host it hands out.
		if h, ok := ecrhost.Parse(hostOf(got)); ok != (c.cfg.RegistryDomain != "") || (ok && (h.Account != scope.Account || h.Region != scope.Region)) {
			t.Errorf("%+v: %s parses as %+v %v", c.cfg, got, h, ok)
		}
	}
}
