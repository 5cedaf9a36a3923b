// Package cluster runs the operator the way a cluster runs it, but as local
// processes on loopback: a real kube-apiserver and etcd (the envtest
// binaries), the RBAC that config/default ships, and bin/manager as its own
// process, authenticated as the operator's ServiceAccount. The end-to-end
// tests (test/e2e) and the demo (hack/demo) share it, so the demo shows
// exactly what the tests check.
//
// Nothing here needs Docker, a cluster or network access beyond loopback.
package cluster
