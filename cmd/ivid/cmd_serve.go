package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ivid-project/ivid/internal/audit"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/server"
)

// serverFlags are the flags every command touching a server's data shares.
type serverFlags struct {
	data, database, keyFile string
}

func (s *serverFlags) add(f *pflag.FlagSet) {
	f.StringVar(&s.data, "data", envOr("IVID_DATA", "ivid-data"), "data folder: SQLite database, encrypted blob store, master key ($IVID_DATA)")
	f.StringVar(&s.database, "database", os.Getenv("IVID_DATABASE_URL"), "PostgreSQL URL (postgres://…) instead of the embedded SQLite ($IVID_DATABASE_URL)")
	f.StringVar(&s.keyFile, "master-key-file", os.Getenv("IVID_MASTER_KEY_FILE"), "master key file (default DATA/master.key, created on first start; or $"+server.EnvMasterKey+")")
}

func (s serverFlags) config() server.Config {
	return server.Config{DataDir: s.data, DatabaseURL: s.database, MasterKeyFile: s.keyFile, MasterKey: os.Getenv(server.EnvMasterKey)}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type serveOptions struct {
	server          serverFlags
	addr            string
	tlsCert, tlsKey string
	insecureCookies bool
	totpOptional    bool
	decodeLimit     time.Duration
	follow          time.Duration
	decoders        decoderFlag
	video           videoFlags
}

func newServeCommand(g *globalOptions) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ivid database server (API) on the embedded SQLite default or PostgreSQL",
		Long: `Runs the ivid database server. With no flags it keeps everything in ./ivid-data:
an SQLite database, an encrypted blob store and its master key (created on
first start; back it up apart from the data). The first start creates a
hub-admin account "admin" whose one-time password is printed once (or taken
from $IVID_ADMIN_PASSWORD). --database postgres://… uses PostgreSQL instead.
Migrations are applied at start. Logs are JSON on stderr. It hashes as many
contributed files at once as there are cores, and runs one Go processor
more, so that a commit waiting on the disk does not idle one ($GOMAXPROCS
overrides).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), o, g.stdout, g.stderr, nil)
		},
	}
	f := cmd.Flags()
	o.server.add(f)
	f.StringVar(&o.addr, "addr", envOr("IVID_ADDR", "127.0.0.1:8080"), "listen address ($IVID_ADDR)")
	f.StringVar(&o.tlsCert, "tls-cert", os.Getenv("IVID_TLS_CERT"), "TLS certificate file")
	f.StringVar(&o.tlsKey, "tls-key", os.Getenv("IVID_TLS_KEY"), "TLS key file")
	f.BoolVar(&o.insecureCookies, "insecure-cookies", false, "session cookies without the Secure flag (plain HTTP off localhost; never in production)")
	f.BoolVar(&o.totpOptional, "totp-optional", false, "do not require a second factor of specialists and admins (training only)")
	f.DurationVar(&o.decodeLimit, "decode-limit", filehash.DefaultDecodeLimit, "answer a contributed image whose decoding takes longer than this with an error (0: no limit)")
	f.DurationVar(&o.follow, "follow", time.Second, "replay, this often, the index changes other servers over the same database made (0: never)")
	o.decoders.add(f)
	o.video.add(f)
	// Contributed videos are always hashed at every frame (see ivid.Config.Video).
	f.Lookup("seconds-per-hash").Hidden = true
	return cmd
}

func runServe(ctx context.Context, o serveOptions, stdout, stderr io.Writer, ready func(addr string)) error {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg := o.server.config()
	cfg.Addr, cfg.TLSCert, cfg.TLSKey = o.addr, o.tlsCert, o.tlsKey
	cfg.InsecureCookies, cfg.TOTPOptional, cfg.Log = o.insecureCookies, o.totpOptional, log
	cfg.AdminPassword = ivid.BootstrapPassword()
	cfg.Hashers = serverProcs()
	cfg.DecodeLimit = limitOption(o.decodeLimit)
	cfg.FollowEvery = o.follow
	var stop func()
	cfg.Decoders, stop = o.decoders.start(stderr)
	defer stop()
	log.Info("processors", "hashers", cfg.Hashers, "gomaxprocs", runtime.GOMAXPROCS(0))
	var err error
	if cfg.Video, err = o.video.options(0); err != nil {
		return err
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return usageError{fmt.Errorf("--tls-cert and --tls-key go together")}
	}
	if host, _, err := net.SplitHostPort(cfg.Addr); err == nil && cfg.TLSCert == "" && !isLoopback(host) {
		log.Warn("serving plain HTTP off loopback: put ivid behind TLS", "addr", cfg.Addr)
	}
	srv, err := server.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	srv.PrintFirstAccount(stdout)
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	return srv.Serve(ctx, func(addr string) {
		fmt.Fprintf(stdout, "ivid serving on %s://%s\n", scheme, addr)
		if ready != nil {
			ready(addr)
		}
	})
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newMigrateCommand(g *globalOptions) *cobra.Command {
	var s serverFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations and print the schema version",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := server.OpenDB(cmd.Context(), s.config())
			if err != nil {
				return err
			}
			defer db.Close()
			have, _, err := db.Version(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "ivid migrate: %s database at schema version %d\n", db.Dialect(), have)
			return nil
		},
	}
	s.add(cmd.Flags())
	return cmd
}

func newKeysCommand(g *globalOptions) *cobra.Command {
	var s serverFlags
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Re-wrap every blob's data key under a new master key (server stopped)",
		Long: `Generates a new master key, re-wraps every blob's data key with it, then
replaces the key file's key; the old key no longer opens anything. The
server must be stopped. Interrupted, run it again: it resumes.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := server.RotateKeys(cmd.Context(), s.config())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "ivid keys rotate: %d blobs re-wrapped; back up the new master key\n", n)
			return nil
		},
	}
	s.add(rotate.Flags())
	cmd := &cobra.Command{Use: "keys", Short: "Manage the blob store's master key"}
	cmd.AddCommand(rotate)
	return cmd
}

func newAuditCommand(g *globalOptions) *cobra.Command {
	var s serverFlags
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit trail's hash chain; name the first edited, removed or reordered record",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := server.OpenDB(cmd.Context(), s.config())
			if err != nil {
				return err
			}
			defer db.Close()
			n, err := ivid.VerifyTrail(cmd.Context(), db)
			var be *audit.BreakError
			if errors.As(err, &be) {
				fmt.Fprintf(g.stdout, "ivid audit verify: BROKEN after %d intact records: %v\n", n, be)
				return partialError{1}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "ivid audit verify: %d records, chain intact\n", n)
			return nil
		},
	}
	s.add(verify.Flags())
	cmd := &cobra.Command{Use: "audit", Short: "The tamper-evident audit trail"}
	cmd.AddCommand(verify)
	return cmd
}
