package verify

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"oras.land/oras-go/v2/registry/remote/auth"
)

// Flux turns the pull secrets into a keychain with go-containerregistry's
// k8schain.NewFromPullSecrets, resolves it for the repository, and hands the
// first matching entry's username, password, identity token and registry
// token to oras-go. That keychain is a port of the kubelet's credential
// keyring; its module is not on our proxy, so keyring below reproduces its
// matching rules:
//
//   - A key may carry a scheme (dropped), a path (kept, "/v1/" and "/v2/"
//     prefixes dropped), a port (must match exactly) and "*" globs in host
//     labels (one label each; the label count must match).
//   - A key's path must be a string prefix of the repository path.
//   - Keys are tried in reverse lexical order, so longer, more specific keys
//     win over their prefixes; for the same key the first secret wins.
//   - "docker.io" does not match Docker Hub repositories, which are named
//     "index.docker.io/..."; "https://index.docker.io/v1/" does.
type keyring struct {
	index []string
	creds map[string][]dockerAuth
}

// dockerAuth is one "auths" entry of a docker config.
type dockerAuth struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// newKeyring parses .dockerconfigjson values, in precedence order.
func newKeyring(configs [][]byte) (*keyring, error) {
	kr := &keyring{creds: map[string][]dockerAuth{}}
	for i, raw := range configs {
		var cfg struct {
			Auths map[string]dockerAuth `json:"auths"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			// Never quote the content: it is a credential.
			return nil, fmt.Errorf("pull secret %d: invalid docker config JSON", i+1)
		}
		// Sorted only so that duplicate keys within one config behave the
		// same on every run; JSON objects have no order.
		registries := make([]string, 0, len(cfg.Auths))
		for r := range cfg.Auths {
			registries = append(registries, r)
		}
		sort.Strings(registries)
		for _, r := range registries {
			a, err := cfg.Auths[r].decoded()
			if err != nil {
				return nil, fmt.Errorf("pull secret %d, entry %q: %w", i+1, r, err)
			}
			key, err := keyringKey(r)
			if err != nil {
				return nil, fmt.Errorf("pull secret %d, entry %q: %w", i+1, r, err)
			}
			if _, seen := kr.creds[key]; !seen {
				kr.index = append(kr.index, key)
			}
			kr.creds[key] = append(kr.creds[key], a)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(kr.index)))
	return kr, nil
}

// decoded fills Username and Password from the "auth" field, as
// go-containerregistry's AuthConfig does when it reads a docker config.
func (a dockerAuth) decoded() (dockerAuth, error) {
	if a.Auth == "" {
		return a, nil
	}
	dec, err := base64.StdEncoding.DecodeString(a.Auth)
	if err != nil {
		return a, fmt.Errorf("invalid auth field")
	}
	user, pass, ok := strings.Cut(string(dec), ":")
	if !ok {
		return a, fmt.Errorf("auth field must be base64(username:password)")
	}
	a.Username, a.Password, a.Auth = user, pass, ""
	return a, nil
}

// keyringKey normalises a docker config key to "host[:port][/path]".
func keyringKey(registry string) (string, error) {
	value := registry
	if !strings.HasPrefix(value, "https://") && !strings.HasPrefix(value, "http://") {
		value = "https://" + value
	}
	u, err := url.Parse(value)
	if err != nil {
		return "", fmt.Errorf("invalid registry key")
	}
	path := u.Path
	if strings.HasPrefix(path, "/v2/") || strings.HasPrefix(path, "/v1/") {
		path = path[3:]
	}
	if path != "" && path != "/" {
		return u.Host + path, nil
	}
	return u.Host, nil
}

// lookup returns the credential for repository ("host[:port]/path"), or
// false for anonymous access.
func (kr *keyring) lookup(repository string) (dockerAuth, bool) {
	for _, k := range kr.index {
		if keyMatches(k, repository) {
			return kr.creds[k][0], true
		}
	}
	return dockerAuth{}, false
}

func keyMatches(key, target string) bool {
	k, err1 := url.Parse("https://" + key)
	t, err2 := url.Parse("https://" + target)
	if err1 != nil || err2 != nil {
		return false
	}
	kLabels, kPort := hostParts(k.Host)
	tLabels, tPort := hostParts(t.Host)
	if kPort != tPort || len(kLabels) != len(tLabels) || !strings.HasPrefix(t.Path, k.Path) {
		return false
	}
	for i := range kLabels {
		if ok, err := filepath.Match(kLabels[i], tLabels[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

func hostParts(hostport string) (labels []string, port string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	return strings.Split(host, "."), port
}

// credential converts the entry as Flux does for oras-go.
func (a dockerAuth) credential() auth.Credential {
	return auth.Credential{
		Username:     a.Username,
		Password:     a.Password,
		RefreshToken: a.IdentityToken,
		AccessToken:  a.RegistryToken,
	}
}

// secrets returns the values that must never appear in a message.
func (kr *keyring) secrets() []string {
	var out []string
	for _, entries := range kr.creds {
		for _, a := range entries {
			out = append(out, a.Password, a.IdentityToken, a.RegistryToken)
		}
	}
	return out
}
