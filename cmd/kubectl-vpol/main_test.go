package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/commands"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

// result is one run of kubectl vpol.
type result struct {
	code           int
	stdout, stderr string
}

// vpol runs the command line in this process, through the same entry
// point as the binary, with captured output.
func vpol(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code := commands.Run(ctx, args, strings.NewReader(""), &out, &errOut, commands.Build{Version: "test", Commit: "0000000"})
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// golden compares a run with testdata/<name>.golden, or rewrites it with
// -update. replace maps volatile strings (temporary folders, ports) to
// stable names, in the arguments and the output alike.
func golden(t *testing.T, name string, r result, args []string, replace map[string]string) {
	t.Helper()
	text := "$ kubectl vpol " + strings.Join(args, " ") + "\n" +
		"exit code: " + strconv.Itoa(r.code) + "\n" +
		"--- stdout\n" + r.stdout +
		"--- stderr\n" + r.stderr
	for from, to := range replace {
		text = strings.ReplaceAll(text, from, to)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	NewWithT(t).Expect(text).To(Equal(string(want)), "output differs from %s; rerun with -update if the change is intended", path)
}
