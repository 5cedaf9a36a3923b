package targets

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

func testPolicy(name string, uid types.UID, target v1alpha1.Target) *v1alpha1.VerificationPolicy {
	p := &v1alpha1.VerificationPolicy{}
	p.Name, p.UID, p.Spec.Target = name, uid, target
	return p
}

// testTemplate renders data the way the reconciler does: the digest is the
// data's own.
func testTemplate(p *v1alpha1.VerificationPolicy, data map[string][]byte) Template {
	return Template{Policy: p, Data: data, TrustDigest: trustconfig.TrustDigest(data)}
}

var testData = map[string][]byte{
	"trustpolicy.json": []byte(`{"version":"1.0"}`),
	"ca-roots.pem":     []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
}

func ourRef(name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.VerificationPolicyKind,
		Name: name, UID: uid, Controller: ptr.To(true),
	}
}

var foreignRef = metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "app", UID: "deploy-uid"}

func TestDesired(t *testing.T) {
	g := NewWithT(t)
	target := v1alpha1.Target{
		SecretName:  "trust",
		Labels:      map[string]string{"team": "a", "zone": "eu"},
		Annotations: map[string]string{"note": "hello"},
	}
	p := testPolicy("pol", "uid-1", target)
	tmpl := testTemplate(p, testData)

	s := tmpl.Desired("team-a")
	g.Expect(s.Name).To(Equal("trust"))
	g.Expect(s.Namespace).To(Equal("team-a"))
	g.Expect(s.Type).To(Equal(corev1.SecretTypeOpaque))
	g.Expect(s.Data).To(Equal(testData))
	g.Expect(s.StringData).To(BeNil())
	g.Expect(s.Labels).To(Equal(map[string]string{
		"team": "a", "zone": "eu",
		v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue,
		v1alpha1.PolicyLabel:    "pol",
	}))
	g.Expect(s.Annotations).To(Equal(map[string]string{
		"note":                         "hello",
		v1alpha1.TrustDigestAnnotation: tmpl.TrustDigest,
		ManagedKeysAnnotation:          "annotation:note,label:team,label:zone",
	}))
	g.Expect(s.OwnerReferences).To(Equal([]metav1.OwnerReference{ourRef("pol", "uid-1")}))
	g.Expect(s.OwnerReferences[0].BlockOwnerDeletion).To(BeNil())
	g.Expect(IsOwnedBy(s, "pol")).To(BeTrue())
	g.Expect(IsOwnedBy(s, "other")).To(BeFalse())
	g.Expect(IsBookkeeping(s)).To(BeFalse())

	// The Secret's maps are its own: changing them leaves the spec alone.
	s.Labels["team"] = "changed"
	s.Annotations["note"] = "changed"
	g.Expect(p.Spec.Target.Labels["team"]).To(Equal("a"))
	g.Expect(p.Spec.Target.Annotations["note"]).To(Equal("hello"))

	g.Expect(tmpl.Desired("team-b").Namespace).To(Equal("team-b"))
}

func TestDesiredDefaults(t *testing.T) {
	g := NewWithT(t)
	s := testTemplate(testPolicy("pol", "uid-1", v1alpha1.Target{}), testData).Desired("ns")
	g.Expect(s.Name).To(Equal(v1alpha1.DefaultSecretName))
	g.Expect(s.Labels).To(Equal(map[string]string{
		v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue,
		v1alpha1.PolicyLabel:    "pol",
	}))
	g.Expect(s.Annotations).To(HaveLen(1))
	g.Expect(s.Annotations).To(HaveKey(v1alpha1.TrustDigestAnnotation))
	g.Expect(s.Annotations).NotTo(HaveKey(ManagedKeysAnnotation), "no user keys, no bookkeeping annotation")
}

// The operator's labels and annotations cannot be overridden by the spec.
func TestDesiredOperatorKeysWin(t *testing.T) {
	g := NewWithT(t)
	p := testPolicy("pol", "uid-1", v1alpha1.Target{
		Labels: map[string]string{
			v1alpha1.ManagedByLabel: "someone-else",
			v1alpha1.PolicyLabel:    "spoofed",
		},
		Annotations: map[string]string{
			v1alpha1.TrustDigestAnnotation: "sha256:spoofed",
			ManagedKeysAnnotation:          "label:spoofed",
		},
	})
	tmpl := testTemplate(p, testData)
	s := tmpl.Desired("ns")
	g.Expect(s.Labels[v1alpha1.ManagedByLabel]).To(Equal(v1alpha1.ManagedByValue))
	g.Expect(s.Labels[v1alpha1.PolicyLabel]).To(Equal("pol"))
	g.Expect(s.Annotations[v1alpha1.TrustDigestAnnotation]).To(Equal(tmpl.TrustDigest))
	g.Expect(s.Annotations[ManagedKeysAnnotation]).NotTo(Equal("label:spoofed"))
	g.Expect(UpToDate(s, s)).To(BeTrue())
}

