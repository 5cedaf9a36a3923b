package targets

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

func entry(manager string, op metav1.ManagedFieldsOperationType, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
}

const (
	ourWrite   = `{"f:data":{".":{},"f:ca.crt":{},"f:trustpolicy.json":{}},"f:metadata":{"f:annotations":{".":{},"f:verification.flux-notation.io/trust-digest":{}},"f:labels":{}},"f:type":{}}`
	labelsOnly = `{"f:metadata":{"f:labels":{"f:team":{}}}}`
)

func TestDataWrittenOnlyBy(t *testing.T) {
	upd, apply := metav1.ManagedFieldsOperationUpdate, metav1.ManagedFieldsOperationApply
	cases := []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		keys    []string
		ok      bool
	}{
		{"our write alone", []metav1.ManagedFieldsEntry{entry(fieldOwner, upd, ourWrite)}, []string{"ca.crt", "trustpolicy.json"}, true},
		{"another manager's labels do not matter", []metav1.ManagedFieldsEntry{entry(fieldOwner, upd, ourWrite), entry("kustomize-controller", upd, labelsOnly)},
			[]string{"ca.crt", "trustpolicy.json"}, true},
		{"another manager wrote a key", []metav1.ManagedFieldsEntry{entry(fieldOwner, upd, ourWrite), entry("kubectl-edit", upd, `{"f:data":{"f:ca.crt":{}}}`)}, nil, false},
		{"another manager set the digest", []metav1.ManagedFieldsEntry{entry(fieldOwner, upd, ourWrite),
			entry("kubectl-annotate", upd, `{"f:metadata":{"f:annotations":{"f:`+v1alpha1.TrustDigestAnnotation+`":{}}}}`)}, nil, false},
		{"our name, but applied: not us", []metav1.ManagedFieldsEntry{entry(fieldOwner, apply, ourWrite)}, nil, false},
		{"no entry of ours", []metav1.ManagedFieldsEntry{entry("kubectl-create", upd, ourWrite)}, nil, false},
		{"managedFields reset", nil, nil, false},
		{"unreadable fields", []metav1.ManagedFieldsEntry{entry(fieldOwner, upd, `{`)}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			keys, ok := dataWrittenOnlyBy(tc.entries, fieldOwner)
			g.Expect(ok).To(Equal(tc.ok))
			g.Expect(keys).To(Equal(tc.keys))

			// Through the transform: the answer stays, managedFields go, and
			// an annotation of that name from the server is never believed.
			m := NewSecretMeta()
			m.ManagedFields = tc.entries
			m.Annotations = map[string]string{intactKeysAnnotation: "ca.crt\ntrustpolicy.json"}
			out, err := stripManagedFields(fieldOwner)(m)
			g.Expect(err).NotTo(HaveOccurred())
			got := out.(*metav1.PartialObjectMetadata)
			g.Expect(got.ManagedFields).To(BeEmpty())
			g.Expect(DataIntact(got, []string{"trustpolicy.json", "ca.crt"})).To(Equal(tc.ok))
			g.Expect(serverAnnotations(got.Annotations)).NotTo(HaveKey(intactKeysAnnotation))
			g.Expect(FromMeta(got).Annotations).NotTo(HaveKey(intactKeysAnnotation), "never written back")

			// client-go may transform an object twice: the second pass,
			// without managedFields, keeps the first one's answer.
			again, err := stripManagedFields(fieldOwner)(got)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(DataIntact(again.(*metav1.PartialObjectMetadata), []string{"trustpolicy.json", "ca.crt"})).To(Equal(tc.ok))
		})
	}
}

// TestAForgedIntactAnnotationIsNotBelieved: a Secret whose managedFields
// were reset and which carries the cache-only annotation (with any value a
// client could guess) is not taken for intact, by the first transform or a
// repeated one.
func TestAForgedIntactAnnotationIsNotBelieved(t *testing.T) {
	for _, forged := range []string{"ca.crt\ntrustpolicy.json", "v1:\nca.crt\ntrustpolicy.json", "v1:guess\nca.crt\ntrustpolicy.json"} {
		g := NewWithT(t)
		m := NewSecretMeta()
		m.Annotations = map[string]string{intactKeysAnnotation: forged}
		out, err := stripManagedFields(fieldOwner)(m)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(DataIntact(out.(*metav1.PartialObjectMetadata), []string{"trustpolicy.json", "ca.crt"})).To(BeFalse(), forged)
		out, err = stripManagedFields(fieldOwner)(out)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(DataIntact(out.(*metav1.PartialObjectMetadata), []string{"trustpolicy.json", "ca.crt"})).To(BeFalse(), forged)
	}
}

func TestContentsByDigest(t *testing.T) {
	g := NewWithT(t)
	rec := &recorder{}
	digest := trustconfig.TrustDigest(testData)
	s := testTemplate(syncPolicy(), testData).Desired("a")
	tampered := testTemplate(syncPolicy(), testData).Desired("b")
	tampered.Data = map[string][]byte{"trustpolicy.json": testData["trustpolicy.json"], "ca-roots.pem": []byte("other")}
	c := rec.client(t, s, tampered)
	contents := &Contents{Reader: c}
	ctx := context.Background()

	// Unknown digest: read once, checked, then served by digest to any
	// Secret whose metadata proves it holds that data.
	m := metaOf(t, s)
	data, got, err := contents.Of(ctx, m)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(digest))
	g.Expect(data).To(Equal(testData))
	reads := rec.gets.Load()
	data, _, err = contents.Of(ctx, proven(metaOf(t, s), "trustpolicy.json", "ca-roots.pem"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(data).To(Equal(testData))
	g.Expect(rec.gets.Load()).To(Equal(reads), "served from memory")

	// A Secret claiming the digest without the proof is read, and its real
	// data and digest are returned, not the claimed ones.
	data, got, err = contents.Of(ctx, metaOf(t, tampered))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).NotTo(Equal(digest))
	g.Expect(data["ca-roots.pem"]).To(Equal([]byte("other")))

	// Data that does not hash to the digest is never kept under it.
	contents.Add("sha256:not-it", testData)
	_, ok := contents.get("sha256:not-it")
	g.Expect(ok).To(BeFalse())

}
