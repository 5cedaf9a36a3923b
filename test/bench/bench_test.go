package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The harness itself needs a control plane and minutes; these check the
// arithmetic it reports with, quickly, as part of `make test`.

func TestAuditLogCountsWritesPerUserInWindow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	lines := `{"kind":"Event","stage":"ResponseComplete","verb":"create","user":{"username":"bench-plain-client"},"objectRef":{"resource":"secrets","namespace":"a"},"responseStatus":{"code":201},"requestReceivedTimestamp":"2026-01-01T00:00:01.000000Z"}
{"kind":"Event","stage":"ResponseComplete","verb":"patch","user":{"username":"bench-verification-operator"},"objectRef":{"resource":"verificationpolicies","subresource":"status"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:02.000000Z"}
{"kind":"Event","stage":"ResponseComplete","verb":"update","user":{"username":"bench-verification-operator"},"objectRef":{"resource":"secrets","namespace":"a"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:03.000000Z"}
{"kind":"Event","stage":"ResponseComplete","verb":"update","user":{"username":"bench-verification-operator"},"objectRef":{"resource":"secrets","namespace":"b"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:09.000000Z"}
{"kind":"Event","stage":"ResponseComp`
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &auditLog{path: path}
	at := func(s int) time.Time { return time.Date(2026, 1, 1, 0, 0, s, 0, time.UTC) }
	wc, err := a.writes(userOurs, at(2), at(5))
	if err != nil {
		t.Fatal(err)
	}
	if wc.total != 2 || wc.byKind["update secrets"] != 1 || wc.byKind["patch verificationpolicies/status"] != 1 {
		t.Errorf("got %s", wc)
	}
	if !wc.firstSecret.Equal(at(3)) {
		t.Errorf("first Secret write at %s, want %s", wc.firstSecret, at(3))
	}
	// The partial last line is read once it is complete.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`lete","verb":"delete","user":{"username":"bench-plain-client"},"objectRef":{"resource":"secrets"},"requestReceivedTimestamp":"2026-01-01T00:00:04.000000Z"}` + "\n")
	_ = f.Close()
	if wc, err = a.writes(userLimit, at(0), at(10)); err != nil || wc.total != 2 {
		t.Errorf("got %s, %v; want 2 writes", wc, err)
	}
}

func TestMedianAndProjection(t *testing.T) {
	ms := []measurement{{d: 3 * time.Second, complete: true}, {d: time.Second, complete: true}, {d: 2 * time.Second, complete: true}}
	if m, _ := median(ms); m.d != 2*time.Second {
		t.Errorf("median %s, want 2s", m.d)
	}
	capped := measurement{d: 10 * time.Second, n: 100, matched: 25}
	if got := capped.projected(); got != 40*time.Second {
		t.Errorf("projected %s, want 40s", got)
	}
	c := &convergence{targets: map[string]bool{}}
	start := time.Unix(0, 0)
	for i := range 100 {
		c.targets[string(rune('a'+i%26))+string(rune('a'+i/26))] = true
	}
	// A burst of 10 at once, then one every 200 ms.
	for i := range 20 {
		at := start
		if i >= 10 {
			at = start.Add(time.Duration(i-9) * 200 * time.Millisecond)
		}
		c.progress = append(c.progress, at)
	}
	// 20 done after 2 s; the remaining 80 at 200 ms each: 18 s in all.
	if got := c.projectFrom(start); got != 18*time.Second {
		t.Errorf("projected %s, want 18s", got)
	}
}

func TestParseOptionMaps(t *testing.T) {
	m, err := parseIntMap("100=3, 1000=1,3000=0")
	if err != nil || m[100] != 3 || m[1000] != 1 || m[3000] != 0 || len(m) != 3 {
		t.Errorf("got %v, %v", m, err)
	}
	if _, err := parseIntMap("100"); err == nil {
		t.Error("want an error for a missing count")
	}
}

