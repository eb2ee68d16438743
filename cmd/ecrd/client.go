package main

// The client side of ecrd's subcommands that act on a running server
// (lifecycle, gc, import): they call its HTTP API with AWS credentials,
// as any AWS client would, so that the server stays the one process that
// writes its data and every call is authenticated and authorized.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	api "github.com/ecrd/ecrd/internal/api/ecr"
	"github.com/ecrd/ecrd/internal/config"
)

// clientFlags are the flags of every subcommand that calls the server.
type clientFlags struct {
	endpoint, region, profile, dataDir string
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "endpoint", envOr("ECRD_ENDPOINT", "http://127.0.0.1:5000"), "URL of the ecrd server (env ECRD_ENDPOINT)")
	fs.StringVar(&f.region, "region", envOr("AWS_REGION", envOr("AWS_DEFAULT_REGION", "us-east-1")), "region of the registry (env AWS_REGION)")
	fs.StringVar(&f.profile, "profile", os.Getenv("AWS_PROFILE"), "AWS profile of the credentials (env AWS_PROFILE)")
	fs.StringVar(&f.dataDir, "data", envOr("ECRD_DATA", config.DefaultDataDir()),
		"data folder whose credentials file is used when no other AWS credentials are found (env ECRD_DATA)")
}

// apiClient calls a running ecrd.
type apiClient struct {
	endpoint string
	cfg      aws.Config
	http     *http.Client
}

// newClient finds credentials the AWS way (environment, shared files,
// profile), then falls back to the root key ecrd wrote into its data
// folder on first start, so that on the server's machine no setup is
// needed.
func (f *clientFlags) newClient(ctx context.Context) (*apiClient, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(f.region)}
	if f.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(f.profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		file := filepath.Join(f.dataDir, "credentials")
		if _, statErr := os.Stat(file); statErr != nil {
			return nil, fmt.Errorf("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile (%v)", err)
		}
		opts = append(opts, awsconfig.WithSharedCredentialsFiles([]string{file}), awsconfig.WithSharedConfigProfile("default"))
		if cfg, err = awsconfig.LoadDefaultConfig(ctx, opts...); err != nil {
			return nil, fmt.Errorf("loading credentials from %s: %w", file, err)
		}
	}
	return &apiClient{endpoint: strings.TrimSuffix(f.endpoint, "/"), cfg: cfg, http: &http.Client{Timeout: 30 * time.Minute}}, nil
}

// ecr returns an ECR client of the server.
func (c *apiClient) ecr() *ecr.Client {
	return ecr.NewFromConfig(c.cfg, func(o *ecr.Options) { o.BaseEndpoint = aws.String(c.endpoint) })
}

// apiError is an error the server answered with.
type apiError struct {
	Type    string
	Message string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

// call runs one of ecrd's own operations (api.ExtensionPrefix + op), signed
// as an ECR request.
func (c *apiClient) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", api.ExtensionPrefix+op)
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ecr", c.cfg.Region, time.Now()); err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling %s: %w", c.endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &e) != nil || e.Type == "" {
			return fmt.Errorf("%s answered %s", c.endpoint, resp.Status)
		}
		return &apiError{Type: e.Type, Message: e.Message}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// describe turns an SDK or server error into one line for the terminal.
func describe(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Error()
	}
	return err.Error()
}
