// Package rollout holds the pure parts of staged rollouts: which stage each
// namespace belongs to, and how the persisted rollout state moves. The
// controller does the I/O; everything here is deterministic so it can be
// tested without a cluster and resumed after a restart from status alone.
package rollout
