package ccnet

// NewTapped is New with callbacks seeing each command as it leaves for the
// wire and each intact answer as it arrives.
func NewTapped(port string, opts *Opts, sent, received func(Frame)) (*Dev, error) {
	return newDev(port, opts, func(l *link) { l.sent, l.received = sent, received })
}
