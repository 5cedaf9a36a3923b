package metricsauth

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// TestOnlyAuthorizedScrapersReadMetrics runs the filter against a real API
// server: service-account tokens are checked by TokenReview and RBAC by
// SubjectAccessReview, as a Prometheus scraping the shipped manager would
// be. A user granted get on /metrics reads it, and nothing else; a valid
// user without the grant, an invalid token and no token are refused; and
// repeated scrapes are answered from the cache, without new reviews.
func TestOnlyAuthorizedScrapersReadMetrics(t *testing.T) {
	g := NewWithT(t)
	env, cfg, err := testenv.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	kube := kubernetes.NewForConfigOrDie(cfg)

	const ns = "default"
	for _, name := range []string{"scraper", "stranger"} {
		_, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
	}
	_, err = kube.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "scraper"}},
	}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	// kube-apiserver's RBAC authorizer reads bindings from an informer: wait
	// until it has this one, as the filter caches a denial.
	g.Eventually(func(g Gomega) {
		review, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User:                  "system:serviceaccount:" + ns + ":scraper",
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
			},
		}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(review.Status.Allowed).To(BeTrue())
	}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
	token := func(sa string) string {
		tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		return tr.Status.Token
	}
	scraper, stranger := token("scraper"), token("stranger")

	// Count the reviews the filter sends.
	var reviews atomic.Int32
	httpClient, err := rest.HTTPClientFor(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	httpClient.Transport = countingTransport{next: httpClient.Transport, n: &reviews}
	filter, err := Filter(cfg, httpClient)
	g.Expect(err).NotTo(HaveOccurred())
	handler, err := filter(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "metrics body")
	}))
	g.Expect(err).NotTo(HaveOccurred())
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)

	get := func(path, authorization string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, server.URL+path, nil)
		g.Expect(err).NotTo(HaveOccurred())
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	code, body := get("/metrics", "Bearer "+scraper)
	g.Expect(code).To(Equal(http.StatusOK))
	g.Expect(body).To(Equal("metrics body"))
	g.Expect(reviews.Load()).To(BeEquivalentTo(2), "one TokenReview, one SubjectAccessReview")
	code, _ = get("/metrics", "bearer "+scraper)
	g.Expect(code).To(Equal(http.StatusOK), "the scheme is case-insensitive")
	g.Expect(reviews.Load()).To(BeEquivalentTo(2), "a repeated scrape is answered from the cache")

	code, body = get("/debug/pprof/", "Bearer "+scraper)
	g.Expect(code).To(Equal(http.StatusForbidden), "the grant covers /metrics only")
	g.Expect(body).To(ContainSubstring("system:serviceaccount:default:scraper"))
	code, _ = get("/metrics", "Bearer "+stranger)
	g.Expect(code).To(Equal(http.StatusForbidden), "a valid user without the grant")
	code, _ = get("/metrics", "Bearer not-a-token")
	g.Expect(code).To(Equal(http.StatusUnauthorized))
	code, _ = get("/metrics", "Basic "+scraper)
	g.Expect(code).To(Equal(http.StatusUnauthorized), "only bearer tokens are accepted")
	code, body = get("/metrics", "")
	g.Expect(code).To(Equal(http.StatusUnauthorized))
	g.Expect(body).NotTo(ContainSubstring("metrics body"))
}

// countingTransport counts the TokenReview and SubjectAccessReview requests.
type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int32
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/tokenreviews") || strings.HasSuffix(r.URL.Path, "/subjectaccessreviews") {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}
