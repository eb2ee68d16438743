package e2e

// The harness lives in test/ecrdtest, shared with the scale-out tests;
// these names keep the e2e tests short.

import (
	"context"
	"os"
	"testing"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

func TestMain(m *testing.M) { os.Exit(ecrdtest.Main(m)) }

// ecrd is a running ecrd process.
type ecrd = ecrdtest.Server

// The root access key every test server is started with, and the
// account and region it belongs to.
const (
	testAccount   = ecrdtest.Account
	testRegion    = ecrdtest.Region
	testAccessKey = ecrdtest.AccessKey
	testSecret    = ecrdtest.Secret
)

func startECRD(t testing.TB, data string, extraArgs ...string) *ecrd {
	t.Helper()
	return ecrdtest.Start(t, data, extraArgs...)
}

func startBareECRD(t testing.TB, data string, extraArgs ...string) *ecrd {
	t.Helper()
	return ecrdtest.StartBare(t, data, extraArgs...)
}

func startECRDUnder(t testing.TB, wrapper []string, data string, extraArgs ...string) *ecrd {
	t.Helper()
	return ecrdtest.StartWith(t, ecrdtest.Options{Wrapper: wrapper, Data: data, Args: extraArgs})
}

func tool(t testing.TB, name string) string {
	t.Helper()
	return ecrdtest.Tool(t, name)
}

func run(t *testing.T, ctx context.Context, name string, args ...string) string {
	t.Helper()
	return ecrdtest.Run(t, ctx, name, args...)
}

func noServerErrors(t testing.TB, e *ecrd) {
	t.Helper()
	ecrdtest.NoServerErrors(t, e)
}

type authTransport = ecrdtest.AuthTransport
