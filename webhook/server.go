package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

// ServerOptions configure the TLS webhook server.
type ServerOptions struct {
	// Host and Port to listen on.
	Host string
	Port int
	// CertDir holds tls.crt and tls.key; they are reloaded when they change.
	CertDir string
	// MinTLSVersion is tls.VersionTLS12 or tls.VersionTLS13.
	MinTLSVersion uint16
	// EnableHTTP2 offers h2 in ALPN. Off by default because of the HTTP/2
	// rapid-reset advisories (CVE-2023-44487, CVE-2023-39325).
	EnableHTTP2 bool
	// ShutdownDelay is how long the server keeps serving after SIGTERM with
	// readiness already failing, so endpoints drop it before it stops.
	ShutdownDelay time.Duration
	// MaxInFlight bounds concurrently handled requests; more wait their turn.
	MaxInFlight int
	// Metrics records the expiry of each serving certificate loaded; may be nil.
	Metrics *Metrics
	// ReadHeaderTimeout and ReadTimeout cut off slow clients; 0 means 5s and 30s.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	Log               logr.Logger
}

// Server is a controller-runtime webhook.Server with hardened HTTP settings:
// header and read timeouts against slow clients, bounded concurrency, TLS 1.2+
// and HTTP/1.1 unless HTTP/2 is asked for.
type Server struct {
	opts         ServerOptions
	mux          *http.ServeMux
	sem          chan struct{}
	started      atomic.Bool
	shuttingDown atomic.Bool
}

var _ crwebhook.Server = (*Server)(nil)

// NewServer returns a server; handlers are added with Register.
func NewServer(o ServerOptions) *Server {
	if o.MinTLSVersion == 0 {
		o.MinTLSVersion = tls.VersionTLS12
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 64
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 5 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 30 * time.Second
	}
	return &Server{opts: o, mux: http.NewServeMux(), sem: make(chan struct{}, o.MaxInFlight)}
}

// NeedLeaderElection is false: every replica serves.
func (s *Server) NeedLeaderElection() bool { return false }

// WebhookMux returns the server's mux.
func (s *Server) WebhookMux() *http.ServeMux { return s.mux }

// Register serves hook on path behind the concurrency limit.
func (s *Server) Register(path string, hook http.Handler) {
	s.mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.sem <- struct{}{}:
			defer func() { <-s.sem }()
		case <-r.Context().Done():
			return
		}
		hook.ServeHTTP(w, r)
	}))
}

// TLSConfig returns the server's TLS settings around getCert.
func (s *Server) TLSConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	protos := []string{"http/1.1"}
	if s.opts.EnableHTTP2 {
		protos = []string{"h2", "http/1.1"}
	}
	return &tls.Config{MinVersion: s.opts.MinTLSVersion, NextProtos: protos, GetCertificate: getCert}
}

// Start serves until ctx is done, then stops gracefully: readiness fails at
// once, the server keeps serving for ShutdownDelay, then in-flight reviews
// finish before Start returns.
func (s *Server) Start(ctx context.Context) error {
	cw, err := certwatcher.New(filepath.Join(s.opts.CertDir, "tls.crt"), filepath.Join(s.opts.CertDir, "tls.key"))
	if err != nil {
		return fmt.Errorf("loading the serving certificate from %s: %w", s.opts.CertDir, err)
	}
	// The callback runs at once for the certificate New loaded, then on every reload.
	cw.RegisterCallback(s.opts.Metrics.CertificateLoaded)
	go func() {
		if err := cw.Start(ctx); err != nil {
			s.opts.Log.Error(err, "certificate watcher stopped")
		}
	}()
	addr := net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
	ln, err := tls.Listen("tcp", addr, s.TLSConfig(cw.GetCertificate))
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           s.mux,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	if !s.opts.EnableHTTP2 {
		// A non-nil empty map turns off the server's automatic HTTP/2.
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		s.shuttingDown.Store(true)
		s.opts.Log.Info("shutting down the webhook server", "delay", s.opts.ShutdownDelay.String())
		time.Sleep(s.opts.ShutdownDelay)
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			s.opts.Log.Error(err, "webhook server shutdown")
		}
	}()
	s.opts.Log.Info("serving webhooks", "address", addr, "minTLSVersion", tls.VersionName(s.opts.MinTLSVersion), "http2", s.opts.EnableHTTP2)
	s.started.Store(true)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-done
	return nil
}

// StartedChecker is the readiness check: the server is serving with its
// certificate loaded, and is not shutting down.
func (s *Server) StartedChecker() healthz.Checker {
	return func(*http.Request) error {
		switch {
		case s.shuttingDown.Load():
			return errors.New("webhook server is shutting down")
		case !s.started.Load():
			return errors.New("webhook server has not started")
		}
		return nil
	}
}
