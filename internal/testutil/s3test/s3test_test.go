package s3test_test

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ecrd/ecrd/internal/testutil/s3test"
)

// TestServer checks that a client configured only by the environment
// Setenv gives reaches the server and its own bucket.
func TestServer(t *testing.T) {
	srv := s3test.Start(t)
	if again := s3test.Start(t); again != srv {
		t.Fatal("a second Start started another server")
	}
	srv.Setenv(t)
	a, b := srv.NewBucket(t), srv.NewBucket(t)
	if a == b {
		t.Fatalf("two tests got bucket %s", a)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint, o.UsePathStyle = aws.String(srv.Endpoint), true
	})
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(a)}); err != nil {
		t.Fatalf("HeadBucket with the credentials of the environment: %v", err)
	}
	if fi, err := os.Stat(srv.BucketDir(a)); err != nil || !fi.IsDir() {
		t.Fatalf("the bucket's folder: %v", err)
	}
}
