// Package docscheck holds tests that keep the developer documentation in
// step with the tree: README.md's package map ("## Development") and the
// package comment of controllers (controllers/setup.go) must name every
// package under controllers/. It has no code of its own and its tests need
// no API server (controllers' own tests start envtest in TestMain, which is
// why these live here).
package docscheck
