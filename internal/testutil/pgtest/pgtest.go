// Package pgtest starts a throwaway PostgreSQL server for tests, as a user
// would run one: initdb into a temporary folder (as the postgres user when
// the tests run as root, since initdb refuses root), then the server on a
// free loopback port with its own socket folder, trusting local
// connections, without fsync. Each test gets a database of its own.
//
// One server serves a whole test binary: Start starts it on first use.
// It dies with the binary (the kernel signals it when the binary exits);
// a TestMain that calls Main, or Stop after m.Run, also removes its
// folder. The binaries are Debian's postgresql-15
// (/usr/lib/postgresql/15/bin, or the folder ECRD_PG_BIN names);
// scripts/install-test-tools installs them. Without them a test fails:
// it never skips.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ecrd/ecrd/internal/testutil"
)

// DefaultBin is where Debian's postgresql-15 puts the server's binaries.
const DefaultBin = "/usr/lib/postgresql/15/bin"

// superuser is the role initdb creates; local connections are trusted.
const superuser = "ecrd"

// Server is a running throwaway PostgreSQL server.
type Server struct {
	dir    string // holds data/, the log and the socket
	port   int
	cmd    *exec.Cmd
	exited chan struct{}

	mu    sync.Mutex
	admin *pgx.Conn // to the postgres database, to create and drop databases
	n     atomic.Int64

	stopOnce sync.Once
	stopErr  error
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
)

// Start returns the test binary's server, starting it on first use. It
// fails the test if PostgreSQL is not installed or does not start.
func Start(tb testing.TB) *Server {
	tb.Helper()
	sharedOnce.Do(func() { shared, sharedErr = NewServer() })
	if sharedErr != nil {
		tb.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// URL starts the test binary's server if needed and returns the URL of a
// new empty database, dropped when the test ends.
func URL(tb testing.TB) string {
	tb.Helper()
	return Start(tb).NewDatabase(tb)
}

// Stop stops the test binary's server, if one was started, and removes
// its folder.
func Stop() error {
	if shared == nil {
		return nil
	}
	return shared.Stop()
}

// Main runs the tests and stops the server: a TestMain of one line.
func Main(m *testing.M) {
	code := m.Run()
	if err := Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
	}
	os.Exit(code)
}

// binDir is the folder of the PostgreSQL binaries.
func binDir() string {
	if d := os.Getenv("ECRD_PG_BIN"); d != "" {
		return d
	}
	return DefaultBin
}

// NewServer starts a server of its own (Start shares one). Stop it when
// done; it is killed anyway when the process that started it exits.
func NewServer() (*Server, error) {
	bin := binDir()
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			return nil, fmt.Errorf("PostgreSQL is not installed (%s): run scripts/install-test-tools", err)
		}
	}
	sweep()
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", superuser, "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// A free port may be taken between choosing it and the server binding
	// it: try a few.
	for attempt := 0; ; attempt++ {
		s, err := start(bin, dir, cred)
		if err == nil {
			return s, nil
		}
		if attempt == 3 || !errors.Is(err, errPortTaken) {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// dirPrefix names the servers' folders in the temporary folder.
const dirPrefix = "ecrd-pgtest-"

// sweep removes the folders of servers whose test binary was killed
// before it could stop them (the server itself went with it): an hour
// old, and no live server in them.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		info, err := os.Stat(dir)
		if err != nil || time.Since(info.ModTime()) < time.Hour {
			continue
		}
		if pid, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid")); err == nil {
			first, _, _ := strings.Cut(string(pid), "\n")
			if n, err := strconv.Atoi(first); err == nil && syscall.Kill(n, 0) == nil {
				continue // still running
			}
		}
		os.RemoveAll(dir)
	}
}

// credential is who runs the server: the postgres user, owning dir, when
// this process is root; this process's user otherwise (nil).
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as the postgres user: %w (run scripts/install-test-tools)", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// errPortTaken: the server could not bind its port.
var errPortTaken = errors.New("port taken")

func start(bin, dir string, cred *syscall.Credential) (*Server, error) {
	port, err := testutil.FreePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"), "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=300")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The server goes when this process does (a fast shutdown), even if
	// the tests never stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	s := &Server{dir: dir, port: port, cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that started the process ends:
		// this goroutine keeps its thread until the server exits.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		if err == nil {
			s.admin = conn
			return s, nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(logPath)
			if strings.Contains(string(log), "could not bind") {
				return nil, fmt.Errorf("%w: %s", errPortTaken, log)
			}
			return nil, fmt.Errorf("postgres exited at start:\n%s", log)
		case <-ctx.Done():
			s.Stop()
			return nil, fmt.Errorf("postgres did not accept connections within a minute: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, s.port, db)
}

// AdminURL is the URL of the server's postgres database, as its
// superuser.
func (s *Server) AdminURL() string { return s.url("postgres") }

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// CreateDatabase creates a new empty database and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("ecrd_test_%d", s.n.Add(1))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil {
		return "", errors.New("the server is stopped")
	}
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("creating database %s: %w", name, err)
	}
	return s.url(name), nil
}

// DropDatabase drops the database of a URL CreateDatabase returned,
// disconnecting its clients.
func (s *Server) DropDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil {
		return nil
	}
	_, err = s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Database}.Sanitize()+" WITH (FORCE)")
	return err
}

// NewDatabase creates a new empty database for the test and returns its
// URL; the database is dropped when the test ends (after the cleanups
// registered later, such as closing a store on it).
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	url, err := s.CreateDatabase(context.Background())
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.DropDatabase(context.Background(), url); err != nil {
			tb.Errorf("pgtest: dropping the test database: %v", err)
		}
	})
	return url
}

// Stop shuts the server down (a fast shutdown) and removes its folder.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		if s.admin != nil {
			s.admin.Close(context.Background())
			s.admin = nil
		}
		s.mu.Unlock()
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
			s.stopErr = errors.New("postgres did not stop within 30 s: killed")
		}
		if err := os.RemoveAll(s.dir); err != nil && s.stopErr == nil {
			s.stopErr = err
		}
	})
	return s.stopErr
}