func TestDesiredDeletionPolicy(t *testing.T) {
	cases := []struct {
		policy   v1alpha1.DeletionPolicy
		wantRefs []metav1.OwnerReference
	}{
		{"", []metav1.OwnerReference{ourRef("pol", "uid-1")}},
		{v1alpha1.DeletionPolicyDelete, []metav1.OwnerReference{ourRef("pol", "uid-1")}},
		{v1alpha1.DeletionPolicyOrphan, nil},
	}
	for _, tc := range cases {
		t.Run(string(tc.policy), func(t *testing.T) {
			g := NewWithT(t)
			p := testPolicy("pol", "uid-1", v1alpha1.Target{DeletionPolicy: tc.policy})
			s := testTemplate(p, testData).Desired("ns")
			g.Expect(s.OwnerReferences).To(Equal(tc.wantRefs))
		})
	}
}

func TestUpToDate(t *testing.T) {
	target := v1alpha1.Target{
		Labels:      map[string]string{"team": "a"},
		Annotations: map[string]string{"note": "hello"},
	}
	desired := testTemplate(testPolicy("pol", "uid-1", target), testData).Desired("ns")
	orphanDesired := testTemplate(testPolicy("pol", "uid-1", v1alpha1.Target{DeletionPolicy: v1alpha1.DeletionPolicyOrphan}), testData).Desired("ns")
	plainDesired := testTemplate(testPolicy("pol", "uid-1", v1alpha1.Target{}), testData).Desired("ns")

	cases := []struct {
		name    string
		desired *corev1.Secret
		edit    func(s *corev1.Secret)
		want    bool
	}{
		{"desired itself", desired, func(*corev1.Secret) {}, true},
		{"as read back from the API server", desired, func(s *corev1.Secret) {
			s.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
			s.UID, s.ResourceVersion, s.Generation = "secret-uid", "42", 1
			s.CreationTimestamp = metav1.Now()
			s.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "verification-operator"}}
		}, true},
		{"other tools added labels and annotations", desired, func(s *corev1.Secret) {
			s.Labels["kustomize.toolkit.fluxcd.io/name"] = "apps"
			s.Annotations["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
		}, true},
		{"another tool added a foreign owner reference", desired, func(s *corev1.Secret) {
			s.OwnerReferences = append([]metav1.OwnerReference{foreignRef}, s.OwnerReferences...)
		}, true},
		{"our owner reference with other flags", desired, func(s *corev1.Secret) {
			s.OwnerReferences[0].Controller = nil
			s.OwnerReferences[0].BlockOwnerDeletion = ptr.To(true)
		}, true},
		{"hand edit kept the digest annotation", desired, func(s *corev1.Secret) {
			s.Data["ca-roots.pem"] = []byte("tampered")
		}, false},
		{"a key added by hand", desired, func(s *corev1.Secret) {
			s.Data["extra.pem"] = []byte("x")
		}, false},
		{"a key removed by hand", desired, func(s *corev1.Secret) {
			delete(s.Data, "ca-roots.pem")
		}, false},
		{"a key renamed by hand", desired, func(s *corev1.Secret) {
			s.Data["renamed.pem"] = s.Data["ca-roots.pem"]
			delete(s.Data, "ca-roots.pem")
		}, false},
		{"data gone", desired, func(s *corev1.Secret) { s.Data = nil }, false},
		{"digest annotation differs", desired, func(s *corev1.Secret) {
			s.Annotations[v1alpha1.TrustDigestAnnotation] = "sha256:old"
		}, false},
		{"digest annotation missing", desired, func(s *corev1.Secret) {
			delete(s.Annotations, v1alpha1.TrustDigestAnnotation)
		}, false},
		{"type differs", desired, func(s *corev1.Secret) { s.Type = corev1.SecretTypeDockerConfigJson }, false},
		{"type empty", desired, func(s *corev1.Secret) { s.Type = "" }, false},
		{"managed label differs", desired, func(s *corev1.Secret) { s.Labels["team"] = "b" }, false},
		{"managed label missing", desired, func(s *corev1.Secret) { delete(s.Labels, "team") }, false},
		{"policy label differs", desired, func(s *corev1.Secret) { s.Labels[v1alpha1.PolicyLabel] = "other" }, false},
		{"managed-by label missing", desired, func(s *corev1.Secret) { delete(s.Labels, v1alpha1.ManagedByLabel) }, false},
		{"no labels at all", desired, func(s *corev1.Secret) { s.Labels = nil }, false},
		{"managed annotation differs", desired, func(s *corev1.Secret) { s.Annotations["note"] = "bye" }, false},
		{"managed annotation missing", desired, func(s *corev1.Secret) { delete(s.Annotations, "note") }, false},
		{"managed keys annotation differs", desired, func(s *corev1.Secret) {
			s.Annotations[ManagedKeysAnnotation] = "annotation:note,label:gone,label:team"
		}, false},
		{"stale managed keys annotation, none desired", plainDesired, func(s *corev1.Secret) {
			s.Annotations[ManagedKeysAnnotation] = "label:team"
		}, false},
		{"stale but empty managed keys annotation, none desired", plainDesired, func(s *corev1.Secret) {
			s.Annotations[ManagedKeysAnnotation] = ""
		}, false},
		{"owner reference missing", desired, func(s *corev1.Secret) { s.OwnerReferences = nil }, false},
		{"owner reference missing, a foreign one kept", desired, func(s *corev1.Secret) {
			s.OwnerReferences = []metav1.OwnerReference{foreignRef}
		}, false},
		{"owner reference to a re-created policy", desired, func(s *corev1.Secret) { s.OwnerReferences[0].UID = "uid-old" }, false},
		{"owner reference to another policy", desired, func(s *corev1.Secret) { s.OwnerReferences[0].Name = "other" }, false},
		{"owner reference at another API version", desired, func(s *corev1.Secret) {
			s.OwnerReferences[0].APIVersion = v1alpha1.GroupVersion.Group + "/v1alpha0"
		}, false},
		{"a second policy reference", desired, func(s *corev1.Secret) {
			s.OwnerReferences = append(s.OwnerReferences, ourRef("other", "uid-2"))
		}, false},
		{"orphan: our owner reference left over", orphanDesired, func(s *corev1.Secret) {
			s.OwnerReferences = []metav1.OwnerReference{ourRef("pol", "uid-1")}
		}, false},
		{"orphan: only a foreign owner reference", orphanDesired, func(s *corev1.Secret) {
			s.OwnerReferences = []metav1.OwnerReference{foreignRef}
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			existing := tc.desired.DeepCopy()
			tc.edit(existing)
			before := tc.desired.DeepCopy()
			g.Expect(UpToDate(existing, tc.desired)).To(Equal(tc.want))
			g.Expect(tc.desired).To(Equal(before), "desired is not modified")
			// Merge always brings a Secret up to date.
			g.Expect(UpToDate(Merge(existing, tc.desired), tc.desired)).To(BeTrue(), "after Merge")
		})
	}
}

