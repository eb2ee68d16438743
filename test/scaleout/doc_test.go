// Package scaleout tests ecrd as several replicas on one PostgreSQL
// database and one S3 bucket (versitygw), as docs/deploy.md runs it:
// the OCI conformance suite through each replica; pushes, pulls and
// deletes through different replicas; a setting changed through one
// binding the others within a second; a lifecycle run started on two
// replicas at once expiring each image once; a replica killed mid-push;
// and the container image. PostgreSQL and versitygw are real servers the
// test starts (internal/testutil/pgtest, s3test), one each per test
// binary; every test gets its own database and bucket.
package scaleout

import (
	"os"
	"testing"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

func TestMain(m *testing.M) { os.Exit(ecrdtest.Main(m)) }
