// Package ecrhost formats and parses ECR-shaped registry host names,
// <account>.dkr.ecr[-fips].<region>.<domain>[:port], the one place that
// knows their form: the server writes them into repository URIs, proxy
// endpoints and download URLs when a registry domain is set (Host.String),
// and reads the registry a request addresses from its Host (Parse).
package ecrhost

import (
	"net"
	"regexp"
	"strings"
)

// Host is an ECR-shaped registry host.
type Host struct {
	Account string // 12 digits
	Region  string // e.g. us-east-1
	FIPS    bool   // dkr.ecr-fips: AWS's FIPS endpoints
	Domain  string // the DNS suffix after the region, e.g. amazonaws.com
	Port    string // "" for none
}

// String formats the host name, with ":port" when there is a port.
func (h Host) String() string {
	s := h.Account + ".dkr.ecr"
	if h.FIPS {
		s += "-fips"
	}
	s += "." + h.Region + "." + h.Domain
	if h.Port != "" {
		s = net.JoinHostPort(s, h.Port)
	}
	return s
}

// hostRE matches the name part: <account>.dkr.ecr[-fips].<region>.<domain>,
// the domain being anything (AWS's own, or the one the server is given).
var hostRE = regexp.MustCompile(`(?s)^([0-9]{12})\.dkr\.ecr(-fips)?\.([a-z]{2}(?:-[a-z]+)+-[0-9]+)\.(.*)$`)

// Parse reads an ECR-shaped host name, in any case, with or without a
// port; false for any other host. The result is lower-case.
func Parse(host string) (Host, bool) {
	host = strings.ToLower(host) // no copy when it already is
	if !strings.Contains(host, ".dkr.ecr") {
		return Host{}, false // the common case, without a regexp
	}
	var port string
	if h, p, err := net.SplitHostPort(host); err == nil {
		host, port = h, p
	}
	m := hostRE.FindStringSubmatch(host)
	if m == nil {
		return Host{}, false
	}
	return Host{Account: m[1], FIPS: m[2] != "", Region: m[3], Domain: m[4], Port: port}, true
}
