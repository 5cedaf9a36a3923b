package install

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	"sigs.k8s.io/yaml"
)

// TestBundleValidates runs the validators `operator-sdk bundle validate
// --select-optional suite=operatorframework` runs, and fails on any error.
func TestBundleValidates(t *testing.T) {
	g := NewWithT(t)
	b, err := manifests.GetBundleFromDir(filepath.Join(repoRoot(t), "bundle"))
	g.Expect(err).NotTo(HaveOccurred(), "load bundle/ (run make bundle)")

	validators := validation.DefaultBundleValidators.WithValidators(
		validation.OperatorHubV2Validator,
		validation.StandardCapabilitiesValidator,
		validation.StandardCategoriesValidator,
		validation.GoodPracticesValidator,
	)
	// The OperatorHub validator also checks for APIs removed by the
	// Kubernetes release given here; use the one envtest runs.
	objs := append(b.ObjectsToValidate(), map[string]string{"k8s-version": "1.36"})
	for _, result := range validators.Validate(objs...) {
		for _, w := range result.Warnings {
			t.Logf("warning: %s: %s", result.Name, w.Error())
		}
		for _, e := range result.Errors {
			t.Errorf("%s: %s", result.Name, e.Error())
		}
	}

	g.Expect(b.CSV).NotTo(BeNil())
	g.Expect(b.V1CRDs).NotTo(BeEmpty(), "the bundle ships its CRD")
	g.Expect(b.Package).To(Equal(strings.SplitN(b.CSV.Name, ".v", 2)[0]), "package name and CSV name")
}

// TestBundleMetadata checks the keys OLM and opm read from
// metadata/annotations.yaml, and that bundle.Dockerfile labels the image
// with the same values (opm reads the labels, OLM the file).
func TestBundleMetadata(t *testing.T) {
	g := NewWithT(t)
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "bundle", "metadata", "annotations.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	var file struct {
		Annotations map[string]string `json:"annotations"`
	}
	g.Expect(yaml.UnmarshalStrict(data, &file)).To(Succeed())
	a := file.Annotations

	const prefix = "operators.operatorframework.io.bundle."
	for _, key := range []string{"mediatype.v1", "manifests.v1", "metadata.v1", "package.v1", "channels.v1", "channel.default.v1"} {
		g.Expect(a).To(HaveKeyWithValue(prefix+key, Not(BeEmpty())), "annotations.yaml lacks %s", prefix+key)
	}
	g.Expect(a).To(HaveKeyWithValue(prefix+"mediatype.v1", "registry+v1"))
	g.Expect(a).To(HaveKeyWithValue(prefix+"manifests.v1", "manifests/"))
	g.Expect(a).To(HaveKeyWithValue(prefix+"metadata.v1", "metadata/"))
	g.Expect(strings.Split(a[prefix+"channels.v1"], ",")).To(ContainElement(a[prefix+"channel.default.v1"]),
		"the default channel is one of the bundle's channels")

	dockerfile, err := os.ReadFile(filepath.Join(root, "bundle.Dockerfile"))
	g.Expect(err).NotTo(HaveOccurred())
	labels := map[string]string{}
	for _, line := range strings.Split(string(dockerfile), "\n") {
		if kv, ok := strings.CutPrefix(line, "LABEL "); ok {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = v
		}
	}
	g.Expect(labels).To(Equal(a), "bundle.Dockerfile LABELs and annotations.yaml")
	g.Expect(string(dockerfile)).To(ContainSubstring("COPY bundle/manifests /manifests/"))
	g.Expect(string(dockerfile)).To(ContainSubstring("COPY bundle/metadata /metadata/"))
}

// TestBundleIsCurrent regenerates the bundle from config/ with the version
// and image the committed one was made with, and requires the same bytes:
// a change to config/ (or to the generated CRD and RBAC) without make
// bundle fails here, and so does a generator that is not deterministic.
// A version or image change in the Makefile is caught by make
// verify-generated instead.
func TestBundleIsCurrent(t *testing.T) {
	g := NewWithT(t)
	root := repoRoot(t)
	b, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	g.Expect(err).NotTo(HaveOccurred(), "load bundle/ (run make bundle)")
	image := b.CSV.Annotations["containerImage"]
	g.Expect(image).NotTo(BeEmpty())

	out := t.TempDir()
	for range 2 { // twice into the same place: stale files must not survive
		cmd := exec.Command("go", "run", "./hack/bundlegen",
			"--version", b.CSV.Spec.Version.String(), "--image", image,
			"--output", filepath.Join(out, "bundle"))
		cmd.Dir = root
		output, err := cmd.CombinedOutput()
		g.Expect(err).NotTo(HaveOccurred(), "bundlegen: %s", output)
	}

	want := readTree(t, root, "bundle")
	got := readTree(t, out, "bundle")
	g.Expect(sortedKeys(got)).To(Equal(sortedKeys(want)), "files in bundle/: run make bundle")
	for name, data := range want {
		if !bytes.Equal(got[name], data) {
			t.Errorf("%s differs from what make bundle generates now: run make bundle", name)
		}
	}
}

// readTree reads <root>/bundle.Dockerfile and every file under <root>/<dir>.
func readTree(t *testing.T, root, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	data, err := os.ReadFile(filepath.Join(root, "bundle.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	files["bundle.Dockerfile"] = data
	err = filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
