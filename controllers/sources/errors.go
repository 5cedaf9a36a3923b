package sources

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
)

// A missing object or key in the trust namespace is Waiting input: creating
// or fixing the object fixes it, and its watch wakes the reconciler.

func notFound(source, kind, namespace, name string) error {
	return &inputerror.Error{
		Kind:   inputerror.Waiting,
		Reason: v1alpha1.ReasonSourceNotFound,
		Field:  fmt.Sprintf("certificates[%s]", source),
		Message: fmt.Sprintf("%s %s/%s not found (sources are read from the trust namespace %q only)",
			kind, namespace, name, namespace),
	}
}

func keyNotFound(source, kind, namespace string, ref v1alpha1.KeyReference) error {
	return &inputerror.Error{
		Kind:    inputerror.Waiting,
		Reason:  v1alpha1.ReasonSourceKeyNotFound,
		Field:   fmt.Sprintf("certificates[%s]", source),
		Message: fmt.Sprintf("%s %s/%s has no key %q", kind, namespace, ref.Name, ref.Key),
	}
}

// apiNotServed is Waiting: the API server may start serving the API (a
// restart with the feature gate, an upgrade), and discovery then wakes the
// policy.
func apiNotServed(source string) error {
	return &inputerror.Error{
		Kind:   inputerror.Waiting,
		Reason: v1alpha1.ReasonClusterTrustBundleAPINotServed,
		Field:  fmt.Sprintf("certificates[%s]", source),
		Message: "the API server serves no ClusterTrustBundle API (neither certificates.k8s.io/v1 nor v1beta1): " +
			"on Kubernetes 1.33 to 1.36 start kube-apiserver with --feature-gates=ClusterTrustBundle=true and " +
			"--runtime-config=certificates.k8s.io/v1beta1/clustertrustbundles=true; the policy syncs by itself once the API is served",
	}
}

func bundleNotFound(source string, ref *v1alpha1.ClusterTrustBundleSource) error {
	msg := fmt.Sprintf("ClusterTrustBundle %s not found", ref.Name)
	if ref.Name == "" {
		msg = fmt.Sprintf("no ClusterTrustBundle of signer %s", ref.SignerName)
		if ref.LabelSelector != nil {
			msg += " matches the label selector " + metav1.FormatLabelSelector(ref.LabelSelector)
		}
	}
	return &inputerror.Error{
		Kind:    inputerror.Waiting,
		Reason:  v1alpha1.ReasonSourceNotFound,
		Field:   fmt.Sprintf("certificates[%s]", source),
		Message: msg + " (set clusterTrustBundle.optional to allow none)",
	}
}

// noCertificates is Waiting: every source is an optional clusterTrustBundle
// source that selects no bundle, and a bundle appearing fixes it.
func noCertificates(optional []string) error {
	return &inputerror.Error{
		Kind:   inputerror.Waiting,
		Reason: v1alpha1.ReasonSourceNotFound,
		Field:  "certificates",
		Message: fmt.Sprintf("the optional clusterTrustBundle sources %s select no ClusterTrustBundle and no other source supplies a certificate: "+
			"Flux refuses a Secret without certificates", strings.Join(optional, ", ")),
	}
}
