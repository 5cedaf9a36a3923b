package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	. "github.com/onsi/gomega"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/test/certs"
	tnotation "github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// someDigest is a well-formed digest of nothing in any registry.
const someDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// signer is a root CA with a code-signing leaf under it.
type signer struct {
	root, leaf *certs.Cert
}

func newSigner(cn string) signer {
	root := certs.NewCA(cn)
	return signer{root: root, leaf: certs.NewCodeSigner(cn+" release", root)}
}

// world is a registry with a repository and what is needed to push and
// sign in it.
type world struct {
	t      *testing.T
	reg    *registry.Registry
	remote tnotation.Remote
	repo   string // "host/app"
}

func newWorld(t *testing.T, o registry.Options) *world {
	reg := registry.Start(t, o)
	return &world{t: t, reg: reg, remote: tnotation.For(reg), repo: reg.Reference("app")}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// push pushes an artifact holding content and tags it.
func (w *world) push(content string, tags ...string) ocispec.Descriptor {
	w.t.Helper()
	ctx := testContext(w.t)
	desc, err := tnotation.PushArtifact(ctx, w.remote, w.repo, "", []byte(content))
	if err != nil {
		w.t.Fatalf("push: %v", err)
	}
	for _, tag := range tags {
		if err := tnotation.Tag(ctx, w.remote, w.repo, desc, tag); err != nil {
			w.t.Fatalf("tag: %v", err)
		}
	}
	return desc
}

// sign signs desc with s.
func (w *world) sign(desc ocispec.Descriptor, s signer) {
	w.t.Helper()
	if _, err := tnotation.Sign(testContext(w.t), w.remote, w.repo, desc, s.leaf, s.root); err != nil {
		w.t.Fatalf("sign: %v", err)
	}
}

// request asks to verify the artifact at revision "<digest>" with trust.
func (w *world) request(desc ocispec.Descriptor, trust map[string][]byte) Request {
	return Request{
		URL:       "oci://" + w.repo,
		Revision:  desc.Digest.String(),
		Access:    Access{Insecure: w.reg.PlainHTTP(), CAPEM: w.reg.CAPEM()},
		TrustData: trust,
	}
}

// statement is a strict statement for scope trusting any identity of the
// "ca:roots" store.
func statement(scope string) trustpolicy.TrustPolicy {
	return trustpolicy.TrustPolicy{
		Name:                  "test",
		RegistryScopes:        []string{scope},
		SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: trustpolicy.LevelStrict.Name},
		TrustStores:           []string{"ca:roots"},
		TrustedIdentities:     []string{"*"},
	}
}

// trustData renders Secret data as our operator does: the policy and one
// certificate per key.
func trustData(t *testing.T, statements []trustpolicy.TrustPolicy, roots ...*certs.Cert) map[string][]byte {
	t.Helper()
	doc := trustpolicy.Document{Version: "1.0", TrustPolicies: statements}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string][]byte{trustconfig.TrustPolicyKey: raw}
	for i, r := range roots {
		data[fmt.Sprintf("root-%d.crt", i)] = r.PEM()
	}
	return data
}

// trustFor trusts roots for the world's repository.
func (w *world) trustFor(roots ...*certs.Cert) map[string][]byte {
	return trustData(w.t, []trustpolicy.TrustPolicy{statement(w.repo)}, roots...)
}

// dockerConfig is a .dockerconfigjson for one registry.
func dockerConfig(host, user, password string) []byte {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	return []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth))
}

// expectResult checks outcome and reason, printing the message on failure.
func expectResult(g Gomega, r Result, outcome Outcome, reason string) {
	g.ExpectWithOffset(1, r.Outcome).To(Equal(outcome), "reason %s, message: %s", r.Reason, r.Message)
	g.ExpectWithOffset(1, r.Reason).To(Equal(reason), "message: %s", r.Message)
}
