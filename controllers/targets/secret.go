package targets

import (
	"maps"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// ManagedKeysAnnotation lists the user-requested label and annotation keys
// the operator last wrote, so a key removed from spec.target is removed from
// the Secret while keys other tools add are left alone (no write fights).
const ManagedKeysAnnotation = "verification.flux-notation.io/managed-keys"

// Template is everything needed to build a policy's Secret in any namespace.
type Template struct {
	Policy      *v1alpha1.VerificationPolicy
	Data        map[string][]byte
	TrustDigest string
}

// Desired returns the Secret the policy wants in namespace.
func (t Template) Desired(namespace string) *corev1.Secret {
	p := t.Policy
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:        p.SecretName(),
			Namespace:   namespace,
			Labels:      make(map[string]string, len(p.Spec.Target.Labels)+2),
			Annotations: make(map[string]string, len(p.Spec.Target.Annotations)+2),
		},
		Type: corev1.SecretTypeOpaque,
		Data: t.Data,
	}
	maps.Copy(s.Labels, p.Spec.Target.Labels)
	maps.Copy(s.Annotations, p.Spec.Target.Annotations)
	// The CRD reserves it; a Secret for Flux must never pass for our own
	// bookkeeping (which is pruned, never released), whatever the spec says.
	delete(s.Labels, v1alpha1.RoleLabel)
	s.Labels[v1alpha1.ManagedByLabel] = v1alpha1.ManagedByValue
	s.Labels[v1alpha1.PolicyLabel] = p.Name
	s.Annotations[v1alpha1.TrustDigestAnnotation] = t.TrustDigest
	if keys := managedKeys(p.Spec.Target); keys != "" {
		s.Annotations[ManagedKeysAnnotation] = keys
	}
	if p.Spec.Target.DeletionPolicy != v1alpha1.DeletionPolicyOrphan {
		s.OwnerReferences = []metav1.OwnerReference{ownerRef(p)}
	}
	return s
}

// IsOwnedBy reports whether s was written by the named policy.
func IsOwnedBy(s *corev1.Secret, policy string) bool {
	return s.Labels[v1alpha1.ManagedByLabel] == v1alpha1.ManagedByValue &&
		s.Labels[v1alpha1.PolicyLabel] == policy
}

// UpToDate reports whether existing already matches desired, comparing the
// data by digest (so a hand edit that kept our annotation is still caught),
// the type, and the metadata (MetaUpToDate).
func UpToDate(existing, desired *corev1.Secret) bool {
	return existing.Type == desired.Type &&
		trustconfig.TrustDigest(existing.Data) == desired.Annotations[v1alpha1.TrustDigestAnnotation] &&
		MetaUpToDate(existing, desired)
}

// MetaUpToDate reports whether existing's metadata matches desired: our
// labels and annotations (the trust digest among them), the keys we manage
// and the owner reference. It says nothing of the data: see DataIntact.
func MetaUpToDate(existing metav1.Object, desired *corev1.Secret) bool {
	labels, annotations := existing.GetLabels(), existing.GetAnnotations()
	for k, v := range desired.Labels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for k, v := range desired.Annotations {
		if got, ok := annotations[k]; !ok || got != v {
			return false
		}
	}
	if _, ok := desired.Annotations[ManagedKeysAnnotation]; !ok {
		if _, stale := annotations[ManagedKeysAnnotation]; stale {
			return false
		}
	}
	return ownerRefsUpToDate(existing.GetOwnerReferences(), desired)
}

// FromMeta returns a Secret with m's metadata and no data: what an update
// from the cached metadata starts from (Merge sets the data).
func FromMeta(m *metav1.PartialObjectMetadata) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: *m.ObjectMeta.DeepCopy()}
	s.Annotations = serverAnnotations(s.Annotations)
	return s
}

// Merge returns existing updated to desired: our data, type, labels and
// annotations are set, keys we managed before but no longer want are
// removed, and everything else other tools set is kept.
func Merge(existing, desired *corev1.Secret) *corev1.Secret {
	out := existing.DeepCopy()
	out.Annotations = serverAnnotations(out.Annotations)
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	for _, k := range parseManagedKeys(existing.Annotations[ManagedKeysAnnotation]) {
		if kind, key, ok := strings.Cut(k, ":"); ok {
			switch kind {
			case "label":
				delete(out.Labels, key)
			case "annotation":
				delete(out.Annotations, key)
			}
		}
	}
	delete(out.Annotations, ManagedKeysAnnotation)
	maps.Copy(out.Labels, desired.Labels)
	maps.Copy(out.Annotations, desired.Annotations)
	out.Type = desired.Type
	out.Data = desired.Data
	out.StringData = nil

	// Keep foreign owner references; ours is present exactly when desired.
	refs := slices.DeleteFunc(slices.Clone(out.OwnerReferences), isPolicyRef)
	out.OwnerReferences = append(refs, desired.OwnerReferences...)
	return out
}

// Orphaned returns s with every trace of our management removed, for
// deletionPolicy Orphan: the data stays, the Secret becomes the user's.
func Orphaned(s *corev1.Secret) *corev1.Secret {
	out := s.DeepCopy()
	delete(out.Labels, v1alpha1.ManagedByLabel)
	delete(out.Labels, v1alpha1.PolicyLabel)
	delete(out.Annotations, v1alpha1.TrustDigestAnnotation)
	delete(out.Annotations, ManagedKeysAnnotation)
	out.OwnerReferences = slices.DeleteFunc(out.OwnerReferences, isPolicyRef)
	return out
}

func ownerRef(p *v1alpha1.VerificationPolicy) metav1.OwnerReference {
	// BlockOwnerDeletion stays false: the finalizer already orders cleanup,
	// and blocking would need update rights on policies/finalizers.
	return metav1.OwnerReference{
		APIVersion: v1alpha1.GroupVersion.String(),
		Kind:       v1alpha1.VerificationPolicyKind,
		Name:       p.Name,
		UID:        p.UID,
		Controller: ptr.To(true),
	}
}

func isPolicyRef(r metav1.OwnerReference) bool {
	return r.Kind == v1alpha1.VerificationPolicyKind &&
		strings.HasPrefix(r.APIVersion, v1alpha1.GroupVersion.Group+"/")
}

func ownerRefsUpToDate(existing []metav1.OwnerReference, desired *corev1.Secret) bool {
	var ours []metav1.OwnerReference
	for _, r := range existing {
		if isPolicyRef(r) {
			ours = append(ours, r)
		}
	}
	if len(ours) != len(desired.OwnerReferences) {
		return false
	}
	for i := range ours {
		d := desired.OwnerReferences[i]
		if ours[i].UID != d.UID || ours[i].Name != d.Name || ours[i].APIVersion != d.APIVersion {
			return false
		}
	}
	return true
}

func managedKeys(t v1alpha1.Target) string {
	keys := make([]string, 0, len(t.Labels)+len(t.Annotations))
	for k := range t.Labels {
		keys = append(keys, "label:"+k)
	}
	for k := range t.Annotations {
		keys = append(keys, "annotation:"+k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func parseManagedKeys(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}
