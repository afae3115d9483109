package model

// Agent is the abstract Crucible agent state of every dataset. It is filled
// in by the agent model (ensure and delete semantics, spec 20 §0.4 and
// spec 50 §3).
type Agent struct{}
