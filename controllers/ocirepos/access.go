package ocirepos

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/controllers/verify"
)

// ReadAccess reads spec.secretRef (docker config), the imagePullSecrets of
// spec.serviceAccountName, and spec.certSecretRef (ca.crt, tls.crt, tls.key).
// reader must be uncached: these Secrets are not ours and are never cached.
func ReadAccess(ctx context.Context, reader client.Reader, r *Repository) (verify.Access, error) {
	a := verify.Access{Insecure: r.Spec.Insecure}
	ns := r.Namespace
	if r.Spec.SecretRef != nil {
		cfg, err := dockerConfig(ctx, reader, ns, r.Spec.SecretRef.Name, "spec.secretRef")
		if err != nil {
			return a, err
		}
		a.DockerConfigJSONs = append(a.DockerConfigJSONs, cfg)
	}
	if r.Spec.ServiceAccountName != "" {
		var sa corev1.ServiceAccount
		if err := reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: r.Spec.ServiceAccountName}, &sa); err != nil {
			return a, notFoundAsAccessError(err, "ServiceAccount %s/%s (spec.serviceAccountName)", ns, r.Spec.ServiceAccountName)
		}
		for _, ref := range sa.ImagePullSecrets {
			cfg, err := dockerConfig(ctx, reader, ns, ref.Name, "imagePullSecrets of "+sa.Name)
			if err != nil {
				return a, err
			}
			a.DockerConfigJSONs = append(a.DockerConfigJSONs, cfg)
		}
	}
	if r.Spec.CertSecretRef != nil {
		var s corev1.Secret
		name := r.Spec.CertSecretRef.Name
		if err := reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
			return a, notFoundAsAccessError(err, "Secret %s/%s (spec.certSecretRef)", ns, name)
		}
		a.CAPEM, a.CertPEM, a.KeyPEM = s.Data["ca.crt"], s.Data["tls.crt"], s.Data["tls.key"]
		if (len(a.CertPEM) == 0) != (len(a.KeyPEM) == 0) {
			return a, &verify.SettingsError{Message: fmt.Sprintf("Secret %s/%s (spec.certSecretRef) must hold both tls.crt and tls.key, or neither", ns, name)}
		}
	}
	return a, nil
}

func dockerConfig(ctx context.Context, reader client.Reader, ns, name, field string) ([]byte, error) {
	var s corev1.Secret
	if err := reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		return nil, notFoundAsAccessError(err, "Secret %s/%s (%s)", ns, name, field)
	}
	if cfg, ok := s.Data[corev1.DockerConfigJsonKey]; ok {
		return cfg, nil
	}
	return nil, &verify.SettingsError{Message: fmt.Sprintf("Secret %s/%s (%s) has no %s key", ns, name, field, corev1.DockerConfigJsonKey)}
}

func notFoundAsAccessError(err error, format string, args ...any) error {
	if apierrors.IsNotFound(err) {
		return &verify.SettingsError{Message: fmt.Sprintf(format, args...) + " not found"}
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
