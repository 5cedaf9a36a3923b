package notation

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/signer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/flux-notation/verification-operator/test/certs"
)

// Envelope media types notation-go can produce.
const (
	JWS  = jws.MediaTypeEnvelope
	COSE = cose.MediaTypeEnvelope
)

// SignOptions tune a signature.
type SignOptions struct {
	// MediaType is the envelope format, JWS (the default) or COSE.
	MediaType string
	// Expiry, when set, makes the signature expire that long after signing.
	Expiry time.Duration
	// VerificationPlugin, when set, marks the signature as requiring that
	// verification plugin (a critical signed attribute), as plugin-backed
	// signers do. Verifiers without plugins cannot conclude on it.
	VerificationPlugin string
}

// Sign signs desc in repository ("host/repository") with leaf's key and
// pushes the signature next to it, as `notation sign` does. chain holds the
// certificates above leaf, up to and including the root; the envelope
// carries leaf followed by chain. It returns the signature manifest.
func Sign(ctx context.Context, r Remote, repository string, desc ocispec.Descriptor, leaf *certs.Cert, chain ...*certs.Cert) (ocispec.Descriptor, error) {
	return SignWithOptions(ctx, r, repository, desc, SignOptions{}, leaf, chain...)
}

// SignWithOptions is Sign with options.
func SignWithOptions(ctx context.Context, r Remote, repository string, desc ocispec.Descriptor, o SignOptions, leaf *certs.Cert, chain ...*certs.Cert) (ocispec.Descriptor, error) {
	if o.MediaType == "" {
		o.MediaType = JWS
	}
	certChain := []*x509.Certificate{leaf.Cert}
	for _, c := range chain {
		certChain = append(certChain, c.Cert)
	}

	var s notation.Signer
	if o.VerificationPlugin != "" {
		s = &pluginMarkedSigner{key: leaf.Key, chain: certChain, plugin: o.VerificationPlugin}
	} else {
		gs, err := signer.NewGenericSigner(leaf.Key, certChain)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		s = gs
	}

	repo, err := r.Repository(repository)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return notation.Sign(ctx, s, notationregistry.NewRepository(repo), notation.SignOptions{
		SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: o.MediaType, ExpiryDuration: o.Expiry},
		ArtifactReference: desc.Digest.String(),
	})
}

// PushSignature attaches envelope to subject as a Notation signature
// manifest without checking what it holds: for malformed, oversized or
// otherwise hostile signatures.
func PushSignature(ctx context.Context, r Remote, repository string, subject ocispec.Descriptor, mediaType string, envelope []byte) (ocispec.Descriptor, error) {
	repo, err := r.Repository(repository)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	_, manifest, err := notationregistry.NewRepository(repo).PushSignature(ctx, mediaType, envelope, subject, nil)
	return manifest, err
}
