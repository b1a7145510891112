// Package acceptor is the plumbing every bill acceptor driver (devices/ccnet,
// devices/id003) has alike, whatever protocol it speaks: handing events to
// the reader without ever dropping one on Close, the faults a unit has now,
// the last errors Info shows, and the loop that keeps reaching a unit that
// went away. What a protocol says and how (frames, states, the start-up
// handshake, escrow decisions) stays in each driver; a fix to what is shared
// is made here once.
package acceptor
