package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// authzTimeout bounds how long an RBAC change may take to reach the
// authorizer; it is normally well under a second.
const authzTimeout = 30 * time.Second

// Grant is one permission: a verb on a resource (or subresource) of an API
// group, in Namespace or, when that is empty, cluster-wide.
type Grant struct {
	Namespace, Verb, Group, Resource, Subresource, Name string
}

func (g Grant) String() string {
	r := g.Resource
	if g.Subresource != "" {
		r += "/" + g.Subresource
	}
	if g.Group != "" {
		r += "." + g.Group
	}
	if g.Name != "" {
		r += " " + g.Name
	}
	where := "cluster-wide"
	if g.Namespace != "" {
		where = "in " + g.Namespace
	}
	return fmt.Sprintf("%s %s %s", g.Verb, r, where)
}

// Grants lists every resource permission the install's bindings give the
// manager's ServiceAccount. Objects that do not convert to RBAC types are
// skipped here; ApplyRBAC has the API server reject them loudly.
func (in *Install) Grants() []Grant {
	var grants []Grant
	for _, b := range in.Objects("RoleBinding", "ClusterRoleBinding") {
		var binding rbacv1.RoleBinding // a ClusterRoleBinding has the same shape
		if runtime.DefaultUnstructuredConverter.FromUnstructured(b.Object, &binding) != nil || !in.binds(binding.Subjects) {
			continue
		}
		role := in.Object(binding.RoleRef.Kind, binding.RoleRef.Name)
		if role == nil || (role.GetKind() == "Role" && role.GetNamespace() != binding.Namespace) {
			continue // a dangling binding grants nothing
		}
		for _, rule := range rulesOf(role) {
			grants = append(grants, expand(binding.Namespace, rule)...)
		}
	}
	return grants
}

func (in *Install) binds(subjects []rbacv1.Subject) bool {
	for _, s := range subjects {
		if s.Kind == rbacv1.ServiceAccountKind && s.Name == in.ServiceAccount && s.Namespace == in.Namespace {
			return true
		}
	}
	return false
}

func rulesOf(role *unstructured.Unstructured) []rbacv1.PolicyRule {
	var r rbacv1.ClusterRole // a Role's rules have the same shape
	_ = runtime.DefaultUnstructuredConverter.FromUnstructured(role.Object, &r)
	return r.Rules
}

// expand turns a rule into one Grant per verb, group, resource and name.
// Non-resource URLs are not expanded: the manager needs none.
func expand(namespace string, rule rbacv1.PolicyRule) []Grant {
	names := rule.ResourceNames
	if len(names) == 0 {
		names = []string{""}
	}
	var out []Grant
	for _, group := range rule.APIGroups {
		for _, res := range rule.Resources {
			resource, sub, _ := strings.Cut(res, "/")
			for _, verb := range rule.Verbs {
				for _, name := range names {
					out = append(out, Grant{Namespace: namespace, Verb: verb, Group: group, Resource: resource, Subresource: sub, Name: name})
				}
			}
		}
	}
	return out
}

// Allowed asks the API server whether user has g, the way it would decide
// a real request (SubjectAccessReview).
func Allowed(ctx context.Context, c client.Client, user string, g Grant) (bool, error) {
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: g.Namespace, Verb: g.Verb, Group: g.Group,
			Resource: g.Resource, Subresource: g.Subresource, Name: g.Name,
		},
	}}
	if err := c.Create(ctx, review); err != nil {
		return false, fmt.Errorf("reviewing %q for %s: %w", g, user, err)
	}
	return review.Status.Allowed, nil
}

// WaitAuthorized waits until user has every grant.
func WaitAuthorized(ctx context.Context, c client.Client, user string, grants ...Grant) error {
	return waitAuthz(ctx, c, user, true, grants)
}

// WaitDenied waits until user has none of the grants.
func WaitDenied(ctx context.Context, c client.Client, user string, grants ...Grant) error {
	return waitAuthz(ctx, c, user, false, grants)
}

func waitAuthz(ctx context.Context, c client.Client, user string, want bool, grants []Grant) error {
	var pending Grant
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, authzTimeout, true, func(ctx context.Context) (bool, error) {
		for _, g := range grants {
			allowed, err := Allowed(ctx, c, user, g)
			if err != nil {
				return false, err
			}
			if allowed != want {
				pending = g
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to be allowed=%t to %s: %w", user, want, pending, err)
	}
	return nil
}
