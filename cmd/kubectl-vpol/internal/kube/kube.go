// Package kube connects kubectl vpol to a cluster the way kubectl does:
// genericclioptions' flags (--kubeconfig, --context, --server, ...) and
// the KUBECONFIG rules, giving an uncached controller-runtime client that
// knows client-go's types and VerificationPolicy. OCIRepositories are read
// as unstructured objects (controllers/ocirepos), like the operator does.
package kube

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// Scheme returns client-go's types plus v1alpha1.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Client returns a client for the cluster flags select.
func Client(flags *genericclioptions.ConfigFlags, userAgent string) (client.Client, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg.UserAgent = userAgent
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, nil
}
