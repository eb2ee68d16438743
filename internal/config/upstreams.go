package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// insecureUpstreamsValue is the insecure-upstreams setting: comma-separated
// host:port entries of upstream registries the pull-through cache reaches
// over plain HTTP (every other upstream is reached over HTTPS).
type insecureUpstreamsValue []string

func (v *insecureUpstreamsValue) String() string {
	if v == nil {
		return ""
	}
	return strings.Join(*v, ",")
}

func (v *insecureUpstreamsValue) Set(s string) error {
	var hosts []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		host, port, err := net.SplitHostPort(e)
		if err != nil || host == "" {
			return fmt.Errorf("%q is not host:port", e)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: the port must be 1 to 65535", e)
		}
		hosts = append(hosts, strings.ToLower(e))
	}
	*v = hosts
	return nil
}
