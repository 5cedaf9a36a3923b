package cluster

import (
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// APIProxy stands between one client process and the API server and
// records every request that process makes. Give each process its own proxy
// to tell the processes apart: they otherwise look the same to the API
// server (same user, same user agent, same field manager).
//
// The proxy listens on loopback with TLS and forwards every request with
// the upstream configuration's credentials, so a process that uses
// WriteKubeconfig has exactly the permissions of the upstream user (for
// example a ServiceAccount, impersonated as WriteImpersonatingKubeconfig
// does), and no credentials of its own.
type APIProxy struct {
	server *httptest.Server

	mu       sync.Mutex
	requests []*APIRequest
}

// APIRequest is one request that went through an APIProxy.
type APIRequest struct {
	// Start is when the proxy received the request.
	Start time.Time
	// Method and Path are the HTTP method and URL path.
	Method, Path string
	// Verb is the Kubernetes verb: get, list, watch, create, update,
	// patch, delete or deletecollection; for a non-resource path (/api,
	// /version, ...) the lowercase HTTP method.
	Verb string
	// Group, Resource, Subresource, Namespace and Name locate the object;
	// Resource is empty for a non-resource path.
	Group, Resource, Subresource, Namespace, Name string
	// Code is the HTTP status returned, 0 until the API server answers,
	// http.StatusBadGateway when it was not reached.
	Code int
}

// IsWrite reports whether the request asked to change something. Access
// reviews (authorization.k8s.io, such as the manager's startup check of its
// own RBAC) are POSTs that store nothing: questions, not writes.
func (r APIRequest) IsWrite() bool {
	switch {
	case r.Method == http.MethodGet, r.Method == http.MethodHead, r.Method == http.MethodOptions:
		return false
	case r.Group == "authorization.k8s.io":
		return false
	}
	return true
}

// Succeeded reports whether the API server answered with a 2xx status.
func (r APIRequest) Succeeded() bool { return r.Code >= 200 && r.Code < 300 }

// StartAPIProxy starts a proxy to the API server upstream describes.
func StartAPIProxy(upstream *rest.Config) (*APIProxy, error) {
	target, err := url.Parse(strings.TrimSuffix(upstream.Host, "/"))
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(upstream)
	if err != nil {
		return nil, err
	}
	p := &APIProxy{}
	forward := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: transport,
		// Watches stream: pass each event on as it arrives.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			// The API server is unreachable or the client went away.
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := p.record(req)
		forward.ServeHTTP(&statusWriter{ResponseWriter: w, set: func(code int) {
			p.mu.Lock()
			rec.Code = code
			p.mu.Unlock()
		}}, req)
	}))
	p.server.EnableHTTP2 = true
	// Clients that die mid-handshake are expected here (SIGKILL).
	p.server.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.server.StartTLS()
	return p, nil
}

// URL is the proxy's address, https://127.0.0.1:<port>.
func (p *APIProxy) URL() string { return p.server.URL }

// WriteKubeconfig writes a kubeconfig that reaches the API server through
// the proxy. It holds no credentials: the proxy adds them.
func (p *APIProxy) WriteKubeconfig(path string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["proxy"] = &clientcmdapi.Cluster{
		Server: p.server.URL,
		CertificateAuthorityData: pem.EncodeToMemory(&pem.Block{
			Type: "CERTIFICATE", Bytes: p.server.Certificate().Raw,
		}),
	}
	cfg.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy"}
	cfg.CurrentContext = "proxy"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return writeFile(path, data)
}

// Requests returns a copy of the requests recorded so far, in the order
// they arrived.
func (p *APIProxy) Requests() []APIRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]APIRequest, len(p.requests))
	for i, r := range p.requests {
		out[i] = *r
	}
	return out
}

// Close stops the proxy, cutting the connections of a client still using it.
func (p *APIProxy) Close() {
	p.server.CloseClientConnections()
	p.server.Close()
}

func (p *APIProxy) record(req *http.Request) *APIRequest {
	rec := parseRequest(req)
	rec.Start = time.Now()
	p.mu.Lock()
	p.requests = append(p.requests, rec)
	p.mu.Unlock()
	return rec
}

// parseRequest reads what a request is about from its path, the way the
// API server does for the paths client-go uses:
// /api/v1/[namespaces/<ns>/]<resource>[/<name>[/<subresource>]] and
// /apis/<group>/<version>/..., the same.
func parseRequest(req *http.Request) *APIRequest {
	r := &APIRequest{Method: req.Method, Path: req.URL.Path, Verb: strings.ToLower(req.Method)}
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		r.Group, rest = parts[1], parts[3:]
	default:
		return r // discovery, /version, /healthz, ...
	}
	// namespaces/<ns>/<resource>... is namespaced; namespaces[/<name>]
	// alone is the Namespace resource itself.
	if len(rest) >= 3 && rest[0] == "namespaces" {
		r.Namespace, rest = rest[1], rest[2:]
	}
	r.Resource = rest[0]
	if len(rest) > 1 {
		r.Name = rest[1]
	}
	if len(rest) > 2 {
		r.Subresource = rest[2]
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		switch w := req.URL.Query().Get("watch"); {
		case w == "true" || w == "1":
			r.Verb = "watch"
		case r.Name == "":
			r.Verb = "list"
		default:
			r.Verb = "get"
		}
	case http.MethodPost:
		r.Verb = "create"
	case http.MethodPut:
		r.Verb = "update"
	case http.MethodPatch:
		r.Verb = "patch"
	case http.MethodDelete:
		r.Verb = "delete"
		if r.Name == "" {
			r.Verb = "deletecollection"
		}
	}
	return r
}

// statusWriter reports the status code as soon as it is written, so a
// watch is recorded as answered while it streams; Unwrap lets the reverse
// proxy flush watch events through it.
type statusWriter struct {
	http.ResponseWriter
	set   func(code int)
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		w.set(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
