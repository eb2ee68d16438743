package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ecrd/ecrd/internal/blobstore/filesystem"
	"github.com/ecrd/ecrd/internal/config"
	"github.com/ecrd/ecrd/internal/ecrhost"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/keyring"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
)

// stores are what a data folder holds, open.
type stores struct {
	meta  *sqlite.Store
	blobs *filesystem.Store
	keys  *keyring.Keyring
	ids   *identity.Service
}

func (s *stores) Close() {
	s.blobs.Close()
	s.meta.Close()
}

// openStores opens (creating if needed) a data folder and its keyring:
// the keys from ECRD_SERVER_KEY if set, else the key file.
func openStores(ctx context.Context, dataDir, keyFile string, log *slog.Logger) (*stores, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating the data folder: %w", err)
	}
	keys, err := loadKeyring(keyFile, log)
	if err != nil {
		return nil, err
	}
	meta, err := sqlite.Open(ctx, filepath.Join(dataDir, "ecrd.db"))
	if err != nil {
		return nil, err
	}
	blobs, err := filesystem.New(dataDir)
	if err != nil {
		meta.Close()
		return nil, err
	}
	return &stores{meta: meta, blobs: blobs, keys: keys, ids: identity.New(meta, keys, log)}, nil
}

func loadKeyring(path string, log *slog.Logger) (*keyring.Keyring, error) {
	if v := os.Getenv("ECRD_SERVER_KEY"); v != "" {
		k, err := keyring.Parse(v)
		if err != nil {
			return nil, fmt.Errorf("ECRD_SERVER_KEY: %w", err)
		}
		return k, nil
	}
	k, created, err := keyring.LoadOrCreate(path)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created a server key: keep it secret, back it up with the data folder; every replica needs the same", "path", path, "key", k.PrimaryID())
	}
	return k, nil
}

// ensureRootCredentials creates the default account and gives its root an
// access key: the one ECRD_ROOT_ACCESS_KEY_ID and
// ECRD_ROOT_SECRET_ACCESS_KEY give, or on first start a new one written to
// the data folder's credentials file. The secret is never logged.
func ensureRootCredentials(ctx context.Context, ids *identity.Service, cfg config.Config, log *slog.Logger) error {
	if _, err := ids.EnsureAccount(ctx, cfg.AccountID); err != nil {
		return err
	}
	id, secret := os.Getenv("ECRD_ROOT_ACCESS_KEY_ID"), os.Getenv("ECRD_ROOT_SECRET_ACCESS_KEY")
	if id != "" || secret != "" {
		if _, err := ids.ImportAccessKey(ctx, cfg.AccountID, id, secret); err != nil {
			return fmt.Errorf("ECRD_ROOT_ACCESS_KEY_ID and ECRD_ROOT_SECRET_ACCESS_KEY: %w", err)
		}
		log.Info("root access key taken from the environment", "account", cfg.AccountID, "accessKeyId", id)
		return nil
	}
	path := filepath.Join(cfg.DataDir, "credentials")
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	keys, err := ids.AccessKeys(ctx, cfg.AccountID)
	if err != nil || len(keys) > 0 {
		return err // keys exist: the operator chose how to hand them out
	}
	k, err := ids.CreateAccessKey(ctx, cfg.AccountID)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("# Root access key of account %s, created by ecrd on first start.\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		cfg.AccountID, k.ID, k.Secret)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return fmt.Errorf("writing the root credentials: %w", err)
	}
	log.Info("created the root access key of the default account: use it with AWS_SHARED_CREDENTIALS_FILE", "account", cfg.AccountID, "accessKeyId", k.ID, "credentialsFile", path)
	return nil
}

// endpoints returns the base URL of each registry: the public URL (or the
// address listened on), with the host replaced by an ECR-shaped one when a
// registry domain is set.
func endpoints(cfg config.Config, addr net.Addr) (func(metadata.Scope) string, error) {
	base := cfg.PublicURL
	if base == "" {
		host, port, _ := net.SplitHostPort(addr.String())
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = "localhost"
		}
		base = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil {
		return nil, err
	}
	if cfg.RegistryDomain == "" {
		s := u.String()
		return func(metadata.Scope) string { return s }, nil
	}
	port := u.Port()
	return func(sc metadata.Scope) string {
		return u.Scheme + "://" + ecrhost.Host{Account: sc.Account, Region: sc.Region, Domain: cfg.RegistryDomain, Port: port}.String()
	}, nil
}

// hostOf strips the scheme from a base URL.
func hostOf(base string) string {
	_, host, _ := strings.Cut(base, "://")
	return host
}
