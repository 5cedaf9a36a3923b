package targets

import (
	"context"
	"maps"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// maxContents bounds the trust data kept by digest: a policy has its
// current and, during a staged rollout, its previous configuration, so a
// few per policy serve every namespace.
const maxContents = 64

// Contents is the trust data of the operator's Secrets, which Store does
// not cache: by trust digest, the digest of the data itself, so data seen
// once for a digest is the data of every Secret that provably holds that
// digest (DataIntact). The sync reconciler adds what it renders; anything
// else is read from one Secret and kept only if its digest checks out.
type Contents struct {
	// Reader reads a Secret in full, by name (an uncached GET).
	Reader client.Reader

	mu    sync.Mutex
	data  map[string]map[string][]byte
	order []string
}

// Add keeps data as the content of digest.
func (c *Contents) Add(digest string, data map[string][]byte) {
	if digest == "" || trustconfig.TrustDigest(data) != digest {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.data == nil {
		c.data = map[string]map[string][]byte{}
	}
	if _, ok := c.data[digest]; ok {
		return
	}
	if len(c.order) >= maxContents {
		delete(c.data, c.order[0])
		c.order = c.order[1:]
	}
	c.data[digest] = maps.Clone(data)
	c.order = append(c.order, digest)
}

func (c *Contents) get(digest string) (map[string][]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.data[digest]
	return d, ok
}

// Of returns the data of the Secret m describes and its actual digest:
// from memory when m proves its data intact, else read from the API
// server. The data must not be modified.
func (c *Contents) Of(ctx context.Context, m *metav1.PartialObjectMetadata) (map[string][]byte, string, error) {
	claimed := m.Annotations[v1alpha1.TrustDigestAnnotation]
	if d, ok := c.get(claimed); ok && DataIntact(m, slices.Collect(maps.Keys(d))) {
		return d, claimed, nil
	}
	var s corev1.Secret
	if err := c.Reader.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: m.Name}, &s); err != nil {
		return nil, "", err
	}
	digest := trustconfig.TrustDigest(s.Data)
	if digest == claimed {
		c.Add(digest, s.Data)
	}
	return s.Data, digest, nil
}
