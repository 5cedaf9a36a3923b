package notation

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pluginMarkedSigner signs like notation-go's generic signer but adds the
// critical signed attribute that names a verification plugin, which is what
// a plugin-backed signer (a KMS, for example) writes. notation-go's generic
// signer has no option for it.
type pluginMarkedSigner struct {
	key    crypto.Signer
	chain  []*x509.Certificate
	plugin string
}

func (s *pluginMarkedSigner) Sign(ctx context.Context, desc ocispec.Descriptor, opts notation.SignerSignOptions) ([]byte, *signature.SignerInfo, error) {
	payload, err := json.Marshal(struct {
		TargetArtifact ocispec.Descriptor `json:"targetArtifact"`
	}{TargetArtifact: ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}})
	if err != nil {
		return nil, nil, err
	}
	local, err := signature.NewLocalSigner(s.chain, s.key)
	if err != nil {
		return nil, nil, err
	}
	req := &signature.SignRequest{
		Payload:       signature.Payload{ContentType: "application/vnd.cncf.notary.payload.v1+json", Content: payload},
		Signer:        local,
		SigningTime:   time.Now(),
		SigningScheme: signature.SigningSchemeX509,
		SigningAgent:  "verification-operator tests",
		ExtendedSignedAttributes: []signature.Attribute{
			{Key: verifier.HeaderVerificationPlugin, Critical: true, Value: s.plugin},
		},
	}
	env, err := signature.NewEnvelope(opts.SignatureMediaType)
	if err != nil {
		return nil, nil, err
	}
	sig, err := env.Sign(req)
	if err != nil {
		return nil, nil, fmt.Errorf("signing: %w", err)
	}
	content, err := env.Verify()
	if err != nil {
		return nil, nil, err
	}
	return sig, &content.SignerInfo, nil
}
