package notation

import (
	"context"
	"errors"
	"fmt"
	"strings"

	notationregistry "github.com/notaryproject/notation-go/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/registry"
)

// authErrorWords are what source-controller's HelmChart reconciler (v1.9.3,
// buildFromHelmRepository) looks for anywhere in a chart build error's text
// to decide that it is an authentication failure.
var authErrorWords = []string{"401", "unauthorized", "authentication required", "tls", "unknown certificate authority"}

// FluxTakesForAuthError reports whether a chart build error mentioning s
// would be taken by source-controller for an authentication failure. Flux
// then sets FetchFailed instead of SourceVerified=False and leaves an old
// SourceVerified=True in place (../shared/notes/flux-notation.md). A
// verification error names the registry's host and port, the repository,
// and the chart's and signature's digests: test fixtures keep the words
// out of those, so that a test about verification is never decided by a
// random port or digest.
func FluxTakesForAuthError(s string) bool {
	for _, w := range authErrorWords {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// NewChartRegistry starts a registry as registry.New does, at an address
// Flux cannot take for an authentication error (a chart verification error
// names the registry's host and port), closing each one refused.
func NewChartRegistry(o registry.Options) (*registry.Registry, error) {
	for range 10 {
		r, err := registry.New(o)
		if err != nil || !FluxTakesForAuthError(r.Host()) {
			return r, err
		}
		r.Close()
	}
	return nil, errors.New("no registry address Flux would not take for an authentication error in 10 attempts")
}

// SignChart signs a chart as Sign does, and signs it again (deleting the
// signature) until the signature manifest's digest, which a verification
// failure names ("failed to verify signature with digest ..."), has none
// of the words that make Flux take the error for an authentication failure
// (FluxTakesForAuthError).
func SignChart(ctx context.Context, r Remote, repository string, desc ocispec.Descriptor, leaf *certs.Cert, chain ...*certs.Cert) error {
	return signUntil(ctx, r, repository, desc, func(sig ocispec.Descriptor) bool {
		return !FluxTakesForAuthError(sig.Digest.String())
	}, leaf, chain...)
}

// signUntil signs desc, deleting and making again each signature that
// accept refuses, up to 20 times.
func signUntil(ctx context.Context, r Remote, repository string, desc ocispec.Descriptor, accept func(ocispec.Descriptor) bool, leaf *certs.Cert, chain ...*certs.Cert) error {
	repo, err := r.Repository(repository)
	if err != nil {
		return err
	}
	for range 20 {
		if _, err := Sign(ctx, r, repository, desc, leaf, chain...); err != nil {
			return err
		}
		sigs, err := orasregistry.Referrers(ctx, repo, desc, notationregistry.ArtifactTypeNotation)
		if err != nil {
			return fmt.Errorf("listing the signatures of %s: %w", repository, err)
		}
		if len(sigs) != 1 {
			return fmt.Errorf("%s has %d signatures, want 1", repository, len(sigs))
		}
		if accept(sigs[0]) {
			return nil
		}
		if err := repo.Delete(ctx, sigs[0]); err != nil {
			return fmt.Errorf("deleting a refused signature of %s: %w", repository, err)
		}
	}
	return fmt.Errorf("no acceptable signature of %s in 20 attempts", repository)
}
