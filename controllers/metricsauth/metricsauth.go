package metricsauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// The cache lifetimes of controller-runtime's filter: a token stays
// authenticated for a minute (a revoked token keeps working that long at
// most); an allowed decision is kept 5 minutes, a denied one 30 seconds (a
// newly granted scraper waits that long at most).
const (
	authnTTL     = time.Minute
	allowTTL     = 5 * time.Minute
	denyTTL      = 30 * time.Second
	cacheEntries = 1024
	// reviewTimeout bounds one review; the scraper retries at its next
	// interval.
	reviewTimeout = 10 * time.Second
)

// Filter is a metricsserver.FilterProvider: it builds the check from the
// manager's REST configuration and HTTP client.
func Filter(cfg *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	authn, err := authenticationclient.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	authz, err := authorizationclient.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	c := &checker{
		tokens:    authn.TokenReviews(),
		reviews:   authz.SubjectAccessReviews(),
		users:     cache.NewLRUExpireCache(cacheEntries),
		decisions: cache.NewLRUExpireCache(cacheEntries),
	}
	return func(log logr.Logger, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.serve(log, next, w, r)
		}), nil
	}, nil
}

type checker struct {
	tokens  authenticationclient.TokenReviewInterface
	reviews authorizationclient.SubjectAccessReviewInterface
	// users maps a token's SHA-256 to the *authenticationv1.UserInfo it
	// belongs to, or to nil when the API server rejected it. The token
	// itself is never kept.
	users *cache.LRUExpireCache
	// decisions maps a (user, verb, path) digest to a decision.
	decisions *cache.LRUExpireCache
}

// decision is one SubjectAccessReview's answer.
type decision struct {
	allowed bool
	reason  string
}

func (c *checker) serve(log logr.Logger, next http.Handler, w http.ResponseWriter, r *http.Request) {
	token, ok := bearerToken(r)
	if !ok {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), reviewTimeout)
	defer cancel()
	user, err := c.authenticate(ctx, token)
	if err != nil {
		log.Error(err, "Authenticating a metrics request")
		http.Error(w, "Authentication failed", http.StatusInternalServerError)
		return
	}
	if user == nil {
		log.V(4).Info("Metrics request with an invalid token")
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	verb, path := strings.ToLower(r.Method), r.URL.Path
	d, err := c.authorize(ctx, user, verb, path)
	if err != nil {
		log.Error(err, "Authorizing a metrics request", "user", user.Username)
		http.Error(w, fmt.Sprintf("Authorization for user %s failed", user.Username), http.StatusInternalServerError)
		return
	}
	if !d.allowed {
		log.V(4).Info("Metrics request denied", "user", user.Username, "verb", verb, "path", path, "reason", d.reason)
		http.Error(w, fmt.Sprintf("Authorization denied for user %s", user.Username), http.StatusForbidden)
		return
	}
	next.ServeHTTP(w, r)
}

// bearerToken is the token of an "Authorization: Bearer <token>" header
// (the scheme is case-insensitive, RFC 7235).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// authenticate is the user the token belongs to, or nil when the API server
// does not accept it.
func (c *checker) authenticate(ctx context.Context, token string) (*authenticationv1.UserInfo, error) {
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:])
	if v, ok := c.users.Get(key); ok {
		return v.(*authenticationv1.UserInfo), nil
	}
	review, err := c.tokens.Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("TokenReview: %w", err)
	}
	var user *authenticationv1.UserInfo
	if review.Status.Authenticated && review.Status.Error == "" {
		user = &review.Status.User
	}
	c.users.Add(key, user, authnTTL)
	return user, nil
}

// authorize asks whether user may use verb on the non-resource URL path.
func (c *checker) authorize(ctx context.Context, user *authenticationv1.UserInfo, verb, path string) (decision, error) {
	spec := authorizationv1.SubjectAccessReviewSpec{
		User:                  user.Username,
		UID:                   user.UID,
		Groups:                user.Groups,
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
	}
	if len(user.Extra) > 0 {
		spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			spec.Extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	// The key covers everything the review is asked about.
	raw, err := json.Marshal(spec)
	if err != nil {
		return decision{}, err
	}
	sum := sha256.Sum256(raw)
	key := hex.EncodeToString(sum[:])
	if v, ok := c.decisions.Get(key); ok {
		return v.(decision), nil
	}
	review, err := c.reviews.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return decision{}, fmt.Errorf("SubjectAccessReview: %w", err)
	}
	d := decision{allowed: review.Status.Allowed && !review.Status.Denied, reason: review.Status.Reason}
	ttl := denyTTL
	if d.allowed {
		ttl = allowTTL
	}
	c.decisions.Add(key, d, ttl)
	return d, nil
}
