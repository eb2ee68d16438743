package scanner

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	plugincfg "github.com/google/osv-scalibr/plugin/config"
	"google.golang.org/grpc"
)

// The peers the benchmarks run (osv-scalibr's Scan and its matcher as an
// enricher) take clients; these refuse the network.

// errNetworkDisabled is what every HTTP request attempted by a peer gets.
var errNetworkDisabled = errors.New("scanner: network access is disabled")

// offlinePluginConfig is a plugin configuration whose clients refuse to
// reach the network.
func offlinePluginConfig() *plugincfg.PluginConfig {
	return &plugincfg.PluginConfig{
		ProtoConfig:     &cpb.PluginConfig{DisableGoogleAuth: true},
		ClientFactories: offlineClients{},
	}
}

type refuseTransport struct{}

func (refuseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return nil, fmt.Errorf("%w: %s %s", errNetworkDisabled, req.Method, req.URL.Redacted())
}

// offlineClients implements plugincfg.ClientFactories without network.
type offlineClients struct{}

func (offlineClients) HTTPClient() *http.Client {
	return &http.Client{Transport: refuseTransport{}}
}

func (offlineClients) GRPCClientConn(string, ...grpc.DialOption) (grpc.ClientConnInterface, error) {
	return nil, errNetworkDisabled
}

func (offlineClients) GoogleHTTPClient(context.Context, ...string) (*http.Client, error) {
	return nil, errNetworkDisabled
}

var _ plugincfg.ClientFactories = offlineClients{}
