// Command bundlegen writes the OLM bundle (registry+v1) of the operator from
// its kustomize configuration, the way `operator-sdk generate bundle` does,
// for a tree where operator-sdk is not available:
//
//	go run ./hack/bundlegen --version 0.1.0 --image ghcr.io/org/op:v0.1.0 --output bundle
//
// It builds config/manifests with the kustomize Go API, moves the Deployment
// and the RBAC bound to its ServiceAccount into the ClusterServiceVersion's
// install strategy, and writes <output>/manifests, <output>/metadata and,
// next to <output>, bundle.Dockerfile. The output depends on the input files
// and flags only (no timestamps, no map order), so a committed bundle is
// checked for staleness by regenerating it and comparing bytes.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/blang/semver/v4"
)

func main() {
	var o options
	flag.StringVar(&o.input, "input", "config/manifests", "kustomization directory holding the CSV base, the operator and its samples")
	flag.StringVar(&o.icon, "icon", "config/manifests/icon.svg", "SVG icon of the operator")
	flag.StringVar(&o.output, "output", "bundle", "bundle directory; bundle.Dockerfile is written next to it")
	flag.StringVar(&o.version, "version", "", "operator version (semver, without a leading v)")
	flag.StringVar(&o.image, "image", "", "manager image, set on the manager container and in relatedImages")
	flag.StringVar(&o.pkg, "package", "verification-operator", "OLM package name")
	flag.StringVar(&o.channels, "channels", "alpha", "comma-separated channels of this bundle")
	flag.StringVar(&o.defaultChannel, "default-channel", "alpha", "default channel of the package")
	flag.Parse()

	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bundlegen:", err)
		os.Exit(1)
	}
}

type options struct {
	input, icon, output string
	version, image      string
	pkg, channels       string
	defaultChannel      string
}

func run(o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	objs, err := kustomizeBuild(o.input)
	if err != nil {
		return err
	}
	icon, err := os.ReadFile(o.icon)
	if err != nil {
		return err
	}
	b, err := assemble(objs, o, icon)
	if err != nil {
		return err
	}
	return b.write(o)
}

func (o options) validate() error {
	if _, err := semver.Parse(o.version); err != nil {
		return fmt.Errorf("--version %q: %w", o.version, err)
	}
	if o.image == "" {
		return fmt.Errorf("--image is required")
	}
	if o.pkg == "" || o.channels == "" {
		return fmt.Errorf("--package and --channels are required")
	}
	for _, c := range strings.Split(o.channels, ",") {
		if c == o.defaultChannel {
			return nil
		}
	}
	return fmt.Errorf("--default-channel %q is not one of --channels %q", o.defaultChannel, o.channels)
}
