package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// clientEnv clears what configures AWS clients and points them at a
// config file of the given text and an empty data folder; the access key
// comes from the environment.
func clientEnv(t *testing.T, config string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "ECRD_") {
			t.Setenv(k, "")
			os.Unsetenv(k) // the SDK tells an empty variable from a missing one
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "config")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", file)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDCLIENTTEST000000")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
}

// The server is found in the AWS CLI's order, with ecrd's own flag and
// variable as aliases.
func TestClientEndpoint(t *testing.T) {
	const keys = "aws_access_key_id = AKIDCLIENTTEST000000\naws_secret_access_key = secret\n"
	const profiles = `[default]
endpoint_url = http://profile-default:1

[profile plain]
endpoint_url = http://profile:1
` + keys + `
[profile svc]
endpoint_url = http://profile:1
services = ecrd
` + keys + `
[profile none]
region = us-east-1
` + keys + `
[services ecrd]
ecr =
  endpoint_url = http://profile-ecr:1
`
	for _, tc := range []struct {
		what    string
		flags   clientFlags
		env     map[string]string
		want    string
		wantErr string
	}{
		{what: "nothing", flags: clientFlags{profile: "none"}, want: defaultEndpoint},
		{what: "the default profile", want: "http://profile-default:1"},
		{what: "a profile's endpoint_url", flags: clientFlags{profile: "plain"}, want: "http://profile:1"},
		{what: "AWS_PROFILE's endpoint_url", env: map[string]string{"AWS_PROFILE": "plain"}, want: "http://profile:1"},
		{what: "a profile's ecr service", flags: clientFlags{profile: "svc"}, want: "http://profile-ecr:1"},
		{what: "AWS_ENDPOINT_URL over the profile", flags: clientFlags{profile: "svc"},
			env: map[string]string{"AWS_ENDPOINT_URL": "http://env:1"}, want: "http://env:1"},
		{what: "AWS_ENDPOINT_URL_ECR over AWS_ENDPOINT_URL", flags: clientFlags{profile: "svc"},
			env: map[string]string{"AWS_ENDPOINT_URL": "http://env:1", "AWS_ENDPOINT_URL_ECR": "http://env-ecr:1"}, want: "http://env-ecr:1"},
		{what: "ECRD_ENDPOINT over AWS_ENDPOINT_URL_ECR",
			env: map[string]string{"AWS_ENDPOINT_URL_ECR": "http://env-ecr:1", "ECRD_ENDPOINT": "http://ecrd-env:1/"}, want: "http://ecrd-env:1"},
		{what: "the flag over everything", flags: clientFlags{endpoint: "https://flag:443", profile: "svc"},
			env: map[string]string{"AWS_ENDPOINT_URL_ECR": "http://env-ecr:1", "ECRD_ENDPOINT": "http://ecrd-env:1"}, want: "https://flag:443"},
		{what: "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", flags: clientFlags{profile: "svc"},
			env: map[string]string{"AWS_ENDPOINT_URL": "http://env:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, want: defaultEndpoint},
		{what: "a flag that is no URL", flags: clientFlags{endpoint: "127.0.0.1:5000"}, wantErr: `--endpoint-url "127.0.0.1:5000": give the server's URL`},
		{what: "a variable that is no URL", env: map[string]string{"ECRD_ENDPOINT": "ftp://x"}, wantErr: `ECRD_ENDPOINT "ftp://x"`},
		{what: "a URL with a path", env: map[string]string{"AWS_ENDPOINT_URL_ECR": "http://x/api"}, wantErr: `the AWS configuration's endpoint "http://x/api"`},
	} {
		t.Run(tc.what, func(t *testing.T) {
			clientEnv(t, profiles)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f := tc.flags
			f.dataDir = t.TempDir()
			c, err := f.newClient(context.Background())
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one saying %q", err, tc.wantErr)
				}
			case err != nil:
				t.Errorf("newClient: %v", err)
			case c.endpoint != tc.want:
				t.Errorf("endpoint %q, want %q", c.endpoint, tc.want)
			}
		})
	}
}

// The region is the flag, the environment's, the profile's, or us-east-1.
func TestClientRegion(t *testing.T) {
	for _, tc := range []struct {
		what   string
		config string
		flag   string
		env    map[string]string
		want   string
	}{
		{what: "nothing", want: "us-east-1"},
		{what: "the profile's", config: "[default]\nregion = eu-west-3\n", want: "eu-west-3"},
		{what: "AWS_DEFAULT_REGION", config: "[default]\nregion = eu-west-3\n", env: map[string]string{"AWS_DEFAULT_REGION": "ap-south-1"}, want: "ap-south-1"},
		{what: "AWS_REGION", env: map[string]string{"AWS_DEFAULT_REGION": "ap-south-1", "AWS_REGION": "sa-east-1"}, want: "sa-east-1"},
		{what: "the flag", config: "[default]\nregion = eu-west-3\n", flag: "us-west-2", env: map[string]string{"AWS_REGION": "sa-east-1"}, want: "us-west-2"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			clientEnv(t, tc.config)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f := clientFlags{region: tc.flag, dataDir: t.TempDir()}
			c, err := f.newClient(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.cfg.Region != tc.want {
				t.Errorf("region %q, want %q", c.cfg.Region, tc.want)
			}
		})
	}
}

// A profile that does not exist, or gives no credentials, fails: the
// root key of the data folder is only taken when no profile is chosen.
func TestClientProfile(t *testing.T) {
	clientEnv(t, "[profile empty]\nregion = us-east-1\n")
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "credentials"), []byte("[default]\naws_access_key_id = AKIDDATAFOLDER000000\naws_secret_access_key = s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what    string
		flags   clientFlags
		env     map[string]string
		wantErr string
	}{
		{what: "a missing profile", flags: clientFlags{profile: "nope"}, wantErr: `profile "nope" is in neither`},
		{what: "a missing AWS_PROFILE", env: map[string]string{"AWS_PROFILE": "nope"}, wantErr: `profile "nope" is in neither`},
		{what: "a profile without keys", flags: clientFlags{profile: "empty"}, wantErr: `profile "empty" gives no AWS credentials`},
		{what: "no profile: the data folder's key"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f := tc.flags
			f.dataDir = data
			c, err := f.newClient(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			creds, err := c.cfg.Credentials.Retrieve(context.Background())
			if err != nil || creds.AccessKeyID != "AKIDDATAFOLDER000000" {
				t.Errorf("credentials %v, %v; want the data folder's", creds.AccessKeyID, err)
			}
		})
	}
}
