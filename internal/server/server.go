// Package server assembles a running ivid database server from its
// configuration: data folder, master key, database, blob store, services
// and HTTP API, with migrations, the first account and graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ivid-project/ivid/internal/api"
	"github.com/ivid-project/ivid/internal/auth"
	"github.com/ivid-project/ivid/internal/blob"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/storage"
	"github.com/ivid-project/ivid/internal/vpdq"
	"github.com/ivid-project/ivid/internal/web"
)

// Config is a server's configuration, from flags and environment.
type Config struct {
	DataDir     string // holds ivid.db, blobs/, spool/ and master.key by default
	DatabaseURL string // postgres://…; empty means DataDir/ivid.db
	// MasterKey, if set, is the blob store's master key (base64 or hex);
	// otherwise MasterKeyFile is read, or created on first start.
	MasterKey     string
	MasterKeyFile string
	Addr          string
	TLSCert       string
	TLSKey        string
	// InsecureCookies sends session cookies without the Secure flag, for
	// plain HTTP off localhost (tests, closed networks).
	InsecureCookies bool
	TOTPOptional    bool
	AdminName       string // first account, default "admin"
	AdminPassword   string // default: generated and printed once
	Video           *vpdq.Options
	// Hashers is how many contributed files are hashed at once (default:
	// the processors).
	Hashers int
	// DecodeLimit is ivid.Config.DecodeLimit.
	DecodeLimit time.Duration
	// Decoders is ivid.Config.Decoders.
	Decoders *filehash.Decoders
	// FollowEvery is how often the indexes replay the changes that other
	// servers over the same database made (ivid.Service.Follow); 0: never.
	FollowEvery time.Duration
	Log         *slog.Logger
}

// EnvMasterKey names the variable that may hold the master key.
const EnvMasterKey = "IVID_MASTER_KEY"

// Server is an opened ivid server.
type Server struct {
	cfg   Config
	DB    *storage.DB
	Blobs *blob.Store
	Svc   *ivid.Service
	API   *api.Server
	// AdminPassword is set when this start created the first account.
	AdminPassword string
	unlock        func()
	blobs         *blob.Local
}

func (c *Config) defaults() {
	if c.DataDir == "" {
		c.DataDir = "ivid-data"
	}
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.AdminName == "" {
		c.AdminName = "admin"
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// LoadKeys returns the master keys: the current one first, and during an
// interrupted rotation the next one before it.
func LoadKeys(cfg Config) ([]blob.Key, error) {
	cfg.defaults()
	if cfg.MasterKey != "" {
		k, err := blob.ParseKey(cfg.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvMasterKey, err)
		}
		return []blob.Key{k}, nil
	}
	k, err := blob.ReadKeyFile(cfg.MasterKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		k = blob.GenerateKey()
		if err := blob.WriteKeyFile(cfg.MasterKeyFile, k); err != nil {
			return nil, fmt.Errorf("create master key: %w", err)
		}
		cfg.Log.Warn("created a new master key; back it up apart from the data", "file", cfg.MasterKeyFile)
	} else if err != nil {
		return nil, err
	}
	keys := []blob.Key{k}
	if next, err := blob.ReadKeyFile(cfg.MasterKeyFile + ".new"); err == nil {
		keys = []blob.Key{next, k}
	}
	return keys, nil
}

// OpenDB opens and migrates the configured database.
func OpenDB(ctx context.Context, cfg Config) (*storage.DB, error) {
	cfg.defaults()
	dsn := cfg.DatabaseURL
	if dsn == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		dsn = filepath.Join(cfg.DataDir, "ivid.db")
	}
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Open prepares a server: data folder, keys, database (migrated), blob
// store, services with their index, the first account, and the API.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	cfg.defaults()
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	keys, err := LoadKeys(cfg)
	if err != nil {
		unlock()
		return nil, err
	}
	db, err := OpenDB(ctx, cfg)
	if err != nil {
		unlock()
		return nil, err
	}
	s := &Server{cfg: cfg, DB: db, unlock: unlock}
	fail := func(err error) (*Server, error) { db.Close(); unlock(); return nil, err }
	be, err := blob.OpenLocal(filepath.Join(cfg.DataDir, "blobs"))
	if err != nil {
		return fail(err)
	}
	s.blobs = be
	if n := be.Damaged(); n > 0 {
		// After a crash, the end of an append that was never acknowledged.
		cfg.Log.Warn("blob store: torn or damaged pack records skipped", "bytes", n)
	}
	be.CleanTemp()
	if s.Blobs, err = blob.Open(ctx, be, keys...); err != nil {
		return fail(fmt.Errorf("blob store: %w", err))
	}
	spool := filepath.Join(cfg.DataDir, "spool")
	os.RemoveAll(spool) // uploads a crash interrupted; never acknowledged
	if s.Svc, err = s.Peer(ctx); err != nil {
		return fail(err)
	}
	created, pw, err := s.Svc.Bootstrap(ctx, cfg.AdminName, cfg.AdminPassword)
	if err != nil {
		return fail(err)
	}
	if created {
		s.AdminPassword = pw
	}
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return fail(err)
	}
	ui, err := web.New(s.Svc, web.Options{InsecureCookies: cfg.InsecureCookies, SpoolDir: spool, Log: cfg.Log})
	if err != nil {
		return fail(err)
	}
	s.API, err = api.New(s.Svc, api.Options{SpoolDir: spool, Hashers: cfg.Hashers, InsecureCookies: cfg.InsecureCookies, Log: cfg.Log, Web: ui.Handler()})
	if err != nil {
		return fail(err)
	}
	return s, nil
}

