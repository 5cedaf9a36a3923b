package targets

import (
	"maps"
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Most of a cached Secret's metadata is the same in every namespace: the
// Secrets of one policy carry the same name, labels, annotations (one trust
// digest) and owner reference. Decoded from the API server, each copy
// holds its own strings and maps of that: about 1 KiB per Secret, most of
// the memory 50,000 Secrets cost (test/bench/RESULTS-large.md). The
// Store's transform therefore replaces them with one shared instance per
// distinct value, as Go's unique package and string interning do, so a
// Secret costs little more than its namespace, UID and resourceVersion.
//
// Shared values must never be modified. They live only in the informers'
// stores: every Get and List of a controller-runtime cache returns a deep
// copy, and event handlers only read.

// maxShared bounds each table: when the distinct values pass it (values
// change with every rotation), the table starts over. Objects already
// cached keep what they point at; only later ones are shared anew.
const maxShared = 4096

// sharer holds the canonical instances. One sharer serves every informer
// of a Store; transforms run on the informers' own goroutines.
type sharer struct {
	mu     sync.Mutex
	strs   map[string]string
	dicts  map[string]map[string]string
	owners map[string][]metav1.OwnerReference
	// key and keys are scratch space reused across calls: a lookup by
	// string(key) does not allocate, so an object whose values are already
	// shared (nearly all of them) costs no garbage. A restart lists every
	// Secret at once, and building a fresh key for each was about 2 KB of
	// garbage per Secret, which the GC let pile up into the restart's peak.
	key  []byte
	keys []string
}

func newSharer() *sharer {
	return &sharer{strs: map[string]string{}, dicts: map[string]map[string]string{}, owners: map[string][]metav1.OwnerReference{}}
}

// share points obj's repeated metadata at the canonical instances.
func (s *sharer) share(obj metav1.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj.SetName(s.str(obj.GetName()))
	obj.SetNamespace(s.str(obj.GetNamespace()))
	obj.SetLabels(s.dict(obj.GetLabels()))
	obj.SetAnnotations(s.dict(obj.GetAnnotations()))
	obj.SetOwnerReferences(s.refs(obj.GetOwnerReferences()))
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		m.APIVersion, m.Kind = s.str(m.APIVersion), s.str(m.Kind)
	}
}

func (s *sharer) str(v string) string {
	if v == "" {
		return ""
	}
	if c, ok := s.strs[v]; ok {
		return c
	}
	if len(s.strs) >= maxShared {
		clear(s.strs)
	}
	s.strs[v] = v
	return v
}

func (s *sharer) dict(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	s.keys = s.keys[:0]
	for k := range m {
		s.keys = append(s.keys, k)
	}
	slices.Sort(s.keys)
	s.key = s.key[:0]
	for _, k := range s.keys {
		// NUL separates: no label or annotation key contains it. A value
		// that does can make two different maps meet on one key; the
		// equality check below catches that, and it only costs sharing.
		s.key = append(s.key, k...)
		s.key = append(s.key, 0)
		s.key = append(s.key, m[k]...)
		s.key = append(s.key, 0)
	}
	if c, ok := s.dicts[string(s.key)]; ok && maps.Equal(c, m) {
		return c
	}
	if len(s.dicts) >= maxShared {
		clear(s.dicts)
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[s.str(k)] = s.str(v)
	}
	s.dicts[string(s.key)] = c
	return c
}

func (s *sharer) refs(refs []metav1.OwnerReference) []metav1.OwnerReference {
	if len(refs) == 0 {
		return nil
	}
	s.key = s.key[:0]
	for _, r := range refs {
		for _, f := range [...]string{r.APIVersion, r.Kind, r.Name, string(r.UID), flag(r.Controller), flag(r.BlockOwnerDeletion)} {
			s.key = append(s.key, f...)
			s.key = append(s.key, 0)
		}
	}
	if c, ok := s.owners[string(s.key)]; ok {
		return c
	}
	if len(s.owners) >= maxShared {
		clear(s.owners)
	}
	c := slices.Clone(refs)
	s.owners[string(s.key)] = c
	return c
}

// flag writes an optional bool so that nil, false and true differ.
func flag(b *bool) string {
	switch {
	case b == nil:
		return "-"
	case *b:
		return "t"
	default:
		return "f"
	}
}
