package verify

import (
	"context"
	"errors"

	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// notation.Verify flattens what went wrong into strings: a registry error
// becomes SignatureRetrievalFailedError{Msg: err.Error()}, and the outcomes
// of the signatures that failed are dropped, leaving only their errors. To
// give a precise reason without parsing messages, the repository and the
// verifier handed to notation.Verify are wrapped and watch what passes
// through. Neither wrapper changes a value or an error.

// observedRepository records the first error the registry returned.
type observedRepository struct {
	registry.Repository
	err error
}

func (r *observedRepository) record(err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
}

func (r *observedRepository) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	desc, err := r.Repository.Resolve(ctx, reference)
	r.record(err)
	return desc, err
}

// ListSignatures records only the listing's own errors: notation-go stops
// the listing by returning sentinel errors from fn, which come back here.
func (r *observedRepository) ListSignatures(ctx context.Context, desc ocispec.Descriptor, fn func([]ocispec.Descriptor) error) error {
	var fnErr error
	err := r.Repository.ListSignatures(ctx, desc, func(m []ocispec.Descriptor) error {
		fnErr = fn(m)
		return fnErr
	})
	if err != nil && (fnErr == nil || !errors.Is(err, fnErr)) {
		r.record(err)
	}
	return err
}

func (r *observedRepository) FetchSignatureBlob(ctx context.Context, desc ocispec.Descriptor) ([]byte, ocispec.Descriptor, error) {
	blob, blobDesc, err := r.Repository.FetchSignatureBlob(ctx, desc)
	r.record(err)
	return blob, blobDesc, err
}

// skipChecker is the optional interface notation.Verify looks for to honour
// a skip level before touching the registry; verifier.New's verifier has it.
type skipChecker interface {
	SkipVerify(ctx context.Context, opts notation.VerifierVerifyOptions) (bool, *trustpolicy.VerificationLevel, error)
}

// observedVerifier records the outcome of every signature it verifies.
type observedVerifier struct {
	inner    notation.Verifier
	outcomes []*notation.VerificationOutcome
}

func (v *observedVerifier) Verify(ctx context.Context, desc ocispec.Descriptor, signature []byte, opts notation.VerifierVerifyOptions) (*notation.VerificationOutcome, error) {
	outcome, err := v.inner.Verify(ctx, desc, signature, opts)
	if outcome != nil {
		v.outcomes = append(v.outcomes, outcome)
	}
	return outcome, err
}

// SkipVerify forwards to the inner verifier, so wrapping keeps
// notation.Verify's skip path exactly as it is for Flux.
func (v *observedVerifier) SkipVerify(ctx context.Context, opts notation.VerifierVerifyOptions) (bool, *trustpolicy.VerificationLevel, error) {
	if s, ok := v.inner.(skipChecker); ok {
		return s.SkipVerify(ctx, opts)
	}
	return false, nil, nil
}
