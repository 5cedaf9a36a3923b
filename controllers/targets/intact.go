package targets

import (
	"crypto/rand"
	"encoding/json"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// The operator caches its Secrets as metadata only: at tens of thousands of
// copies the data, and the managedFields that describe it, are most of the
// memory. What the data is, it learns from the trust digest annotation, and
// whether the data is still what it wrote with that annotation, from
// managedFields, which the API server keeps per field manager: when no
// manager but ours owns a data key or the digest annotation, and the data
// keys ours owns are exactly the desired ones, nobody else changed the data
// since we wrote it (an update takes over the fields it changes; a removed
// key leaves our set). Everything else (a foreign manager touched the data,
// managedFields reset) is read in full before it is trusted.
//
// The cache transform below works that out once per event and keeps only
// the answer, in an annotation that exists on cached copies only.
const intactKeysAnnotation = "cache.verification.flux-notation.io/intact-data-keys"

// intactMark begins every intactKeysAnnotation value this process writes.
// client-go may run a transform again on an object it has already
// transformed (it does for the objects of an informer's initial list), and
// the second time the managedFields are gone: without a way to tell its own
// answer from one a client wrote on the Secret (an annotation of that name,
// with managedFields reset), a transform must either trust a forgery or
// forget, on every restart, that tens of thousands of Secrets are intact.
// The mark is random per process and never leaves it (serverAnnotations
// strips the annotation before any write), so no Secret can carry it.
var intactMark = "v1:" + rand.Text()

// stripManagedFields is the Store's cache transform: it records whether
// fieldOwner alone wrote the data of a Secret (intactKeysAnnotation, the
// keys it owns), then drops managedFields. Applied again to its own output,
// it changes nothing.
func stripManagedFields(fieldOwner string) toolscache.TransformFunc {
	strip := cache.TransformStripManagedFields()
	return func(in any) (any, error) {
		if obj, ok := in.(metav1.Object); ok {
			annotations := obj.GetAnnotations()
			if _, ours := intactKeys(annotations); ours && len(obj.GetManagedFields()) == 0 {
				return in, nil // transformed already
			}
			delete(annotations, intactKeysAnnotation) // never trust one from the server
			if keys, ok := dataWrittenOnlyBy(obj.GetManagedFields(), fieldOwner); ok {
				if annotations == nil {
					annotations = map[string]string{}
				}
				annotations[intactKeysAnnotation] = strings.Join(append([]string{intactMark}, keys...), "\n")
			}
			obj.SetAnnotations(annotations)
		}
		return strip(in)
	}
}

// intactKeys reads intactKeysAnnotation, if this process wrote it.
func intactKeys(annotations map[string]string) (string, bool) {
	v, ok := annotations[intactKeysAnnotation]
	if !ok {
		return "", false
	}
	mark, keys, _ := strings.Cut(v, "\n")
	return keys, mark == intactMark
}

// dataWrittenOnlyBy returns the data keys owner's entries own, and whether
// owner is the only manager owning any data key or the trust digest
// annotation.
func dataWrittenOnlyBy(entries []metav1.ManagedFieldsEntry, owner string) ([]string, bool) {
	var keys []string
	ours := false
	for _, e := range entries {
		if e.FieldsV1 == nil {
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(e.FieldsV1.Raw, &fields); err != nil {
			return nil, false
		}
		dataKeys, digest := ownedTrust(fields)
		mine := e.Manager == owner && e.Operation == metav1.ManagedFieldsOperationUpdate && e.Subresource == ""
		switch {
		case mine:
			ours = true
			keys = append(keys, dataKeys...)
		case len(dataKeys) > 0 || digest:
			return nil, false
		}
	}
	if !ours {
		return nil, false
	}
	slices.Sort(keys)
	return slices.Compact(keys), true
}

// ownedTrust reads, from one managedFields entry's fields, the data keys it
// owns and whether it owns the trust digest annotation.
func ownedTrust(fields map[string]json.RawMessage) (dataKeys []string, digest bool) {
	if raw, ok := fields["f:data"]; ok {
		var data map[string]json.RawMessage
		if json.Unmarshal(raw, &data) == nil {
			for k := range data {
				if key, ok := strings.CutPrefix(k, "f:"); ok {
					dataKeys = append(dataKeys, key)
				}
			}
		}
	}
	if raw, ok := fields["f:metadata"]; ok {
		var meta map[string]json.RawMessage
		if json.Unmarshal(raw, &meta) == nil {
			var annotations map[string]json.RawMessage
			if json.Unmarshal(meta["f:annotations"], &annotations) == nil {
				_, digest = annotations["f:"+v1alpha1.TrustDigestAnnotation]
			}
		}
	}
	return dataKeys, digest
}

// DataIntact reports whether the cached metadata m proves that the Secret's
// data is exactly what the operator last wrote with m's trust digest, and
// holds exactly the keys of data (the desired data for that digest).
func DataIntact(m metav1.Object, keys []string) bool {
	v, ok := intactKeys(m.GetAnnotations())
	if !ok {
		return false
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	return v == strings.Join(want, "\n")
}

// serverAnnotations returns annotations without the cache-only ones, for
// writing back.
func serverAnnotations(annotations map[string]string) map[string]string {
	if _, ok := annotations[intactKeysAnnotation]; !ok {
		return annotations
	}
	out := make(map[string]string, len(annotations))
	for k, v := range annotations {
		if k != intactKeysAnnotation {
			out[k] = v
		}
	}
	return out
}
