package registry

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Hanging is a registry that accepts TCP connections and never answers: the
// failure mode that hurts most, because nothing fails until a timeout does.
type Hanging struct {
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
	done     chan struct{}
}

// NewHanging starts a hanging registry on 127.0.0.1.
func NewHanging() (*Hanging, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &Hanging{ln: ln, done: make(chan struct{})}
	go h.accept()
	return h, nil
}

// StartHanging is NewHanging for tests, closed when the test ends.
func StartHanging(tb testing.TB) *Hanging {
	tb.Helper()
	h, err := NewHanging()
	if err != nil {
		tb.Fatalf("starting hanging registry: %v", err)
	}
	tb.Cleanup(h.Close)
	return h
}

func (h *Hanging) accept() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return // closed
		}
		h.accepted.Add(1)
		h.mu.Lock()
		select {
		case <-h.done:
			_ = c.Close()
		default:
			// Hold the connection: never read, never write.
			h.conns = append(h.conns, c)
		}
		h.mu.Unlock()
	}
}

// Host returns "127.0.0.1:<port>".
func (h *Hanging) Host() string { return h.ln.Addr().String() }

// Accepted returns how many connections were accepted.
func (h *Hanging) Accepted() int64 { return h.accepted.Load() }

// Close stops accepting and drops every held connection.
func (h *Hanging) Close() {
	h.mu.Lock()
	select {
	case <-h.done:
	default:
		close(h.done)
	}
	conns := h.conns
	h.conns = nil
	h.mu.Unlock()
	_ = h.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
}
