package sources

import (
	"context"
	"errors"
	"sync"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

const trustNS = "trust"

func newScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	g := NewWithT(t)
	g.Expect(clientgoscheme.AddToScheme(s)).To(Succeed())
	g.Expect(v1alpha1.AddToScheme(s)).To(Succeed())
	return s
}

// reads records every Get, so a test can prove which objects were read.
type reads struct {
	mu   sync.Mutex
	keys []string
}

func (r *reads) client(t *testing.T, fail func(client.ObjectKey, client.Object) error, objs ...client.Object) client.WithWatch {
	return fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(objs...).
		WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				kind := "?"
				switch obj.(type) {
				case *corev1.Secret:
					kind = "Secret"
				case *corev1.ConfigMap:
					kind = "ConfigMap"
				}
				r.mu.Lock()
				r.keys = append(r.keys, kind+" "+key.String())
				r.mu.Unlock()
				if fail != nil {
					if err := fail(key, obj); err != nil {
						return err
					}
				}
				return c.Get(ctx, key, obj, opts...)
			},
		}).Build()
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func configMap(ns, name string, data map[string]string, binary map[string][]byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data, BinaryData: binary}
}

func ref(name, key string) *v1alpha1.KeyReference {
	return &v1alpha1.KeyReference{Name: name, Key: key}
}

func TestResolve(t *testing.T) {
	g := NewWithT(t)
	secretReads, cmReads := &reads{}, &reads{}
	r := &Resolver{
		Namespace: trustNS,
		Secrets:   secretReads.client(t, nil, secret(trustNS, "roots", map[string]string{"ca.pem": "SECRET-PEM", "other": "x"})),
		ConfigMaps: cmReads.client(t, nil,
			configMap(trustNS, "bundle", map[string]string{"tsa.pem": "CM-PEM", "both.pem": "text"}, map[string][]byte{"bin.pem": []byte("BIN-PEM"), "both.pem": []byte("binary")})),
	}
	certs := []v1alpha1.CertificateSource{
		{Name: "from-cm", Type: v1alpha1.CertificateTypeTSA, ConfigMapRef: ref("bundle", "tsa.pem")},
		{Name: "inline", Inline: "INLINE-PEM"},
		{Name: "from-secret", Type: v1alpha1.CertificateTypeCA, SecretRef: ref("roots", "ca.pem")},
		{Name: "from-binary", Type: v1alpha1.CertificateTypeSigningAuthority, ConfigMapRef: ref("bundle", "bin.pem")},
		{Name: "from-both", ConfigMapRef: ref("bundle", "both.pem")},
		{Name: "empty-inline"},
	}

	got, err := r.Resolve(context.Background(), certs)

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal([]trustconfig.Source{
		{Name: "from-cm", Type: v1alpha1.CertificateTypeTSA, Origin: `ConfigMap trust/bundle key "tsa.pem"`, FromObject: true, PEM: []byte("CM-PEM")},
		{Name: "inline", Origin: "inline", PEM: []byte("INLINE-PEM")},
		{Name: "from-secret", Type: v1alpha1.CertificateTypeCA, Origin: `Secret trust/roots key "ca.pem"`, FromObject: true, PEM: []byte("SECRET-PEM")},
		{Name: "from-binary", Type: v1alpha1.CertificateTypeSigningAuthority, Origin: `ConfigMap trust/bundle key "bin.pem"`, FromObject: true, PEM: []byte("BIN-PEM")},
		{Name: "from-both", Origin: `ConfigMap trust/bundle key "both.pem"`, FromObject: true, PEM: []byte("text")},
		{Name: "empty-inline", Origin: "inline", PEM: []byte{}},
	}))
	g.Expect(secretReads.keys).To(Equal([]string{"Secret trust/roots"}), "Secrets are read through the Secrets reader")
	g.Expect(cmReads.keys).To(HaveEach(HavePrefix("ConfigMap trust/")), "ConfigMaps through the ConfigMaps reader")
	g.Expect(cmReads.keys).To(HaveLen(3))
}

