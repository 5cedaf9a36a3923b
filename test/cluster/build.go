package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// buildTimeout bounds a cold build of the manager on two shared cores.
const buildTimeout = 10 * time.Minute

// ManagerBinary is where `make build` puts the manager.
func ManagerBinary() string {
	return filepath.Join(testenv.RepoRoot(), "bin", "manager")
}

// BuildManager builds ManagerBinary from ./cmd with the flags `make build`
// uses (CGO_ENABLED=0, -trimpath, the same version stamp). Identical flags
// matter beyond fidelity: go build leaves a binary alone when it was built
// from the same inputs, so the tests, the demo and make build do not
// relink it for each other.
func BuildManager(ctx context.Context) (string, error) {
	return build(ctx, "./cmd", ManagerBinary())
}

// CLIBinary is where `make build` puts kubectl vpol.
func CLIBinary() string {
	return filepath.Join(testenv.RepoRoot(), "bin", "kubectl-vpol")
}

// BuildCLI builds CLIBinary from ./cmd/kubectl-vpol as BuildManager builds
// the manager, with the flags `make build` uses.
func BuildCLI(ctx context.Context) (string, error) {
	return build(ctx, "./cmd/kubectl-vpol", CLIBinary())
}

func build(ctx context.Context, pkg, out string) (string, error) {
	root := testenv.RepoRoot()
	version, err := makefileVersion(root)
	if err != nil {
		return "", err
	}
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s", version, gitCommit(ctx, root))

	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, output)
	}
	return out, nil
}

var versionLine = regexp.MustCompile(`(?m)^VERSION \?= *(\S+)\s*$`)

// makefileVersion is $(VERSION) as make sees it: the environment wins over
// the Makefile's `VERSION ?=` default.
func makefileVersion(root string) (string, error) {
	if v := os.Getenv("VERSION"); v != "" {
		return v, nil
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return "", err
	}
	m := versionLine.FindSubmatch(makefile)
	if m == nil {
		return "", fmt.Errorf("no `VERSION ?= ...` line in %s/Makefile", root)
	}
	return string(m[1]), nil
}

// gitCommit is $(GIT_COMMIT): the short HEAD, or "unknown" outside git.
func gitCommit(ctx context.Context, root string) string {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	if cmd.Run() != nil {
		return "unknown"
	}
	return strings.TrimSpace(out.String())
}
