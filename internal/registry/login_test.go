package registry_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/testutil"
)

func withIdentity(t *testing.T) (*fixture, *identity.Service) {
	t.Helper()
	_, stores := registrytest.New(t, registry.Options{})
	ids := identity.New(stores.Meta, testutil.Keyring(t), nil)
	reg := registry.New(stores.Meta, stores.Blobs, registry.Options{Identity: ids})
	registrytest.CreateOnPush(t, reg)
	return &fixture{reg: reg, meta: stores.Meta, blobs: stores.Blobs}, ids
}

func TestLogin(t *testing.T) {
	f, ids := withIdentity(t)
	before := time.Now()
	login, err := f.reg.Login(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := ids.VerifyRegistryToken(login.Password)
	if err != nil {
		t.Fatal(err)
	}
	p := identity.Root(scope.Account)
	if claims.Account != scope.Account || claims.Region != scope.Region || claims.ARN != p.ARN {
		t.Errorf("the token names %+v", claims)
	}
	if !login.ExpiresAt.Equal(claims.ExpiresAt) || login.ExpiresAt.Before(before.Add(identity.RegistryTokenTTL-time.Second)) || login.ExpiresAt.After(time.Now().Add(identity.RegistryTokenTTL)) {
		t.Errorf("expires at %v (claims %v)", login.ExpiresAt, claims.ExpiresAt)
	}
	other := metadata.Scope{Account: scope.Account, Region: "eu-west-1"}
	if login, err := f.reg.Login(ctx, other); err != nil {
		t.Fatal(err)
	} else if c, err := ids.VerifyRegistryToken(login.Password); err != nil || c.Region != "eu-west-1" {
		t.Errorf("a login in another region: %+v %v", c, err)
	}
	_, err = f.reg.Login(context.Background(), scope)
	wantCode(t, err, registry.CodeUnauthenticated)
}

func TestLayerDownloadURL(t *testing.T) {
	f, ids := withIdentity(t)
	d := f.pushBlob(t, "team/app", []byte("layer"))
	dl, err := f.reg.LayerDownloadURL(ctx, key("team/app"), d.String())
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(dl.Path, "?")
	if dl.Digest != d.String() || path != "/v2/team/app/blobs/"+d.String() || query == "" {
		t.Fatalf("got %+v", dl)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := ids.VerifyDownloadURL(path, q)
	if err != nil || claims.ARN != identity.Root(scope.Account).ARN || claims.Region != scope.Region {
		t.Fatalf("the signature: %+v %v", claims, err)
	}
	if left := time.Until(claims.ExpiresAt); left > registry.DownloadURLTTL || left < registry.DownloadURLTTL-time.Minute {
		t.Errorf("the URL works for %v", left)
	}
	if _, err := ids.VerifyDownloadURL("/v2/team/other/blobs/"+d.String(), q); err == nil {
		t.Error("the signature holds for another path")
	}

	_, err = f.reg.LayerDownloadURL(ctx, key("team/app"), "sha256:"+strings.Repeat("0", 64))
	wantCode(t, err, registry.CodeLayersNotFound)
	_, err = f.reg.LayerDownloadURL(context.Background(), key("team/app"), d.String())
	wantCode(t, err, registry.CodeUnauthenticated)

	// A repository that allows anonymous pulls hands an anonymous caller
	// the path alone.
	if err := f.reg.TagResource(ctx, registry.RepositoryARN(key("team/app")), []metadata.ResourceTag{{Key: registry.AnonymousPullTag, Value: "true"}}); err != nil {
		t.Fatal(err)
	}
	dl, err = f.reg.LayerDownloadURL(context.Background(), key("team/app"), d.String())
	if err != nil || dl.Path != "/v2/team/app/blobs/"+d.String() {
		t.Fatalf("anonymous: %+v %v", dl, err)
	}
}
