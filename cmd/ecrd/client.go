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
	"net/url"
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

// defaultEndpoint is where the client commands look for the server when
// nothing names it: the address ecrd serve listens on by default.
const defaultEndpoint = "http://127.0.0.1:5000"

// clientAbout ends the description of each command that calls the server.
const clientAbout = `
It calls a running server with AWS credentials, found as the AWS CLI finds
them. The server is --endpoint-url, else ECRD_ENDPOINT,
AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, the profile's endpoint_url (that
of its services section for ecr first), else ` + defaultEndpoint + `. The region
is --region, else AWS_REGION, AWS_DEFAULT_REGION, the profile's, else
us-east-1. Credentials are those of --profile, else of AWS_ACCESS_KEY_ID
and AWS_SECRET_ACCESS_KEY, else of the profile AWS_PROFILE names, or the
default one, in the shared files (AWS_CONFIG_FILE,
AWS_SHARED_CREDENTIALS_FILE), else, when no profile is named, the root key
ecrd serve wrote into its data folder (--data).`

// clientFlags are the flags of every command that calls the server.
type clientFlags struct {
	endpoint, region, profile, dataDir string
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "endpoint-url", "", "URL of the server (default: ECRD_ENDPOINT, AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, the profile's endpoint_url, else "+defaultEndpoint+")")
	fs.StringVar(&f.endpoint, "endpoint", "", "the same as --endpoint-url")
	fs.StringVar(&f.region, "region", "", "region of the registry (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else us-east-1)")
	fs.StringVar(&f.profile, "profile", "", "profile of the AWS config and credentials files (env AWS_PROFILE)")
	fs.StringVar(&f.dataDir, "data", envOr("ECRD_DATA", config.DefaultDataDir()),
		"data folder whose root key is used when no AWS credentials are found (env ECRD_DATA)")
}

// apiClient calls a running ecrd.
type apiClient struct {
	endpoint string
	cfg      aws.Config
	http     *http.Client
}

// newClient loads the AWS configuration as the AWS CLI would (flags,
// environment, shared files, profile). Without credentials, and when no
// profile was asked for, it falls back to the root key ecrd wrote into
// its data folder on first start, so that on the server's machine no
// setup is needed.
func (f *clientFlags) newClient(ctx context.Context) (*apiClient, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if f.region != "" {
		opts = append(opts, awsconfig.WithRegion(f.region))
	}
	profile := f.profile
	if profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(profile))
	} else {
		profile = os.Getenv("AWS_PROFILE")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, configError(err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if profile != "" {
			return nil, fmt.Errorf("profile %q gives no AWS credentials: %v", profile, err)
		}
		file := filepath.Join(f.dataDir, "credentials")
		if _, statErr := os.Stat(file); statErr != nil {
			return nil, fmt.Errorf("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile (%v)", err)
		}
		opts = append(opts, awsconfig.WithSharedCredentialsFiles([]string{file}), awsconfig.WithSharedConfigProfile("default"))
		if cfg, err = awsconfig.LoadDefaultConfig(ctx, opts...); err != nil {
			return nil, fmt.Errorf("loading credentials from %s: %w", file, err)
		}
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	endpoint, err := f.resolveEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	return &apiClient{endpoint: endpoint, cfg: cfg, http: &http.Client{Timeout: 30 * time.Minute}}, nil
}

// resolveEndpoint returns the server's URL: the flag, ECRD_ENDPOINT, or
// what the SDK resolves for ECR, which follows the AWS CLI's order
// (AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, the profile's services
// section, its endpoint_url; none with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS).
func (f *clientFlags) resolveEndpoint(cfg aws.Config) (string, error) {
	endpoint, from := f.endpoint, "--endpoint-url"
	if endpoint == "" {
		endpoint, from = os.Getenv("ECRD_ENDPOINT"), "ECRD_ENDPOINT"
	}
	if endpoint == "" {
		endpoint, from = aws.ToString(ecr.NewFromConfig(cfg).Options().BaseEndpoint), "the AWS configuration's endpoint"
	}
	if endpoint == "" {
		endpoint = defaultEndpoint
	}
	endpoint = strings.TrimSuffix(endpoint, "/")
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("%s %q: give the server's URL, such as %s", from, endpoint, defaultEndpoint)
	}
	return endpoint, nil
}

// configError explains an error loading the AWS configuration.
func configError(err error) error {
	var missing awsconfig.SharedConfigProfileNotExistError
	if errors.As(err, &missing) {
		return fmt.Errorf("profile %q is in neither %s nor %s (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)", missing.Profile,
			envOr("AWS_CONFIG_FILE", awsconfig.DefaultSharedConfigFilename()), envOr("AWS_SHARED_CREDENTIALS_FILE", awsconfig.DefaultSharedCredentialsFilename()))
	}
	return fmt.Errorf("loading the AWS configuration: %w", err)
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
