// Package registry runs real OCI registries for tests and the demo: the
// CNCF distribution registry (v3) in-process, with in-memory storage, on
// 127.0.0.1, optionally behind htpasswd basic auth and TLS from a private CA.
// It also provides registries that misbehave on purpose (one that hangs, one
// that answers garbage) for isolation tests.
//
// It is a package rather than _test files so that the tests of several
// packages, and the demo, can share it.
package registry

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/sirupsen/logrus"

	"github.com/flux-notation/verification-operator/test/certs"
)

// Options configure a Registry. The zero value is an anonymous plain-HTTP
// registry.
type Options struct {
	// Users maps user names to passwords. When set, every request needs HTTP
	// basic auth, checked by distribution's htpasswd access controller
	// against a bcrypt htpasswd file.
	Users map[string]string

	// TLS serves HTTPS with a server certificate for 127.0.0.1 issued by a
	// fresh private CA; clients trust it through Registry.CAPEM.
	TLS bool

	// ClientCA, when set, requires clients to present a certificate issued
	// by it (mutual TLS). It implies TLS.
	ClientCA *certs.Cert
}

// Registry is a running distribution registry.
type Registry struct {
	server  *httptest.Server
	app     *handlers.App
	counter *counter
	ca      *certs.Cert
	dir     string
}

// quietOnce sets the level of logrus's standard logger, which distribution
// logs every request to (every 404 as an error): "fatal" unless
// TEST_REGISTRY_LOG_LEVEL says otherwise, so test output stays readable.
var quietOnce sync.Once

func quiet() {
	level, err := logrus.ParseLevel(os.Getenv("TEST_REGISTRY_LOG_LEVEL"))
	if err != nil {
		level = logrus.FatalLevel
	}
	logrus.SetLevel(level)
}

// New starts a registry. Close it when done.
func New(o Options) (*Registry, error) {
	quietOnce.Do(quiet)

	dir, err := os.MkdirTemp("", "test-registry-")
	if err != nil {
		return nil, err
	}
	cfg, err := configure(o, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}

	r := &Registry{dir: dir}
	r.app = handlers.NewApp(context.Background(), cfg)
	r.counter = newCounter(r.app)
	r.server = httptest.NewUnstartedServer(r.counter)
	// Refused TLS handshakes are what some tests are about; do not log them.
	r.server.Config.ErrorLog = log.New(io.Discard, "", 0)

	if o.TLS || o.ClientCA != nil {
		r.ca = certs.NewCA("test registry CA")
		server := certs.NewServer(r.ca, "127.0.0.1")
		tc := &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}, MinVersion: tls.VersionTLS12}
		if o.ClientCA != nil {
			pool := x509.NewCertPool()
			pool.AddCert(o.ClientCA.Cert)
			tc.ClientCAs = pool
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
		r.server.TLS = tc
		r.server.StartTLS()
	} else {
		r.server.Start()
	}
	return r, nil
}

// Start is New for tests: it fails tb on error and closes the registry when
// the test ends.
func Start(tb testing.TB, o Options) *Registry {
	tb.Helper()
	r, err := New(o)
	if err != nil {
		tb.Fatalf("starting test registry: %v", err)
	}
	tb.Cleanup(r.Close)
	return r
}

// configure builds the distribution configuration: in-memory storage, no
// upload purging (it would start a timer goroutine), htpasswd auth if users
// are given.
func configure(o Options, dir string) (*configuration.Configuration, error) {
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	cfg := &configuration.Configuration{}
	cfg.Version = "0.1"
	cfg.Log.Level = "warn"
	cfg.HTTP.Secret = hex.EncodeToString(secret)
	cfg.Storage = configuration.Storage{
		"inmemory":    configuration.Parameters{},
		"delete":      configuration.Parameters{"enabled": true},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}
	if len(o.Users) > 0 {
		path := filepath.Join(dir, "htpasswd")
		if err := writeHtpasswd(path, o.Users); err != nil {
			return nil, err
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "test-registry", "path": path}}
	}
	return cfg, nil
}

// Host returns "127.0.0.1:<port>", the registry part of references.
func (r *Registry) Host() string { return r.server.Listener.Addr().String() }

// URL returns the base URL, http:// or https://.
func (r *Registry) URL() string { return r.server.URL }

// PlainHTTP reports whether the registry speaks plain HTTP.
func (r *Registry) PlainHTTP() bool { return r.ca == nil }

// CA returns the private CA that issued the server certificate, nil for a
// plain-HTTP registry.
func (r *Registry) CA() *certs.Cert { return r.ca }

// CAPEM returns the PEM of CA(), nil for a plain-HTTP registry.
func (r *Registry) CAPEM() []byte {
	if r.ca == nil {
		return nil
	}
	return r.ca.PEM()
}

// Requests returns how many HTTP requests the registry has received.
func (r *Registry) Requests() int64 { return r.counter.requests() }

// ResetRequests sets the request counter back to zero.
func (r *Registry) ResetRequests() { r.counter.reset() }

// Reference returns "<host>/<repository>".
func (r *Registry) Reference(repository string) string {
	return fmt.Sprintf("%s/%s", r.Host(), repository)
}

// Close stops the server, the registry application and removes its files.
func (r *Registry) Close() {
	r.server.Close()
	_ = r.app.Shutdown()
	_ = os.RemoveAll(r.dir)
}
