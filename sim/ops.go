package sim

import "sync"

// Op names one kind of atomic step ("volume_create", "R1", "agent ensure").
// Ops are registered once, at package init, so a trace stores a small
// integer and the name table is the same in every process.
type Op uint16

// Outcome is the result code of one atomic step. 0 is OutOK; a model
// registers its own codes.
type Outcome uint16

const (
	OpNone  Op = 0 // never executed; a freshly spawned actor's first resume
	OpStart Op = 1 // an actor's prelude (pure computation up to its first step)

	OutOK Outcome = 0
)

var (
	regMu        sync.Mutex
	opNames      = []string{"-", "start"}
	outcomeNames = []string{"ok"}
	// opHashes and outcomeHashes are stable hashes of the names. The trace
	// hash uses them, not the registration-order numbers, so a run hashes
	// the same in every binary whatever packages it links.
	opHashes      = []uint64{nameHash("-"), nameHash("start")}
	outcomeHashes = []uint64{nameHash("ok")}
	opReadOnly    = []bool{true, true}
)

// nameHash is FNV-1a 64 of a name.
func nameHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// RegisterOp returns the Op for name, registering it on first use. Call it
// from package-level var initialisers only: the registry is read without a
// lock during runs.
func RegisterOp(name string) Op {
	regMu.Lock()
	defer regMu.Unlock()
	for i, n := range opNames {
		if n == name {
			return Op(i)
		}
	}
	opNames = append(opNames, name)
	opHashes = append(opHashes, nameHash(name))
	opReadOnly = append(opReadOnly, false)
	return Op(len(opNames) - 1)
}

// RegisterReadOp is RegisterOp for an operation that changes no state
// (a query, a lookup, starting an actor). Oracles may skip state checks
// after such a step; marking a writing operation read-only would hide
// violations, so only pure reads use it.
func RegisterReadOp(name string) Op {
	op := RegisterOp(name)
	regMu.Lock()
	opReadOnly[op] = true
	regMu.Unlock()
	return op
}

// ReadOnly reports whether op was registered with RegisterReadOp.
func (o Op) ReadOnly() bool { return int(o) < len(opReadOnly) && opReadOnly[o] }

// RegisterOutcome returns the Outcome for name, registering it on first use.
// Same rules as RegisterOp.
func RegisterOutcome(name string) Outcome {
	regMu.Lock()
	defer regMu.Unlock()
	for i, n := range outcomeNames {
		if n == name {
			return Outcome(i)
		}
	}
	outcomeNames = append(outcomeNames, name)
	outcomeHashes = append(outcomeHashes, nameHash(name))
	return Outcome(len(outcomeNames) - 1)
}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "op?"
}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome?"
}

// ActorKind says what an actor stands for. It is part of the trace and of
// swarm profiles.
type ActorKind uint8

const (
	KindSaga ActorKind = iota // a saga execution (its executor)
	KindNode                  // one running saga node (parallel siblings interleave)
	KindTask                  // a background-task activation
	KindUser                  // a user API request
	KindEnv                   // an environment or operator action, or the workload driver
	KindTest                  // test and toy programs
	numActorKinds
)

var actorKindNames = [numActorKinds]string{"saga", "node", "task", "user", "env", "test"}

func (k ActorKind) String() string {
	if k < numActorKinds {
		return actorKindNames[k]
	}
	return "kind?"
}