// Close releases the database and the data folder.
func (s *Server) Close() error {
	err := s.DB.Close()
	if berr := s.blobs.Close(); err == nil {
		err = berr
	}
	s.unlock()
	return err
}

// Peer opens a service over the server's database and blob store, with
// its configuration: the server's own, or another, as a second server over
// the same database holds one (its indexes follow the first's changes
// through CatchUp).
func (s *Server) Peer(ctx context.Context) (*ivid.Service, error) {
	secrets, err := auth.NewSecretBox(s.Blobs.DeriveKey("second-factor secrets"))
	if err != nil {
		return nil, err
	}
	cfg := s.cfg
	return ivid.NewService(ctx, s.DB, s.Blobs, ivid.Config{TOTPOptional: cfg.TOTPOptional, Video: cfg.Video, Log: cfg.Log, Dihedral: true, Secrets: secrets, DecodeLimit: cfg.DecodeLimit, Decoders: cfg.Decoders})
}

// Serve listens on the configured address until ctx ends, then shuts down
// gracefully (in-flight requests get 30 s). ready, if not nil, receives the
// address once listening.
func (s *Server) Serve(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	return s.ServeListener(ctx, ln, ready)
}

// ServeListener is Serve on an open listener.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener, ready func(addr string)) error {
	hs := &http.Server{Handler: s.API.Handler(), ReadHeaderTimeout: 20 * time.Second, ErrorLog: slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLSCert != "" {
			errc <- hs.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	if s.cfg.FollowEvery > 0 {
		fctx, stop := context.WithCancel(ctx)
		defer stop()
		go s.Svc.Follow(fctx, s.cfg.FollowEvery)
	}
	s.cfg.Log.Info("listening", "addr", ln.Addr().String(), "tls", s.cfg.TLSCert != "")
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	s.cfg.Log.Info("stopped")
	return err
}

// PrintFirstAccount writes the first account's one-time password, once.
func (s *Server) PrintFirstAccount(w io.Writer) {
	if s.AdminPassword == "" {
		return
	}
	if s.cfg.AdminPassword != "" {
		fmt.Fprintf(w, "First account created: %s, with the password given in the environment\n", s.cfg.AdminName)
		return
	}
	fmt.Fprintf(w, "First account created: %s / %s\n", s.cfg.AdminName, s.AdminPassword)
	fmt.Fprintf(w, "This password is shown once. At first sign-in, enrol a TOTP second factor.\n")
}
