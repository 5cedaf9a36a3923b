// Package discovery tells the reconcilers which optional APIs (Flux's
// OCIRepository, ...) the API server serves, and wires watches on them the
// moment they appear, so the manager starts on clusters without Flux and
// picks Flux up without a restart.
//
// One APIs object is created in setup and shared by every reconciler, so
// they agree on what is served. Until the first look (just after the
// manager starts) an API's state is Unknown: callers that would act
// differently on "served" and "not served" (the rollout gates) wait, rather
// than guessing.
package discovery
