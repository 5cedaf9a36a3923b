package targets

import (
	"context"
	"errors"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// secretVerbs are what the operator does to the Secrets it writes, by name.
var secretVerbs = []string{"get", "list", "watch", "update", "delete"}

// CheckAccess asks the API server (SelfSubjectAccessReviews) whether the
// manager may do its work on Secrets of each allowed name in every
// namespace, and says what to fix if not. Without it, a --target-secret-names
// the ClusterRole does not match shows up only as an informer that never
// syncs, with "forbidden" in the log.
func CheckAccess(ctx context.Context, c client.Client, names []string) error {
	if len(names) == 0 {
		return errors.New("no Secret name is allowed: set --target-secret-names")
	}
	var missing []string
	ask := func(verb, name string) error {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Resource: "secrets", Name: name},
		}}
		if err := c.Create(ctx, review); err != nil {
			return fmt.Errorf("checking the manager's access to Secrets: %w", err)
		}
		if !review.Status.Allowed {
			what := verb + " Secrets"
			if name != "" {
				what += " named " + name
			}
			missing = append(missing, what)
		}
		return nil
	}
	for _, name := range names {
		for _, verb := range secretVerbs {
			if err := ask(verb, name); err != nil {
				return err
			}
		}
	}
	if err := ask("create", ""); err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("the manager's RBAC does not allow it to %s in every namespace: "+
			"--target-secret-names and the resourceNames of the manager ClusterRole's Secret rule must list the same names",
			strings.Join(missing, ", "))
	}
	return nil
}
