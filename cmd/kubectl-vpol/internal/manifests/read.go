// Package manifests reads the YAML a pull request changes into the objects
// kubectl vpol works on: VerificationPolicies, and the Secrets, ConfigMaps
// and ClusterTrustBundles their certificates may reference. Files and
// directories are found the way kubectl apply -f finds them, documents are
// decoded strictly (a typo in a field name is an error, as the API server's
// strict field validation makes it), and policies get the CRD's defaults, so
// what is checked offline is what the API server would store.
package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// Set is what the files hold, in the order found.
type Set struct {
	Policies   []*v1alpha1.VerificationPolicy
	Secrets    []*corev1.Secret
	ConfigMaps []*corev1.ConfigMap
	// Bundles are the ClusterTrustBundles, of either served version
	// (bundles.go).
	Bundles []*certificatesv1beta1.ClusterTrustBundle
	// Notes say which documents were ignored and why.
	Notes []string

	// origins names where each object came from, by kindKey, so a
	// duplicate can name both places.
	origins map[string]string
}

// extensions are the file names a directory contributes, as kubectl apply.
var extensions = []string{".yaml", ".yml", ".json"}

// Read reads every path: a file, a directory (its files ending in .yaml,
// .yml or .json, not recursively, in name order), or "-" for stdin.
func Read(paths []string, stdin io.Reader) (*Set, error) {
	s := &Set{origins: map[string]string{}}
	for _, p := range paths {
		if p == "-" {
			if err := s.readStream("<stdin>", stdin); err != nil {
				return nil, err
			}
			continue
		}
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := s.readFile(f); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func expand(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && slices.Contains(extensions, filepath.Ext(e.Name())) {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no .yaml, .yml or .json file in the directory", path)
	}
	return files, nil
}

func (s *Set) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	return s.readStream(path, f)
}

// readStream splits a stream into YAML documents ("---") and adds each.
func (s *Set) readStream(name string, r io.Reader) error {
	docs := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for i := 1; ; i++ {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := s.add(fmt.Sprintf("%s, document %d", name, i), doc); err != nil {
			return err
		}
	}
}

// typeMeta is just enough of an object to know what it is.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Items []any `json:"items"`
}

// add decodes one document; where names it in messages.
func (s *Set) add(where string, doc []byte) error {
	if isEmpty(doc) {
		return nil
	}
	var tm typeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	switch {
	case tm.Kind == v1alpha1.VerificationPolicyKind && tm.APIVersion == v1alpha1.GroupVersion.String():
		p := &v1alpha1.VerificationPolicy{}
		if err := strict(where, doc, p); err != nil {
			return err
		}
		ApplyDefaults(p)
		return s.keep(where, "VerificationPolicy", p.Namespace, p.Name, func() { s.Policies = append(s.Policies, p) })
	case tm.Kind == v1alpha1.VerificationPolicyKind && strings.HasPrefix(tm.APIVersion, v1alpha1.GroupVersion.Group+"/"):
		return fmt.Errorf("%s: VerificationPolicy %s is %s; this kubectl vpol reads %s", where, tm.Metadata.Name, tm.APIVersion, v1alpha1.GroupVersion)
	case tm.APIVersion == "v1" && tm.Kind == "Secret":
		sec := &corev1.Secret{}
		if err := strict(where, doc, sec); err != nil {
			return err
		}
		mergeStringData(sec)
		return s.keep(where, "Secret", sec.Namespace, sec.Name, func() { s.Secrets = append(s.Secrets, sec) })
	case tm.APIVersion == "v1" && tm.Kind == "ConfigMap":
		cm := &corev1.ConfigMap{}
		if err := strict(where, doc, cm); err != nil {
			return err
		}
		return s.keep(where, "ConfigMap", cm.Namespace, cm.Name, func() { s.ConfigMaps = append(s.ConfigMaps, cm) })
	case tm.Kind == bundleKind && slices.Contains(bundleAPIVersions, tm.APIVersion):
		return s.addBundle(where, doc)
	case tm.APIVersion == "v1" && tm.Kind == "List":
		for i, item := range tm.Items {
			raw, err := yaml.Marshal(item)
			if err != nil {
				return fmt.Errorf("%s, item %d: %w", where, i+1, err)
			}
			if err := s.add(fmt.Sprintf("%s, item %d", where, i+1), raw); err != nil {
				return err
			}
		}
		return nil
	default:
		kind := strings.TrimSpace(tm.APIVersion + " " + tm.Kind)
		if kind == "" {
			kind = "without apiVersion and kind"
		}
		s.Notes = append(s.Notes, fmt.Sprintf("%s: ignored %s: only VerificationPolicies, Secrets, ConfigMaps and ClusterTrustBundles (certificates.k8s.io/v1, v1beta1) are read", where, strings.TrimSpace(kind+" "+tm.Metadata.Name)))
		return nil
	}
}

// strict decodes like the API server with strict field validation: an
// unknown or duplicated field is an error, not silently dropped.
func strict(where string, doc []byte, into any) error {
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// keep records an object once; the same object twice is an error, since
// which copy the cluster would end up with depends on the apply order.
func (s *Set) keep(where, kind, namespace, name string, add func()) error {
	if name == "" {
		return fmt.Errorf("%s: %s without metadata.name", where, kind)
	}
	key := kindKey(kind, namespace, name)
	if first, dup := s.origins[key]; dup {
		return fmt.Errorf("%s %s is defined twice: in %s and in %s", kind, qualified(namespace, name), first, where)
	}
	s.origins[key] = where
	add()
	return nil
}

func kindKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

func qualified(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// mergeStringData does what the API server does on write: stringData
// entries are copied into data, and win.
func mergeStringData(s *corev1.Secret) {
	if len(s.StringData) == 0 {
		return
	}
	if s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

// isEmpty reports whether a document holds only comments and blank lines.
func isEmpty(doc []byte) bool {
	for line := range bytes.SplitSeq(doc, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' {
			return false
		}
	}
	return true
}

// Policy returns the one VerificationPolicy the files hold, or the one
// named name.
func (s *Set) Policy(name string) (*v1alpha1.VerificationPolicy, error) {
	if name != "" {
		for _, p := range s.Policies {
			if p.Name == name {
				return p, nil
			}
		}
		return nil, fmt.Errorf("no VerificationPolicy %s in the files", name)
	}
	switch len(s.Policies) {
	case 0:
		return nil, errors.New("no VerificationPolicy in the files")
	case 1:
		return s.Policies[0], nil
	}
	names := make([]string, 0, len(s.Policies))
	for _, p := range s.Policies {
		names = append(names, p.Name)
	}
	return nil, fmt.Errorf("the files hold %d VerificationPolicies (%s): name one with --policy", len(names), strings.Join(names, ", "))
}