func TestMerge(t *testing.T) {
	g := NewWithT(t)
	oldData := map[string][]byte{"old.pem": []byte("old")}
	existing := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: "notation-config", Namespace: "ns", UID: "secret-uid", ResourceVersion: "42",
			Labels: map[string]string{
				"team":                  "old",
				"stale-label":           "v",
				"foreign":               "f",
				v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue,
				v1alpha1.PolicyLabel:    "pol",
			},
			Annotations: map[string]string{
				"stale-ann":                    "v",
				"foreign-ann":                  "f",
				ManagedKeysAnnotation:          "annotation:stale-ann,label:stale-label,label:team",
				v1alpha1.TrustDigestAnnotation: trustconfig.TrustDigest(oldData),
			},
			OwnerReferences: []metav1.OwnerReference{foreignRef, ourRef("pol", "uid-old")},
			Finalizers:      []string{"example.com/keep"},
		},
		Type:       corev1.SecretTypeOpaque,
		Data:       oldData,
		StringData: map[string]string{"sneaky": "value"},
	}
	p := testPolicy("pol", "uid-1", v1alpha1.Target{
		Labels:      map[string]string{"team": "new"},
		Annotations: map[string]string{"note": "n"},
	})
	desired := testTemplate(p, testData).Desired("ns")
	existingBefore, desiredBefore := existing.DeepCopy(), desired.DeepCopy()

	out := Merge(existing, desired)

	g.Expect(existing).To(Equal(existingBefore), "existing is not modified")
	g.Expect(desired).To(Equal(desiredBefore), "desired is not modified")
	g.Expect(out.Labels).To(Equal(map[string]string{
		"team":                  "new",
		"foreign":               "f",
		v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue,
		v1alpha1.PolicyLabel:    "pol",
	}))
	g.Expect(out.Annotations).To(Equal(map[string]string{
		"foreign-ann":                  "f",
		"note":                         "n",
		ManagedKeysAnnotation:          "annotation:note,label:team",
		v1alpha1.TrustDigestAnnotation: trustconfig.TrustDigest(testData),
	}))
	g.Expect(out.OwnerReferences).To(Equal([]metav1.OwnerReference{foreignRef, ourRef("pol", "uid-1")}))
	g.Expect(out.Data).To(Equal(testData))
	g.Expect(out.StringData).To(BeNil())
	g.Expect(out.Type).To(Equal(corev1.SecretTypeOpaque))
	// Identity and metadata other than ours are the existing Secret's, so
	// the update carries its resourceVersion as a precondition.
	g.Expect(out.UID).To(Equal(existing.UID))
	g.Expect(out.ResourceVersion).To(Equal("42"))
	g.Expect(out.Finalizers).To(Equal([]string{"example.com/keep"}))
	g.Expect(UpToDate(out, desired)).To(BeTrue())

	// The result's maps are its own.
	out.Labels["foreign"] = "changed"
	g.Expect(existing.Labels["foreign"]).To(Equal("f"))
}

