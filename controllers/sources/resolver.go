package sources

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// Resolver reads certificate sources from the trust namespace.
type Resolver struct {
	// Namespace is the trust namespace: the only place sources are read from.
	Namespace string
	// Secrets reads Secrets. It should be uncached (the manager's API
	// reader) so that source Secret contents never sit in the informer
	// cache, which holds only the Secrets the operator writes.
	Secrets client.Reader
	// ConfigMaps reads ConfigMaps, typically from a cache scoped to the
	// trust namespace.
	ConfigMaps client.Reader
	// ClusterTrustBundles reads clusterTrustBundle sources (cluster-scoped
	// objects, not in the trust namespace); without it they are refused
	// with an error that is not about the input.
	ClusterTrustBundles *ClusterTrustBundles
}

// Resolve returns one trustconfig.Source per certificate source, in spec
// order, leaving out optional clusterTrustBundle sources that select no
// bundle. A missing object or key is an *inputerror.Error; other API errors
// are returned as they are, so the caller retries them, and so is
// ErrAPIDiscoveryPending (wrapped) just after a start.
func (r *Resolver) Resolve(ctx context.Context, certs []v1alpha1.CertificateSource) ([]trustconfig.Source, error) {
	out := make([]trustconfig.Source, 0, len(certs))
	var emptyOptional []string
	for _, c := range certs {
		src := trustconfig.Source{Name: c.Name, Type: c.Type}
		switch {
		case c.ClusterTrustBundle != nil:
			var err error
			if src, err = r.ClusterTrustBundles.resolve(ctx, c); err != nil {
				return nil, err
			}
			if len(src.Parts) == 0 {
				emptyOptional = append(emptyOptional, c.Name)
				continue
			}
		case c.SecretRef != nil:
			pem, err := r.secretKey(ctx, c.Name, *c.SecretRef)
			if err != nil {
				return nil, err
			}
			src.PEM, src.FromObject = pem, true
			src.Origin = fmt.Sprintf("Secret %s/%s key %q", r.Namespace, c.SecretRef.Name, c.SecretRef.Key)
		case c.ConfigMapRef != nil:
			pem, err := r.configMapKey(ctx, c.Name, *c.ConfigMapRef)
			if err != nil {
				return nil, err
			}
			src.PEM, src.FromObject = pem, true
			src.Origin = fmt.Sprintf("ConfigMap %s/%s key %q", r.Namespace, c.ConfigMapRef.Name, c.ConfigMapRef.Key)
		default:
			src.PEM = []byte(c.Inline)
			src.Origin = "inline"
		}
		out = append(out, src)
	}
	if len(out) == 0 && len(emptyOptional) > 0 {
		return nil, noCertificates(emptyOptional)
	}
	return out, nil
}

func (r *Resolver) secretKey(ctx context.Context, source string, ref v1alpha1.KeyReference) ([]byte, error) {
	var s corev1.Secret
	if err := r.Secrets.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: ref.Name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, notFound(source, "Secret", r.Namespace, ref.Name)
		}
		return nil, fmt.Errorf("reading Secret %s/%s for certificates[%s]: %w", r.Namespace, ref.Name, source, err)
	}
	v, ok := s.Data[ref.Key]
	if !ok {
		return nil, keyNotFound(source, "Secret", r.Namespace, ref)
	}
	return v, nil
}

func (r *Resolver) configMapKey(ctx context.Context, source string, ref v1alpha1.KeyReference) ([]byte, error) {
	var cm corev1.ConfigMap
	if err := r.ConfigMaps.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: ref.Name}, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, notFound(source, "ConfigMap", r.Namespace, ref.Name)
		}
		return nil, fmt.Errorf("reading ConfigMap %s/%s for certificates[%s]: %w", r.Namespace, ref.Name, source, err)
	}
	if v, ok := cm.Data[ref.Key]; ok {
		return []byte(v), nil
	}
	if v, ok := cm.BinaryData[ref.Key]; ok {
		return v, nil
	}
	return nil, keyNotFound(source, "ConfigMap", r.Namespace, ref)
}

// SecretNames returns the Secrets the certificate sources reference; the
// controller indexes policies by them to re-render when a source changes.
func SecretNames(certs []v1alpha1.CertificateSource) []string {
	var names []string
	for _, c := range certs {
		if c.SecretRef != nil {
			names = append(names, c.SecretRef.Name)
		}
	}
	return names
}

// ConfigMapNames returns the ConfigMaps the certificate sources reference.
func ConfigMapNames(certs []v1alpha1.CertificateSource) []string {
	var names []string
	for _, c := range certs {
		if c.ConfigMapRef != nil {
			names = append(names, c.ConfigMapRef.Name)
		}
	}
	return names
}
