package helmcharts

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/controllers/verify"
)

// ReadAccess reads how source-controller reaches an OCI HelmRepository's
// registry (internal/helm/getter GetClientOpts and
// internal/helm/registry KeychainFromSecret): spec.secretRef holds either a
// docker config (type kubernetes.io/dockerconfigjson), whose entry for the
// registry's host gives the credential, or a username and password;
// spec.certSecretRef holds ca.crt, tls.crt and tls.key; spec.insecure is
// plain HTTP. reader must be uncached: these Secrets are not ours.
func ReadAccess(ctx context.Context, reader client.Reader, repo *sourcev1.HelmRepository) (verify.Access, error) {
	a := verify.Access{Insecure: repo.Spec.Insecure}
	ns := repo.Namespace
	if ref := repo.Spec.CertSecretRef; ref != nil {
		s, err := readSecret(ctx, reader, ns, ref.Name, "spec.certSecretRef")
		if err != nil {
			return a, err
		}
		a.CAPEM, a.CertPEM, a.KeyPEM = s.Data["ca.crt"], s.Data["tls.crt"], s.Data["tls.key"]
		if (len(a.CertPEM) == 0) != (len(a.KeyPEM) == 0) {
			return a, &verify.SettingsError{Message: fmt.Sprintf("Secret %s/%s (spec.certSecretRef of HelmRepository %s) must hold both tls.crt and tls.key, or neither", ns, ref.Name, repo.Name)}
		}
	}
	if ref := repo.Spec.SecretRef; ref != nil {
		s, err := readSecret(ctx, reader, ns, ref.Name, "spec.secretRef")
		if err != nil {
			return a, err
		}
		basic, err := credential(repo.Spec.URL, s)
		if err != nil {
			return a, err
		}
		a.BasicAuth = basic
	}
	return a, nil
}

// credential is KeychainFromSecret's: the docker config entry for the
// registry's host, or the Secret's username and password; none at all is
// anonymous.
func credential(registryURL string, s *corev1.Secret) (*verify.BasicAuth, error) {
	u, err := url.Parse(registryURL)
	if err != nil {
		return nil, &verify.SettingsError{Message: fmt.Sprintf("unable to parse registry URL '%s' while reconciling Secret '%s'", registryURL, s.Name)}
	}
	var user, pass string
	if s.Type == corev1.SecretTypeDockerConfigJson {
		if user, pass, err = dockerConfigEntry(s.Data[corev1.DockerConfigJsonKey], u.Host); err != nil {
			return nil, &verify.SettingsError{Message: fmt.Sprintf("%s from the docker-registry Secret '%s'", err.Error(), s.Name)}
		}
	} else {
		user, pass = string(s.Data["username"]), string(s.Data["password"])
	}
	switch {
	case user == "" && pass == "":
		return nil, nil
	case user == "" || pass == "":
		return nil, &verify.SettingsError{Message: fmt.Sprintf("invalid '%s' secret data: required fields 'username' and 'password'", s.Name)}
	}
	return &verify.BasicAuth{Username: user, Password: pass}, nil
}

// dockerConfigEntry finds host's entry as the docker CLI's file store does:
// keys compared after dropping a scheme and a path.
func dockerConfigEntry(raw []byte, host string) (user, pass string, err error) {
	var cfg struct {
		Auths map[string]struct {
			Username, Password, Auth string
		} `json:"auths"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		// Never quote the content: it is a credential.
		return "", "", fmt.Errorf("unable to load the docker config")
	}
	for key, e := range cfg.Auths {
		if hostname(key) != host {
			continue
		}
		if e.Auth != "" {
			dec, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return "", "", fmt.Errorf("unable to decode the auth of '%s'", host)
			}
			u, p, _ := strings.Cut(string(dec), ":")
			return u, p, nil
		}
		return e.Username, e.Password, nil
	}
	return "", "", fmt.Errorf("no auth config for '%s'", host)
}

// hostname is the docker CLI's ConvertToHostname.
func hostname(key string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(key, "http://"), "https://")
	h, _, _ = strings.Cut(h, "/")
	return h
}

func readSecret(ctx context.Context, reader client.Reader, ns, name, field string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &verify.SettingsError{Message: fmt.Sprintf("Secret %s/%s (%s of the HelmRepository) not found", ns, name, field)}
		}
		return nil, fmt.Errorf("reading Secret %s/%s: %w", ns, name, err)
	}
	return &s, nil
}
