// Package notation pushes small OCI artifacts to a test registry and signs
// them with notation-go, the library the Notation CLI and Flux use, so tests
// exercise real signatures without the CLI.
package notation

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/flux-notation/verification-operator/test/registry"
)

// Remote says how to reach a registry.
type Remote struct {
	// PlainHTTP talks HTTP instead of HTTPS.
	PlainHTTP bool
	// Username and Password are sent as basic auth when Username is set.
	Username, Password string
	// CAPEM is trusted, in addition to nothing else, for HTTPS registries.
	CAPEM []byte
	// ClientCert is presented to registries that require mutual TLS.
	ClientCert *tls.Certificate
}

// For returns a Remote for a test registry, without credentials.
func For(r *registry.Registry) Remote {
	return Remote{PlainHTTP: r.PlainHTTP(), CAPEM: r.CAPEM()}
}

// Repository returns an oras-go client for reference ("host/repository").
func (r Remote) Repository(reference string) (*remote.Repository, error) {
	repo, err := remote.NewRepository(reference)
	if err != nil {
		return nil, err
	}
	repo.PlainHTTP = r.PlainHTTP

	transport := http.DefaultTransport.(*http.Transport).Clone()
	if len(r.CAPEM) > 0 || r.ClientCert != nil {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if len(r.CAPEM) > 0 {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(r.CAPEM) {
				return nil, errors.New("no certificate in CAPEM")
			}
			tc.RootCAs = pool
		}
		if r.ClientCert != nil {
			tc.Certificates = []tls.Certificate{*r.ClientCert}
		}
		transport.TLSClientConfig = tc
	}
	client := &auth.Client{Client: &http.Client{Transport: transport}, Cache: auth.NewCache()}
	if r.Username != "" {
		client.Credential = auth.StaticCredential(repo.Reference.Registry, auth.Credential{Username: r.Username, Password: r.Password})
	}
	repo.Client = client
	return repo, nil
}
