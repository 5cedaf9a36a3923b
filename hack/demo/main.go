// Command demo shows verification-operator doing its job, start to finish,
// on a machine with nothing but Go: a real kube-apiserver and etcd on
// 127.0.0.1, the operator's CRD and RBAC from config/default, and
// bin/manager running as its own process under its ServiceAccount, exactly
// as the end-to-end tests run it (both use test/cluster).
//
// Run it with `make demo`. Its prerequisites (make envtest flux) compile
// kube-apiserver, etcd and Flux's source-controller from the Go module
// proxy once and cache them under bin/k8s/ and bin/flux/; the demo itself
// builds bin/manager and bin/kubectl-vpol (no-ops when up to date). Files go
// to bin/demo/: kubeconfig (cluster admin), manager.kubeconfig (the
// operator's ServiceAccount), manager.log, control-plane.log,
// source-controller.log and source-controller-storage/ (Flux's artifact
// storage).
//
// Environment:
//
//	DEMO_KEEP=1          keep everything running after the demo, until Ctrl-C
//	DEMO_PROBE_ADDR=...  the manager's /healthz and /readyz address (default 127.0.0.1:8081)
//
// Exit codes: 0 when every step succeeded, 1 when one failed, 130 when
// interrupted. Whatever happens, the processes it started are stopped.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	d := &demo{
		out:       os.Stdout,
		dir:       filepath.Join(testenv.RepoRoot(), "bin", "demo"),
		keep:      os.Getenv("DEMO_KEEP") == "1",
		probeAddr: envOr("DEMO_PROBE_ADDR", "127.0.0.1:8081"),
	}
	err := d.run(ctx)
	d.cleanUp()
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "demo: interrupted; the manager and the control plane are stopped")
		if d.keep && err == nil {
			return 0 // with DEMO_KEEP, Ctrl-C is the way out
		}
		return 130
	case err != nil:
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		var stepErr *stepError
		if errors.As(err, &stepErr) {
			fmt.Fprintf(os.Stderr, "demo: logs are in %s\n", d.rel(d.dir))
		}
		return 1
	}
	return 0
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
