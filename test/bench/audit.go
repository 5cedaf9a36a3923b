package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// auditLog reads the API server's audit log, which holds one line per
// mutating request of a measured system (see auditPolicy).
type auditLog struct {
	path   string
	mu     sync.Mutex
	offset int64
	events []auditEvent
}

type auditEvent struct {
	user, verb, resource string
	at                   time.Time
	code                 int
}

// The fields of audit.k8s.io/v1 Event the harness needs.
type rawAuditEvent struct {
	Stage string `json:"stage"`
	Verb  string `json:"verb"`
	User  struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
}

// sync reads the lines appended since the last call.
func (a *auditLog) sync() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := os.Open(a.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(a.offset, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			break // a partial line is read again next time
		}
		if err != nil {
			return err
		}
		a.offset += int64(len(line))
		var ev rawAuditEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		if ev.Stage != "ResponseComplete" {
			continue
		}
		e := auditEvent{user: ev.User.Username, verb: ev.Verb, at: ev.RequestReceivedTimestamp}
		if ev.ObjectRef != nil {
			e.resource = ev.ObjectRef.Resource
			if ev.ObjectRef.Subresource != "" {
				e.resource += "/" + ev.ObjectRef.Subresource
			}
		}
		if ev.ResponseStatus != nil {
			e.code = ev.ResponseStatus.Code
		}
		a.events = append(a.events, e)
	}
	return nil
}

// writeCount is what one user wrote in a time window.
type writeCount struct {
	total int
	// byKind counts "verb resource" pairs, e.g. "create secrets".
	byKind map[string]int
	// firstSecret is when the first Secret write was received.
	firstSecret time.Time
	// reviews counts access reviews: creates that ask the API server a
	// question and store nothing (the manager checks its Secret access at
	// start-up). They are not in total.
	reviews int
}

// reviewResources are created to ask, not to store.
var reviewResources = map[string]bool{
	"selfsubjectaccessreviews": true, "selfsubjectrulesreviews": true, "subjectaccessreviews": true,
	"localsubjectaccessreviews": true, "tokenreviews": true, "selfsubjectreviews": true,
}

func (w writeCount) String() string {
	reviews := ""
	if w.reviews > 0 {
		reviews = fmt.Sprintf(" (+%d access reviews, which store nothing)", w.reviews)
	}
	if w.total == 0 {
		return "0" + reviews
	}
	keys := make([]string, 0, len(w.byKind))
	for k := range w.byKind {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if w.byKind[keys[i]] != w.byKind[keys[j]] {
			return w.byKind[keys[i]] > w.byKind[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", w.byKind[k], k)
	}
	return fmt.Sprintf("%d (%s)%s", w.total, strings.Join(parts, ", "), reviews)
}

// writes counts user's mutating requests received in [from, to]. The audit
// timestamps have microsecond precision; a little slack at both ends keeps
// requests at the edges.
func (a *auditLog) writes(user string, from, to time.Time) (writeCount, error) {
	// Blocking audit mode writes the line before the response is sent, but
	// give the file a moment anyway.
	time.Sleep(200 * time.Millisecond)
	if err := a.sync(); err != nil {
		return writeCount{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	from, to = from.Add(-5*time.Millisecond), to.Add(5*time.Millisecond)
	wc := writeCount{byKind: map[string]int{}}
	for _, e := range a.events {
		if e.user != user || e.at.Before(from) || e.at.After(to) {
			continue
		}
		if e.verb == "create" && reviewResources[e.resource] {
			wc.reviews++
			continue
		}
		wc.total++
		wc.byKind[e.verb+" "+e.resource]++
		if e.resource == "secrets" && (wc.firstSecret.IsZero() || e.at.Before(wc.firstSecret)) {
			wc.firstSecret = e.at
		}
	}
	return wc, nil
}
