package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// registryClient is one verification's access to one repository. It owns a
// transport of its own because TLS material differs per OCIRepository;
// close releases its idle connections.
type registryClient struct {
	repo      *remote.Repository
	transport *http.Transport
	// secrets are the credential values to redact from messages.
	secrets []string
}

// accessError marks problems with the pull secrets or TLS material, which
// Flux reports as AuthenticationFailed before contacting the registry.
type accessError struct{ err error }

func (e *accessError) Error() string { return e.err.Error() }
func (e *accessError) Unwrap() error { return e.err }

// newRegistryClient builds the oras-go repository Flux's NotationVerifier
// builds: the repository named by go-containerregistry, PlainHTTP for
// spec.insecure, an auth client with one credential for every host, and
// oras-go's retrying transport over a transport carrying the TLS material.
func newRegistryClient(repoName name.Repository, access Access, o Options) (*registryClient, error) {
	kr, err := newKeyring(access.DockerConfigJSONs)
	if err != nil {
		return nil, &accessError{fmt.Errorf("failed to get credential: %w", err)}
	}
	tlsConfig, err := tlsConfigFor(access)
	if err != nil {
		return nil, &accessError{fmt.Errorf("failed to generate transport for '%s': %w", repoName.Name(), err)}
	}

	repo, err := remote.NewRepository(repoName.Name())
	if err != nil {
		return nil, err
	}
	repo.PlainHTTP = access.Insecure

	base := newTransport(tlsConfig)
	var rt http.RoundTripper = base
	if o.WrapTransport != nil {
		rt = o.WrapTransport(rt)
	}
	rt = &limitTransport{next: rt, limit: o.MaxResponseBytes}

	client := &auth.Client{
		Client: &http.Client{Transport: retry.NewTransport(rt)},
		Header: http.Header{"User-Agent": {o.UserAgent}},
		// Tokens are reused within this verification only.
		Cache: auth.NewCache(),
	}
	// Flux resolves the keychain once and answers every host with the
	// result; the credential follows the repository, not the host asking.
	if cred, ok := kr.lookup(repoName.Name()); ok {
		c := cred.credential()
		client.Credential = func(context.Context, string) (auth.Credential, error) { return c, nil }
	}
	secrets := kr.secrets()
	if b := access.BasicAuth; b != nil {
		c := auth.Credential{Username: b.Username, Password: b.Password}
		client.Credential = func(context.Context, string) (auth.Credential, error) { return c, nil }
		secrets = append(secrets, b.Password)
	}
	repo.Client = client

	if len(access.KeyPEM) > 0 {
		secrets = append(secrets, string(access.KeyPEM))
	}
	return &registryClient{repo: repo, transport: base, secrets: secrets}, nil
}

func (c *registryClient) close() { c.transport.CloseIdleConnections() }

// tlsConfigFor mirrors source-controller's getTLSConfig: without TLS
// material, spec.insecure skips server verification (the one place Flux
// allows it; oras-go speaks plain HTTP then anyway) and otherwise the
// system roots apply; with material, a certificate needs its key, and the
// CA is added to the system roots rather than replacing them.
func tlsConfigFor(a Access) (*tls.Config, error) {
	hasCert, hasKey, hasCA := len(a.CertPEM) > 0, len(a.KeyPEM) > 0, len(a.CAPEM) > 0
	if !hasCert && !hasKey && !hasCA {
		if a.Insecure {
			return &tls.Config{InsecureSkipVerify: true}, nil // Flux's documented exception for spec.insecure
		}
		return nil, nil
	}
	if hasCert != hasKey {
		return nil, errors.New("TLS certificate and private key must be given together")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if hasCert {
		pair, err := tls.X509KeyPair(a.CertPEM, a.KeyPEM)
		if err != nil {
			// The parse error never quotes key material.
			return nil, fmt.Errorf("failed to parse TLS certificate and key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if hasCA {
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("cannot retrieve system certificate pool: %w", err)
		}
		if !pool.AppendCertsFromPEM(a.CAPEM) {
			return nil, errors.New("failed to parse CA certificate")
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// newTransport has the settings of go-containerregistry's default
// transport, which Flux clones.
func newTransport(tlsConfig *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		TLSClientConfig:       tlsConfig,
	}
}