func TestMergeCases(t *testing.T) {
	cases := []struct {
		name     string
		existing *corev1.Secret
		target   v1alpha1.Target
		wantL    map[string]string
		wantA    map[string]string
		wantRefs []metav1.OwnerReference
	}{
		{
			name:     "bare foreign-free Secret with nil maps",
			existing: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "notation-config", Namespace: "ns"}},
			target:   v1alpha1.Target{},
			wantL:    map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "pol"},
			wantA:    map[string]string{v1alpha1.TrustDigestAnnotation: trustconfig.TrustDigest(testData)},
			wantRefs: []metav1.OwnerReference{ourRef("pol", "uid-1")},
		},
		{
			name: "every user key removed from the spec",
			existing: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
				Labels:      map[string]string{"team": "a", "other": "o"},
				Annotations: map[string]string{"note": "n", ManagedKeysAnnotation: "annotation:note,label:team"},
			}},
			target:   v1alpha1.Target{},
			wantL:    map[string]string{"other": "o", v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "pol"},
			wantA:    map[string]string{v1alpha1.TrustDigestAnnotation: trustconfig.TrustDigest(testData)},
			wantRefs: []metav1.OwnerReference{ourRef("pol", "uid-1")},
		},
		{
			name: "a key still wanted is kept with the desired value",
			existing: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
				Labels:      map[string]string{"team": "old"},
				Annotations: map[string]string{ManagedKeysAnnotation: "label:team"},
			}},
			target: v1alpha1.Target{Labels: map[string]string{"team": "new"}},
			wantL:  map[string]string{"team": "new", v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "pol"},
			wantA: map[string]string{
				ManagedKeysAnnotation:          "label:team",
				v1alpha1.TrustDigestAnnotation: trustconfig.TrustDigest(testData),
			},
			wantRefs: []metav1.OwnerReference{ourRef("pol", "uid-1")},
		},
		{
			name: "a label and an annotation of the same name are told apart",
			existing: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
				Labels:      map[string]string{"k": "label"},
				Annotations: map[string]string{"k": "annotation", ManagedKeysAnnotation: "label:k"},
			}},
			target:   v1alpha1.Target{},
			wantL:    map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "pol"},
			wantA:    map[string]string{"k": "annotation", v1alpha1.TrustDigestAnnotation: trustconfig.TrustDigest(testData)},
			wantRefs: []metav1.OwnerReference{ourRef("pol", "uid-1")},
		},
		{
			name: "malformed managed keys entries are ignored",
			existing: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
				Labels:      map[string]string{"team": "a", "garbage": "g"},
				Annotations: map[string]string{ManagedKeysAnnotation: "garbage,secret:team,,label:team"},
			}},
			target:   v1alpha1.Target{},
			wantL:    map[string]string{"garbage": "g", v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "pol"},
			wantA:    map[string]string{v1alpha1.TrustDigestAnnotation: trustconfig.TrustDigest(testData)},
			wantRefs: []metav1.OwnerReference{ourRef("pol", "uid-1")},
		},
		{
			name: "orphan: our reference goes, foreign ones stay",
			existing: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
				OwnerReferences: []metav1.OwnerReference{ourRef("pol", "uid-1"), foreignRef},
			}},
			target:   v1alpha1.Target{DeletionPolicy: v1alpha1.DeletionPolicyOrphan},
			wantL:    map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "pol"},
			wantA:    map[string]string{v1alpha1.TrustDigestAnnotation: trustconfig.TrustDigest(testData)},
			wantRefs: []metav1.OwnerReference{foreignRef},
		},
		{
			name: "a duplicated policy reference collapses to one",
			existing: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
				OwnerReferences: []metav1.OwnerReference{ourRef("pol", "uid-1"), ourRef("pol", "uid-1"), ourRef("other", "uid-2")},
			}},
			target:   v1alpha1.Target{},
			wantL:    map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "pol"},
			wantA:    map[string]string{v1alpha1.TrustDigestAnnotation: trustconfig.TrustDigest(testData)},
			wantRefs: []metav1.OwnerReference{ourRef("pol", "uid-1")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			desired := testTemplate(testPolicy("pol", "uid-1", tc.target), testData).Desired("ns")
			before := tc.existing.DeepCopy()
			out := Merge(tc.existing, desired)
			g.Expect(tc.existing).To(Equal(before), "existing is not modified")
			g.Expect(out.Labels).To(Equal(tc.wantL))
			g.Expect(out.Annotations).To(Equal(tc.wantA))
			g.Expect(out.OwnerReferences).To(Equal(tc.wantRefs))
			g.Expect(out.Data).To(Equal(testData))
			g.Expect(out.Type).To(Equal(corev1.SecretTypeOpaque))
			g.Expect(UpToDate(out, desired)).To(BeTrue())
		})
	}
}

