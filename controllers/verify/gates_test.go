package verify

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestGatesBoundPerHostAndOverall(t *testing.T) {
	g := NewWithT(t)
	gt := newGates(Options{Concurrency: 3, PerRegistryConcurrency: 2, HostBackoff: time.Minute, Now: time.Now})
	ctx := context.Background()

	// Two slots for host a: a third request for a waits...
	a1, err := gt.acquire(ctx, "a")
	g.Expect(err).NotTo(HaveOccurred())
	a2, err := gt.acquire(ctx, "a")
	g.Expect(err).NotTo(HaveOccurred())
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = gt.acquire(short, "a")
	cancel()
	g.Expect(err).To(MatchError(context.DeadlineExceeded))

	// ...without holding a global slot, so host b still gets the last one.
	b1, err := gt.acquire(ctx, "b")
	g.Expect(err).NotTo(HaveOccurred())
	short, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = gt.acquire(short, "c")
	cancel()
	g.Expect(err).To(MatchError(context.DeadlineExceeded), "the global bound holds")

	var wg sync.WaitGroup
	var cErr error
	wg.Go(func() {
		var c1 func()
		if c1, cErr = gt.acquire(ctx, "c"); cErr == nil {
			c1()
		}
	})
	a1() // frees a global slot
	wg.Wait()
	g.Expect(cErr).NotTo(HaveOccurred())
	a2()
	b1()
}

func TestGatesBackOffFromADownHost(t *testing.T) {
	g := NewWithT(t)
	now := time.Now()
	gt := newGates(Options{Concurrency: 2, PerRegistryConcurrency: 1, HostBackoff: time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()

	gt.markDown("a", "connection refused")
	_, err := gt.acquire(ctx, "a")
	var down *hostDownError
	g.Expect(errors.As(err, &down)).To(BeTrue())
	g.Expect(err.Error()).To(ContainSubstring("connection refused"))

	release, err := gt.acquire(ctx, "b")
	g.Expect(err).NotTo(HaveOccurred(), "other hosts are unaffected")
	release()

	now = now.Add(time.Minute)
	release, err = gt.acquire(ctx, "a")
	g.Expect(err).NotTo(HaveOccurred(), "the back-off ends")
	release()

	gt.markDown("a", "timeout")
	gt.markUp("a")
	release, err = gt.acquire(ctx, "a")
	g.Expect(err).NotTo(HaveOccurred(), "an answer ends it early")
	release()
}
