package helmcharts

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/verify"
)

func chart(ns, kind, secret string) *Chart {
	c := &Chart{}
	c.Namespace, c.Name, c.Spec.Chart = ns, "app", "podinfo"
	c.Spec.SourceRef = sourcev1.LocalHelmChartSourceReference{Kind: kind, Name: "charts"}
	if secret != "" {
		c.Spec.Verify = &sourcev1.HelmChartVerification{Provider: "notation", SecretRef: &meta.LocalObjectReference{Name: secret}}
	}
	return c
}

func helmRepo(typ, url string) *sourcev1.HelmRepository {
	r := &sourcev1.HelmRepository{}
	r.Namespace, r.Name = "team", "charts"
	r.Spec.Type, r.Spec.URL = typ, url
	return r
}

func TestGoverns(t *testing.T) {
	p := &v1alpha1.VerificationPolicy{}
	targeted := map[string]bool{"team": true}
	oci := helmRepo("oci", "oci://registry.example.com/charts")
	sel := labels.SelectorFromSet(labels.Set{"verify": "yes"})
	labelled := chart("team", "HelmRepository", "notation-config")
	labelled.Labels = map[string]string{"verify": "yes"}
	cases := []struct {
		name     string
		chart    *Chart
		repo     *sourcev1.HelmRepository
		selector labels.Selector
		want     bool
	}{
		{"an OCI HelmRepository chart", chart("team", "HelmRepository", "notation-config"), oci, nil, true},
		{"another namespace", chart("other", "HelmRepository", "notation-config"), oci, nil, false},
		{"another Secret", chart("team", "HelmRepository", "other"), oci, nil, false},
		{"no verification", chart("team", "HelmRepository", ""), oci, nil, false},
		{"an HTTP HelmRepository", chart("team", "HelmRepository", "notation-config"), helmRepo("default", "https://charts.example.com"), nil, false},
		{"the HelmRepository is missing", chart("team", "HelmRepository", "notation-config"), nil, nil, false},
		{"selector matches", labelled, oci, sel, true},
		{"selector does not match", chart("team", "HelmRepository", "notation-config"), oci, sel, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(Governs(p, tc.selector, targeted, tc.chart, tc.repo)).To(Equal(tc.want))
		})
	}
	NewWithT(t).Expect(RepositoryName(chart("team", "GitRepository", ""))).To(BeEmpty())
}

func TestWhereAndWhichChart(t *testing.T) {
	g := NewWithT(t)
	c := chart("team", "HelmRepository", "notation-config")
	c.Spec.Version = ">=1.0.0"
	g.Expect(URL(c, helmRepo("oci", "oci://registry.example.com/charts/"))).To(Equal("oci://registry.example.com/charts/podinfo"))
	g.Expect(Version(c)).To(Equal(">=1.0.0"))
	c.Status.Artifact = &meta.Artifact{Revision: "1.2.3"}
	g.Expect(Version(c)).To(Equal("1.2.3"), "the version Flux pulled")
	c.Spec.ValuesFiles = []string{"values-prod.yaml"}
	g.Expect(Version(c)).To(Equal(">=1.0.0"), "with valuesFiles the revision carries the generation")
	g.Expect(c.Flux().EveryReconcile).To(BeTrue())
}

func TestReadAccess(t *testing.T) {
	scheme := runtime.NewScheme()
	NewWithT(t).Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	docker := func(entries map[string]map[string]string) []byte {
		b, _ := json.Marshal(map[string]any{"auths": entries})
		return b
	}
	secret := func(name string, typ corev1.SecretType, data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name}, Type: typ, Data: data}
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		secret("basic", corev1.SecretTypeOpaque, map[string][]byte{"username": []byte("flux"), "password": []byte("pw")}),
		secret("half", corev1.SecretTypeOpaque, map[string][]byte{"username": []byte("flux")}),
		secret("docker", corev1.SecretTypeDockerConfigJson, map[string][]byte{corev1.DockerConfigJsonKey: docker(map[string]map[string]string{
			"https://registry.example.com/v2/": {"auth": base64.StdEncoding.EncodeToString([]byte("robot:token"))},
		})}),
		secret("docker-elsewhere", corev1.SecretTypeDockerConfigJson, map[string][]byte{corev1.DockerConfigJsonKey: docker(map[string]map[string]string{
			"other.example.com": {"username": "a", "password": "b"},
		})}),
		secret("tls", corev1.SecretTypeOpaque, map[string][]byte{"ca.crt": []byte("CA"), "tls.crt": []byte("C"), "tls.key": []byte("K")}),
	).Build()
	cases := []struct {
		name, secretRef, certSecretRef string
		want                           verify.Access
		settingsError                  string
	}{
		{name: "anonymous", want: verify.Access{Insecure: true}},
		{name: "username and password", secretRef: "basic", want: verify.Access{Insecure: true, BasicAuth: &verify.BasicAuth{Username: "flux", Password: "pw"}}},
		{name: "docker config entry of the host", secretRef: "docker", want: verify.Access{Insecure: true, BasicAuth: &verify.BasicAuth{Username: "robot", Password: "token"}}},
		{name: "docker config without the host", secretRef: "docker-elsewhere", settingsError: "no auth config for 'registry.example.com'"},
		{name: "half a credential", secretRef: "half", settingsError: "required fields 'username' and 'password'"},
		{name: "missing Secret", secretRef: "absent", settingsError: "Secret team/absent (spec.secretRef of the HelmRepository) not found"},
		{name: "TLS", certSecretRef: "tls", want: verify.Access{Insecure: true, CAPEM: []byte("CA"), CertPEM: []byte("C"), KeyPEM: []byte("K")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			r := helmRepo("oci", "oci://registry.example.com/charts")
			r.Spec.Insecure = true
			if tc.secretRef != "" {
				r.Spec.SecretRef = &meta.LocalObjectReference{Name: tc.secretRef}
			}
			if tc.certSecretRef != "" {
				r.Spec.CertSecretRef = &meta.LocalObjectReference{Name: tc.certSecretRef}
			}
			got, err := ReadAccess(context.Background(), c, r)
			if tc.settingsError != "" {
				var settings *verify.SettingsError
				g.Expect(err).To(BeAssignableToTypeOf(settings))
				g.Expect(err.Error()).To(ContainSubstring(tc.settingsError))
				g.Expect(err.Error()).NotTo(ContainSubstring("token"))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}
