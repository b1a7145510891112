// Package acceptortest holds what the bill acceptor emulators (ccnettest,
// id003test) do alike, whatever protocol they speak: the pseudo-terminal they
// are plugged in on, the state file a power cut must not lose, and the power
// cuts themselves; and what the drivers' test suites do alike (Recorder: the
// events a driver emitted, waited for and counted). The protocols' own parts (frames, states, answers) stay in
// each emulator; a fix to what is shared is made here once.
package acceptortest
