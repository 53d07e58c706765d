package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/tracker"
	"github.com/filehost/host/internal/wasm"
)

// Backend is what the dashboard shows and acts on. Files are named by
// tracker id; an id that is unknown, or not in the state asked for, gives
// an error wrapping fs.ErrNotExist.
type Backend interface {
	Tracker() *tracker.Tracker
	Plugins() []*wasm.Plugin
	Pipelines() []host.PipelineConfig
	// Folders lists the watched folders in config order; uploads go to
	// one of them (the first unless the form names another).
	Folders() []string
	// Deposit writes an upload whole-or-nothing into folder's
	// unprocessed/ as name or a free variant, and returns its path. More
	// than limit bytes fail with host.ErrTooLarge.
	Deposit(folder, name string, r io.Reader, limit int64) (path string, err error)
	// OpenResult opens a processed file's result; OpenFailed a failed
	// file's original. Neither follows a symbolic link or opens anything
	// but a regular file.
	OpenResult(id uint64) (*os.File, fs.FileInfo, error)
	OpenFailed(id uint64) (*os.File, fs.FileInfo, error)
	Report(id uint64) ([]byte, error) // a failed file's error report (JSON)
	Retry(id uint64) error            // move a failed file back to unprocessed/
	DeleteFailed(id uint64) error     // remove a failed file and its report
	Ignored() []host.Ignored          // what the watchers skip in unprocessed/, and why
	Ready() error                     // nil when the watchers run and plugins are loaded; else why not
	Started() time.Time
	// Reload reads the config and plugins again and switches to them if
	// they are all valid; on error nothing changes (host.ErrReloadBusy
	// while one runs).
	Reload(ctx context.Context) error
	ReloadStatus() host.ReloadStatus // the generation in use and the last reload's outcome
}

var _ Backend = (*host.Service)(nil)

// Options configure a Server.
type Options struct {
	Addr      string // e.g. "127.0.0.1:5000"; "127.0.0.1:0" picks a port; "" means the config default
	Token     string // "" = no auth
	MaxUpload int64  // bytes per uploaded file; 0 means the config default
	// MaxUploads bounds the uploads received at once; more get 503. 0
	// means DefaultMaxUploads.
	MaxUploads int
	// UploadIdle is how long an upload may send nothing before it is cut
	// off; 0 means DefaultUploadIdle.
	UploadIdle time.Duration
	// MaxConns bounds the open connections; 0 means a share of the
	// process's file descriptor limit (see connLimit), so that processing
	// always has descriptors left.
	MaxConns int
	Version  string
	Logger   *slog.Logger

	// writeTimeout overrides writeTimeout, for tests.
	writeTimeout time.Duration
}

// DefaultMaxUploads and DefaultUploadIdle are the upload bounds unless
// Options say otherwise.
const (
	DefaultMaxUploads = 8
	DefaultUploadIdle = 30 * time.Second
)

// shutdownTimeout bounds Close: requests in flight get this long.
const shutdownTimeout = 5 * time.Second

// Server serves the dashboard for one Backend.
type Server struct {
	b       Backend
	tracker *tracker.Tracker
	opts    Options
	logger  *slog.Logger
	handler http.Handler
	csrf    string // per-server token mutating calls must carry
	cookie  string // name of the auth cookie
	session string // value of the auth cookie: derived from the token
	origin  *http.CrossOriginProtection
	// loopback is set when the listen address is a loopback one: requests
	// must then name a loopback host, which defeats DNS rebinding.
	loopback bool

	hub     *hub
	metrics *metrics
	uploads chan struct{} // a token per upload being received

	mu       sync.Mutex
	srv      *http.Server
	ln       net.Listener
	done     chan struct{} // closed by Close: ends the pump and SSE streams
	pumpDone chan struct{}
	closed   bool
}

// New returns a server for b. It subscribes to b.Tracker() at once, so
// metrics count from here; Close releases it, whether or not Open was
// called.
func New(b Backend, opts Options) *Server {
	// The defaults are the config's, kept in one place (host.DefaultConfig).
	if opts.Addr == "" {
		opts.Addr = host.DefaultConfig().Web.Addr
	}
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = int64(host.DefaultConfig().Web.MaxUpload)
	}
	if opts.MaxUploads <= 0 {
		opts.MaxUploads = DefaultMaxUploads
	}
	if opts.UploadIdle <= 0 {
		opts.UploadIdle = DefaultUploadIdle
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = connLimit()
	}
	if opts.writeTimeout <= 0 {
		opts.writeTimeout = writeTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		b:        b,
		tracker:  b.Tracker(),
		opts:     opts,
		logger:   opts.Logger,
		csrf:     randomHex(16),
		cookie:   "filehost_token",
		origin:   http.NewCrossOriginProtection(),
		hub:      newHub(),
		uploads:  make(chan struct{}, opts.MaxUploads),
		done:     make(chan struct{}),
		pumpDone: make(chan struct{}),
	}
	host, port, err := net.SplitHostPort(opts.Addr)
	if err == nil {
		s.loopback = isLoopback(host)
		if port != "" && port != "0" {
			// Cookies ignore ports: name the cookie after it so two hosts
			// on one machine do not overwrite each other's.
			s.cookie += "_" + port
		}
	}
	if opts.Token != "" {
		s.session = sessionValue(opts.Token)
	}
	s.metrics = newMetrics(s)
	s.handler = s.routes()
	events, stop := s.tracker.Subscribe(trackerBuffer) // Here, not in pump: count from New on.
	go s.pump(events, stop)
	return s
}

// Open listens on Options.Addr, then serves in a goroutine, so a taken
// port fails here.
func (s *Server) Open() error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return errors.New("dashboard: server closed")
	}
	ln = limitListener(ln, s.opts.MaxConns)
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
		// No ReadTimeout or WriteTimeout: uploads, event streams and
		// downloads run long. Each sets a deadline as it goes instead
		// (uploads per read, streams and downloads per write), so a slow
		// client cannot hold a connection for ever.
	}
	srv := s.srv
	s.mu.Unlock()
	if !s.loopback && s.opts.Token == "" {
		s.logger.Warn("dashboard listens beyond loopback without a token: anyone who can reach it can upload and retry files", "addr", ln.Addr().String())
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("dashboard stopped", "error", err)
		}
	}()
	return nil
}

// Addr is the address the server listens on once Open returned, with the
// port chosen for ":0"; before that, Options.Addr.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.opts.Addr
}

// URL is the dashboard's address as a URL, for logs and tests.
func (s *Server) URL() string { return "http://" + s.Addr() + "/" }

// Close ends event streams, then shuts the server down, giving requests
// in flight a few seconds.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv := s.srv
	s.mu.Unlock()

	close(s.done) // Streams never go idle: end them before Shutdown waits.
	<-s.pumpDone
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("dashboard: shutdown: %w", err)
	}
	return nil
}

// Handler is the server's whole HTTP handler, for httptest and for
// mounting elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails.
	return hex.EncodeToString(b)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// assetsVersion is a digest of the embedded assets: it busts caches and
// tells an open page that the server it reconnected to runs other code.
var assetsVersion = func() string {
	h := sha256.New()
	for _, name := range []string{"assets/app.js", "assets/style.css", "assets/index.html"} {
		b, _ := assets.ReadFile(name)
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}()
