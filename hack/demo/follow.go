package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/helmcharts"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
)

// follow prints the header, then a row whenever what the table shows
// changes, until the goal is reached; then each team's verdict. Watches on
// the policy and its Secrets only signal that something changed; each
// signal triggers a fresh read, so a coalesced or missed event cannot leave
// a stale row. It fails when the manager exits or after stepTimeout.
func (t *table) follow(ctx context.Context, d *demo, g goal) (snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	changed := make(chan struct{}, 1)
	go notify(ctx, d.k8s, changed, &v1alpha1.VerificationPolicyList{}, client.MatchingFields{"metadata.name": t.policy})
	go notify(ctx, d.k8s, changed, &corev1.SecretList{}, client.MatchingLabels{v1alpha1.PolicyLabel: t.policy})
	go notify(ctx, d.k8s, changed, ocirepos.NewList())
	go notify(ctx, d.k8s, changed, helmcharts.NewList())

	d.printf("%s\n", t.header())
	var last string
	for {
		snap, err := readSnapshot(ctx, d.k8s, t.policy)
		if err != nil {
			return snap, err
		}
		if row := t.row(snap); row != last {
			d.printf("%s\n", row)
			last = row
		}
		if g.reached(snap) {
			if g.artifacts {
				for _, team := range teams {
					d.printf("    %-12s %-14s the operator: %-28s Flux: %s\n", team+"/"+ociRepositoryName, kindOf(team), snap.verdict(team), snap.flux[team])
				}
				d.printf("    %s\n", snap.verdicts)
			}
			return snap, nil
		}
		select {
		case <-changed:
		case <-d.manager.Done():
			return snap, fmt.Errorf("the manager exited (code %d); its log ends with:\n%s", d.manager.ExitCode(), d.manager.LogTail(20))
		case <-ctx.Done():
			return snap, fmt.Errorf("gave up after %s waiting for %s", stepTimeout, g)
		}
	}
}

// notify signals changed (without blocking: one pending signal is enough)
// on every event of a watch on list, re-opening the watch when the API
// server ends it, until ctx is done.
func notify(ctx context.Context, c client.WithWatch, changed chan<- struct{}, list client.ObjectList, opts ...client.ListOption) {
	for ctx.Err() == nil {
		w, err := c.Watch(ctx, list, opts...)
		if err != nil {
			// Back off briefly; follow's read reports lasting API errors.
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		for range w.ResultChan() {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
		w.Stop()
	}
}
