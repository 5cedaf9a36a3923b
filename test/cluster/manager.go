package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// ManagerManifest is the manifest of the manager's Deployment, relative to
// the repository root. StartManager runs the manager with the args of its
// container, so the process under test is configured as installed.
const ManagerManifest = "config/manager/manager.yaml"

// ManagerConfig says how to run bin/manager.
type ManagerConfig struct {
	// Binary is the manager executable (BuildManager's result).
	Binary string
	// Kubeconfig is passed as --kubeconfig.
	Kubeconfig string
	// TrustNamespace is passed as --trust-namespace.
	TrustNamespace string
	// LogFile receives the manager's stdout and stderr (truncated first).
	LogFile string
	// ProbeAddr is --health-probe-bind-address; empty picks a free
	// loopback port.
	ProbeAddr string
	// Args are extra flags. Each replaces the flag of the same name from
	// the manifest or from the overrides above.
	Args []string
}

// Manager is a running bin/manager process.
type Manager struct {
	*Process
	// Args are the flags it was started with.
	Args []string
}

// StartManager starts the manager as its own process, with the args of the
// manager container in ManagerManifest, so that a flag default drifting from
// what the Deployment passes (or a manifest arg the binary rejects) shows up
// here rather than only in a cluster. These flags are overridden, because
// the manager runs on the test host rather than in a pod:
//
//   - --kubeconfig (not in the manifest): there is no in-cluster config;
//     the kubeconfig authenticates as the ServiceAccount.
//   - --trust-namespace (not in the manifest): the Deployment sets it
//     through POD_NAMESPACE from the downward API; the flag says the same
//     (POD_NAMESPACE is dropped from the inherited environment).
//   - --health-probe-bind-address (:8081 in the manifest): a free loopback
//     port, since managers of one test run side by side on one host.
//   - --metrics-bind-address (:8443 in the manifest): 0, off, for the same
//     reason; metrics authentication has tests of its own.
//   - --leader-elect (on in the manifest): off. Tests start managers one
//     after another and some SIGKILL them or stop the API server: a lease
//     left unreleased would make the next manager wait out its 35 s
//     duration, and an outage past the renew deadline would end the
//     manager. TestOnlyTheLeaderWrites turns it back on through Args.
//   - --log-encoding (not in the manifest): console, so the log tails the
//     tests print are readable.
//
// Any other flag in the manifest is passed as is.
func StartManager(cfg ManagerConfig) (*Manager, error) {
	manifest, err := DeploymentArgs()
	if err != nil {
		return nil, err
	}
	if cfg.ProbeAddr == "" {
		addr, err := FreeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		cfg.ProbeAddr = addr
	}
	overrides := []string{
		"--kubeconfig=" + cfg.Kubeconfig,
		"--trust-namespace=" + cfg.TrustNamespace,
		"--health-probe-bind-address=" + cfg.ProbeAddr,
		"--metrics-bind-address=0",
		"--leader-elect=false",
		"--log-encoding=console",
	}
	args, err := layerFlags(manifest, overrides, cfg.Args)
	if err != nil {
		return nil, err
	}
	// No inherited KUBECONFIG or POD_NAMESPACE: only the flags above count.
	env := EnvWithout(os.Environ(), "KUBECONFIG", "POD_NAMESPACE")
	p, err := startProcess("the manager", cfg.Binary, args, env, cfg.LogFile, cfg.ProbeAddr, false)
	if err != nil {
		return nil, fmt.Errorf("the manager: %w", err)
	}
	return &Manager{Process: p, Args: args}, nil
}

// DeploymentArgs returns the args of the "manager" container of the
// Deployment in ManagerManifest.
func DeploymentArgs() ([]string, error) {
	path := filepath.Join(testenv.RepoRoot(), ManagerManifest)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var found []*appsv1.Deployment
	for {
		d := &appsv1.Deployment{}
		if err := dec.Decode(d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", ManagerManifest, err)
		}
		if d.Kind == "Deployment" {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%s has %d Deployments, want exactly the manager's", ManagerManifest, len(found))
	}
	for _, c := range found[0].Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			return c.Args, nil
		}
	}
	return nil, fmt.Errorf("%s: Deployment %s has no container named manager", ManagerManifest, found[0].Name)
}

// layerFlags concatenates layers of --name[=value] flags, dropping from
// each layer the flags a later layer sets: every flag then appears once,
// from the last layer that names it. Appending alone would not do: pflag
// lets the last of a repeated scalar flag win, but appends the values of a
// repeated slice flag such as --target-secret-names.
func layerFlags(layers ...[]string) ([]string, error) {
	names := make([][]string, len(layers))
	for i, layer := range layers {
		for _, arg := range layer {
			name, ok := flagName(arg)
			if !ok {
				return nil, fmt.Errorf("manager arg %q: want --name or --name=value (a value in a separate arg is not supported)", arg)
			}
			names[i] = append(names[i], name)
		}
	}
	setLater := func(i int, name string) bool {
		for _, later := range names[i+1:] {
			for _, n := range later {
				if n == name {
					return true
				}
			}
		}
		return false
	}
	var out []string
	for i, layer := range layers {
		for j, arg := range layer {
			if !setLater(i, names[i][j]) {
				out = append(out, arg)
			}
		}
	}
	return out, nil
}

func flagName(arg string) (string, bool) {
	rest, ok := strings.CutPrefix(arg, "--")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "=")
	return name, name != "" && !strings.HasPrefix(name, "-")
}
