package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// table prints the policy's progress as rows of a fixed-width table, one
// row per visible change, in the spirit of kubectl get -w.
type table struct {
	policy     string
	namespaces []string
}

func newTable(policy string, namespaces []string) *table {
	return &table{policy: policy, namespaces: namespaces}
}

// The first columns are kubectl get vpol's; digests show as 8 hex digits.
var columns = []struct {
	title string
	width int
}{{"READY", 9}, {"NAMESPACES", 12}, {"VERIFIED", 10}, {"FAILED", 8}, {"DIGEST", 10}}

func (t *table) header() string {
	var cells []string
	for _, c := range columns {
		cells = append(cells, pad(c.title, c.width))
	}
	for _, ns := range t.namespaces {
		cells = append(cells, pad(ns, nsWidth(ns)))
	}
	return "    " + strings.TrimRight(strings.Join(cells, ""), " ")
}

func (t *table) row(s snapshot) string {
	verified, failed := "", ""
	if s.artifacts {
		verified, failed = fmt.Sprint(s.counts.Verified), fmt.Sprint(s.counts.Failed)
	}
	values := []string{s.ready, s.summary, verified, failed, hex8(s.digest)}
	var cells []string
	for i, c := range columns {
		cells = append(cells, pad(orDash(values[i]), c.width))
	}
	for _, ns := range t.namespaces {
		cell := orDash(hex8(s.secrets[ns]))
		if mark := s.mark(ns); mark != "" {
			cell += " " + mark
		}
		cells = append(cells, pad(cell, nsWidth(ns)))
	}
	return "    " + strings.TrimRight(strings.Join(cells, ""), " ")
}

// hex8 is the first 8 hex digits of a digest, "" for none.
func hex8(digest string) string {
	if _, h, ok := strings.Cut(digest, ":"); ok && len(h) >= 8 {
		return h[:8]
	}
	return digest
}

// nsWidth fits the name, or a short digest and the two verdict marks.
func nsWidth(ns string) int { return max(len(ns), 18) + 2 }

// pad pads to width runes (the marks are multi-byte).
func pad(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-utf8.RuneCountInString(s)))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