func TestParseSampleLabelsAndValues(t *testing.T) {
	s, err := parseSample(`verification_operator_artifact_verifications_total{kind="OCIRepository",outcome="Failed",reason="a, \"quoted\" {reason}"} 3`)
	if err != nil {
		t.Fatal(err)
	}
	if s.name != "verification_operator_artifact_verifications_total" || s.value != 3 || s.labels["reason"] != `a, "quoted" {reason}` || s.labels["outcome"] != "Failed" {
		t.Errorf("got %+v", s)
	}
	if s, err = parseSample("go_goroutines 42"); err != nil || s.value != 42 || len(s.labels) != 0 {
		t.Errorf("got %+v, %v", s, err)
	}
	ms := metricSet{
		{name: "controller_runtime_reconcile_total", labels: map[string]string{"controller": "artifacts", "result": "success"}, value: 2},
		{name: "controller_runtime_reconcile_total", labels: map[string]string{"controller": "artifacts", "result": "error"}, value: 1},
		{name: "controller_runtime_reconcile_total", labels: map[string]string{"controller": "verificationpolicy", "result": "success"}, value: 5},
	}
	if got := ms.reconcileCounts(); got["artifacts"] != 3 || got["verificationpolicy"] != 5 {
		t.Errorf("reconcile counts %v", got)
	}
	if got := ms.sum("controller_runtime_reconcile_total", map[string]string{"result": "success"}); got != 7 {
		t.Errorf("sum %v, want 7", got)
	}
}

func TestParsePprofTop(t *testing.T) {
	out := `File: manager
Type: inuse_space
Showing nodes accounting for 6410.07kB, 71.46% of 8970.20kB total
Showing top 2 nodes out of 120
      flat  flat%   sum%        cum   cum%
 1024.28kB 11.42% 11.42%  1024.28kB 11.42%  k8s.io/apimachinery/pkg/apis/meta/v1.(*ObjectMeta).Unmarshal
  512.16kB  5.71% 17.13%  1536.44kB 17.13%  k8s.io/api/core/v1.(*Secret).Unmarshal (inline)
`
	entries, total, err := parsePprofTop(out)
	if err != nil || len(entries) != 2 {
		t.Fatalf("got %v, %v", entries, err)
	}
	if entries[1].fn != "k8s.io/api/core/v1.(*Secret).Unmarshal (inline)" || entries[1].cum != "1536.44kB" {
		t.Errorf("got %+v", entries[1])
	}
	if got, want := totalBytes(total), int64(9185484); got != want {
		t.Errorf("total %d from %q", got, total)
	}
	if got := parseSize("1.5MB"); got != 3<<19 {
		t.Errorf("1.5MB = %d", got)
	}
}

func TestFitLine(t *testing.T) {
	// y = 20x - 6 through exact points.
	slope, intercept := fitLine([]float64{1, 3, 10}, []float64{14, 54, 194})
	if slope < 19.999 || slope > 20.001 || intercept < -6.001 || intercept > -5.999 {
		t.Errorf("slope %v, intercept %v", slope, intercept)
	}
}

func TestAccessReviewsAreNotWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	lines := `{"stage":"ResponseComplete","verb":"create","user":{"username":"bench-verification-operator"},"objectRef":{"resource":"selfsubjectaccessreviews"},"responseStatus":{"code":201},"requestReceivedTimestamp":"2026-01-01T00:00:01.000000Z"}
{"stage":"ResponseComplete","verb":"create","user":{"username":"bench-verification-operator"},"objectRef":{"resource":"secrets","namespace":"a"},"responseStatus":{"code":201},"requestReceivedTimestamp":"2026-01-01T00:00:02.000000Z"}
`
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &auditLog{path: path}
	wc, err := a.writes(userOurs, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if wc.total != 1 || wc.reviews != 1 || wc.byKind["create secrets"] != 1 {
		t.Errorf("got %s (reviews %d)", wc, wc.reviews)
	}
}
