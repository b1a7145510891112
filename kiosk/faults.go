package kiosk

// Faults lists every acceptor fault a driver can report, so that a monitor
// can export each from the start (0 while clear) instead of only the ones
// seen. TestFaultsListsEveryFault keeps it complete.
func Faults() []Fault {
	return []Fault{
		FaultCassetteFull, FaultCassetteRemoved, FaultJammed, FaultCassetteJammed,
		FaultCheated, FaultPause, FaultFailure, FaultDisconnected,
	}
}
