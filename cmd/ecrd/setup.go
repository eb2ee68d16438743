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
	"time"

	"github.com/ecrd/ecrd/internal/audit"
	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/blobstore/filesystem"
	"github.com/ecrd/ecrd/internal/blobstore/s3store"
	"github.com/ecrd/ecrd/internal/config"
	"github.com/ecrd/ecrd/internal/ecrhost"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/keyring"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/postgres"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
)

// stores are the metadata and blob stores, open, with the server keys
// and the identity service over them.
type stores struct {
	meta  metadata.Store
	blobs blobstore.Store
	keys  *keyring.Keyring
	ids   *identity.Service
}

func (s *stores) Close() {
	s.blobs.Close()
	s.meta.Close()
}

// storeSettings say where the stores are: the data folder's own, or
// shared ones (Metadata, Blobs) for which the data folder is scratch.
type storeSettings struct {
	DataDir  string
	KeyFile  string // "" for <data>/server.key
	Metadata string // "" for the data folder's database, or a postgres:// URL
	Blobs    string // "" for the data folder's files, or an s3:// URL
}

// openStores opens (creating if needed) the data folder, the stores and
// the keyring: the keys from ECRD_SERVER_KEY if set, else the key file.
// Processes sharing a database must share the keys, which seal the
// secrets in it and sign tokens: a key file created in one process's
// scratch folder would be that process's alone, so with --metadata the
// keys must be given.
func openStores(ctx context.Context, c storeSettings, log *slog.Logger) (*stores, error) {
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating the data folder: %w", err)
	}
	if c.Metadata != "" && c.KeyFile == "" && os.Getenv("ECRD_SERVER_KEY") == "" {
		return nil, errors.New("with --metadata, give the server keys every replica shares: ECRD_SERVER_KEY, or --server-key-file (created there if missing)")
	}
	if c.KeyFile == "" {
		c.KeyFile = filepath.Join(c.DataDir, "server.key")
	}
	keys, err := loadKeyring(c.KeyFile, log)
	if err != nil {
		return nil, err
	}
	meta, err := openMetadata(ctx, c)
	if err != nil {
		return nil, err
	}
	blobs, err := openBlobs(ctx, c)
	if err != nil {
		meta.Close()
		return nil, err
	}
	// The audit trail learns which requests' changes recorded themselves.
	meta = audit.Track(meta)
	return &stores{meta: meta, blobs: blobs, keys: keys, ids: identity.New(meta, keys, log)}, nil
}

// openMetadata opens the metadata store the settings name.
func openMetadata(ctx context.Context, c storeSettings) (metadata.Store, error) {
	if c.Metadata == "" {
		return sqlite.Open(ctx, filepath.Join(c.DataDir, "ecrd.db"))
	}
	meta, err := postgres.Open(ctx, c.Metadata)
	if err != nil {
		return nil, fmt.Errorf("metadata store: %w", err)
	}
	return meta, nil
}

// openBlobs opens the blob store the settings name.
func openBlobs(ctx context.Context, c storeSettings) (blobstore.Store, error) {
	if c.Blobs == "" {
		return filesystem.New(c.DataDir)
	}
	blobs, err := s3store.Open(ctx, c.Blobs)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return blobs, nil
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
//
// Replicas started together on a new database would each find no key and
// create one: the check and the creation are made under a lease.
func ensureRootCredentials(ctx context.Context, st *stores, holder string, cfg config.Config, log *slog.Logger) error {
	ids := st.ids
	if _, err := ids.EnsureAccount(ctx, cfg.AccountID); err != nil {
		return err
	}
	leases := lease.New(st.meta, holder, time.Now, log)
	// A previous run of this process that died here left the lease.
	if _, err := leases.ReleasePrevious(ctx); err != nil {
		return err
	}
	var l *lease.Lease
	for {
		var err error
		if l, err = leases.Acquire(ctx, "bootstrap"); err == nil {
			break
		} else if !errors.Is(err, lease.ErrBusy) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer l.Release()
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
		base = selfURL(addr)
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

// selfURL is where the server reaches itself: its listener, over
// loopback when it listens on every address.
func selfURL(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// hostOf strips the scheme from a base URL.
func hostOf(base string) string {
	_, host, _ := strings.Cut(base, "://")
	return host
}