func TestOrphaned(t *testing.T) {
	g := NewWithT(t)
	p := testPolicy("pol", "uid-1", v1alpha1.Target{
		Labels:      map[string]string{"team": "a"},
		Annotations: map[string]string{"note": "n"},
	})
	s := testTemplate(p, testData).Desired("ns")
	s.UID, s.ResourceVersion = "secret-uid", "7"
	s.Labels["foreign"] = "f"
	s.Annotations["foreign-ann"] = "f"
	s.OwnerReferences = append([]metav1.OwnerReference{foreignRef}, s.OwnerReferences...)
	before := s.DeepCopy()

	out := Orphaned(s)

	g.Expect(s).To(Equal(before), "the input is not modified")
	g.Expect(out.Labels).To(Equal(map[string]string{"team": "a", "foreign": "f"}))
	g.Expect(out.Annotations).To(Equal(map[string]string{"note": "n", "foreign-ann": "f"}))
	g.Expect(out.OwnerReferences).To(Equal([]metav1.OwnerReference{foreignRef}))
	g.Expect(out.Data).To(Equal(testData))
	g.Expect(out.Type).To(Equal(corev1.SecretTypeOpaque))
	g.Expect(out.UID).To(Equal(types.UID("secret-uid")))
	g.Expect(out.ResourceVersion).To(Equal("7"))
	g.Expect(IsOwnedBy(out, "pol")).To(BeFalse())
	g.Expect(PolicyOfSecret(t.Context(), out)).To(BeEmpty())
}

func TestOrphanedNilMaps(t *testing.T) {
	g := NewWithT(t)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}, Data: testData}
	out := Orphaned(s)
	g.Expect(out.Labels).To(BeEmpty())
	g.Expect(out.Annotations).To(BeEmpty())
	g.Expect(out.OwnerReferences).To(BeEmpty())
	g.Expect(out.Data).To(Equal(testData))
}

func TestIsOwnedBy(t *testing.T) {
	cases := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"ours", map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "pol"}, true},
		{"another policy", map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "other"}, false},
		{"another manager", map[string]string{v1alpha1.ManagedByLabel: "helm", v1alpha1.PolicyLabel: "pol"}, false},
		{"policy label only", map[string]string{v1alpha1.PolicyLabel: "pol"}, false},
		{"no labels", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: tc.labels}}
			NewWithT(t).Expect(IsOwnedBy(s, "pol")).To(Equal(tc.want))
		})
	}
}

// A user label cannot make a Secret for Flux pass for the operator's own
// bookkeeping, which is pruned where it would be released.
func TestDesiredNeverCarriesTheRoleLabel(t *testing.T) {
	g := NewWithT(t)
	p := &v1alpha1.VerificationPolicy{}
	p.Name = "pol"
	p.Spec.Target.Labels = map[string]string{v1alpha1.RoleLabel: "x", "team": "a"}
	s := Template{Policy: p, Data: map[string][]byte{}}.Desired("ns")
	g.Expect(IsBookkeeping(s)).To(BeFalse())
	g.Expect(s.Labels).To(HaveKeyWithValue("team", "a"))
}
