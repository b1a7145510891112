package id003

// NewTapped is New with callbacks seeing each request as it leaves for the
// wire and each answer the driver takes.
func NewTapped(port string, opts *Opts, sent, received func(Frame)) (*Dev, error) {
	return newDev(port, opts, func(l *link) { l.sent, l.received = sent, received })
}