func TestResolveNothing(t *testing.T) {
	g := NewWithT(t)
	r := &Resolver{Namespace: trustNS}
	got, err := r.Resolve(context.Background(), nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).NotTo(BeNil())
	g.Expect(got).To(BeEmpty())

	// Inline-only sources need no reader.
	got, err = r.Resolve(context.Background(), []v1alpha1.CertificateSource{{Name: "a", Inline: "A"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(HaveLen(1))
}

func TestResolveInputErrors(t *testing.T) {
	objs := []client.Object{
		secret(trustNS, "roots", map[string]string{"ca.pem": "PEM"}),
		configMap(trustNS, "bundle", map[string]string{"ca.pem": "PEM"}, map[string][]byte{"bin.pem": []byte("PEM")}),
		// Same names, keys present, but in another namespace: never used.
		secret("elsewhere", "only-elsewhere", map[string]string{"ca.pem": "PEM"}),
		configMap("elsewhere", "only-elsewhere", map[string]string{"ca.pem": "PEM"}, nil),
		secret("elsewhere", "roots", map[string]string{"missing.pem": "PEM"}),
		configMap("elsewhere", "bundle", map[string]string{"missing.pem": "PEM"}, nil),
	}
	cases := []struct {
		name        string
		cert        v1alpha1.CertificateSource
		wantReason  string
		wantMessage string
	}{
		{"Secret not found", v1alpha1.CertificateSource{Name: "roots", SecretRef: ref("nope", "ca.pem")},
			v1alpha1.ReasonSourceNotFound, `Secret trust/nope not found (sources are read from the trust namespace "trust" only)`},
		{"Secret only in another namespace", v1alpha1.CertificateSource{Name: "roots", SecretRef: ref("only-elsewhere", "ca.pem")},
			v1alpha1.ReasonSourceNotFound, `Secret trust/only-elsewhere not found (sources are read from the trust namespace "trust" only)`},
		{"ConfigMap not found", v1alpha1.CertificateSource{Name: "roots", ConfigMapRef: ref("nope", "ca.pem")},
			v1alpha1.ReasonSourceNotFound, `ConfigMap trust/nope not found (sources are read from the trust namespace "trust" only)`},
		{"ConfigMap only in another namespace", v1alpha1.CertificateSource{Name: "roots", ConfigMapRef: ref("only-elsewhere", "ca.pem")},
			v1alpha1.ReasonSourceNotFound, `ConfigMap trust/only-elsewhere not found (sources are read from the trust namespace "trust" only)`},
		{"Secret key missing", v1alpha1.CertificateSource{Name: "roots", SecretRef: ref("roots", "missing.pem")},
			v1alpha1.ReasonSourceKeyNotFound, `Secret trust/roots has no key "missing.pem"`},
		{"ConfigMap key missing", v1alpha1.CertificateSource{Name: "roots", ConfigMapRef: ref("bundle", "missing.pem")},
			v1alpha1.ReasonSourceKeyNotFound, `ConfigMap trust/bundle has no key "missing.pem"`},
		{"key names are case-sensitive", v1alpha1.CertificateSource{Name: "roots", SecretRef: ref("roots", "CA.pem")},
			v1alpha1.ReasonSourceKeyNotFound, `Secret trust/roots has no key "CA.pem"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			rd := &reads{}
			c := rd.client(t, nil, objs...)
			r := &Resolver{Namespace: trustNS, Secrets: c, ConfigMaps: c}
			certs := []v1alpha1.CertificateSource{{Name: "first", Inline: "X"}, tc.cert, {Name: "never-read", SecretRef: ref("roots", "ca.pem")}}

			got, err := r.Resolve(context.Background(), certs)

			g.Expect(got).To(BeNil())
			var ie *inputerror.Error
			g.Expect(errors.As(err, &ie)).To(BeTrue(), "%v", err)
			g.Expect(ie.Kind).To(Equal(inputerror.Waiting))
			g.Expect(ie.Reason).To(Equal(tc.wantReason))
			g.Expect(ie.Field).To(Equal("certificates[roots]"))
			g.Expect(ie.Message).To(Equal(tc.wantMessage))
			g.Expect(err.Error()).To(Equal("certificates[roots]: " + tc.wantMessage))
			g.Expect(rd.keys).To(HaveLen(1), "stops at the first failing source")
			g.Expect(rd.keys).To(HaveEach(ContainSubstring(" trust/")), "only the trust namespace is read")
		})
	}
}

// However a policy names its sources, nothing outside the trust namespace
// is read.
func TestResolveReadsOnlyTheTrustNamespace(t *testing.T) {
	g := NewWithT(t)
	rd := &reads{}
	c := rd.client(t, nil,
		secret(trustNS, "roots", map[string]string{"ca.pem": "PEM"}),
		configMap(trustNS, "bundle", map[string]string{"ca.pem": "PEM"}, nil),
		secret("kube-system", "roots", map[string]string{"ca.pem": "OTHER"}),
	)
	r := &Resolver{Namespace: trustNS, Secrets: c, ConfigMaps: c}
	names := []string{"roots", "kube-system/roots", "../kube-system/roots"}
	for _, n := range names {
		_, _ = r.Resolve(context.Background(), []v1alpha1.CertificateSource{
			{Name: "s", SecretRef: ref(n, "ca.pem")},
		})
		_, _ = r.Resolve(context.Background(), []v1alpha1.CertificateSource{
			{Name: "c", ConfigMapRef: ref(n, "ca.pem")},
		})
	}
	g.Expect(rd.keys).To(HaveLen(2 * len(names)))
	for _, k := range rd.keys {
		g.Expect(k).To(MatchRegexp(`^(Secret|ConfigMap) trust/`))
	}
	got, err := r.Resolve(context.Background(), []v1alpha1.CertificateSource{{Name: "s", SecretRef: ref("roots", "ca.pem")}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got[0].PEM).To(Equal([]byte("PEM")))
}

func TestResolveAPIErrorsAreNotInputErrors(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name string
		err  error
		cert v1alpha1.CertificateSource
	}{
		{"Secret, plain error", boom, v1alpha1.CertificateSource{Name: "a", SecretRef: ref("roots", "ca.pem")}},
		{"ConfigMap, plain error", boom, v1alpha1.CertificateSource{Name: "a", ConfigMapRef: ref("bundle", "ca.pem")}},
		{"Secret, forbidden", apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "roots", boom),
			v1alpha1.CertificateSource{Name: "a", SecretRef: ref("roots", "ca.pem")}},
		{"ConfigMap, timeout", apierrors.NewTimeoutError("slow", 1),
			v1alpha1.CertificateSource{Name: "a", ConfigMapRef: ref("bundle", "ca.pem")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			c := (&reads{}).client(t, func(client.ObjectKey, client.Object) error { return tc.err },
				secret(trustNS, "roots", map[string]string{"ca.pem": "PEM"}),
				configMap(trustNS, "bundle", map[string]string{"ca.pem": "PEM"}, nil))
			r := &Resolver{Namespace: trustNS, Secrets: c, ConfigMaps: c}

			got, err := r.Resolve(context.Background(), []v1alpha1.CertificateSource{tc.cert})

			g.Expect(got).To(BeNil())
			g.Expect(err).To(MatchError(tc.err), "the API error is kept in the chain")
			_, isInput := inputerror.As(err)
			g.Expect(isInput).To(BeFalse())
			g.Expect(err.Error()).To(ContainSubstring("certificates[a]"))
			g.Expect(err.Error()).To(ContainSubstring("trust/"))
		})
	}
}

func TestSecretAndConfigMapNames(t *testing.T) {
	cases := []struct {
		name        string
		certs       []v1alpha1.CertificateSource
		wantSecrets []string
		wantCMs     []string
	}{
		{"none", nil, nil, nil},
		{"inline only", []v1alpha1.CertificateSource{{Name: "a", Inline: "x"}}, nil, nil},
		{"mixed, in spec order, duplicates kept", []v1alpha1.CertificateSource{
			{Name: "a", SecretRef: ref("s2", "k")},
			{Name: "b", ConfigMapRef: ref("c1", "k")},
			{Name: "c", Inline: "x"},
			{Name: "d", SecretRef: ref("s1", "k")},
			{Name: "e", SecretRef: ref("s2", "other")},
			{Name: "f", ConfigMapRef: ref("c0", "k")},
		}, []string{"s2", "s1", "s2"}, []string{"c1", "c0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(SecretNames(tc.certs)).To(Equal(tc.wantSecrets))
			g.Expect(ConfigMapNames(tc.certs)).To(Equal(tc.wantCMs))
		})
	}
}
