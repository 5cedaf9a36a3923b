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
