package ccnettest

import "tolem/devices/acceptor/acceptortest"

// persisted is what a unit keeps through a power cut: the bill in its path
// (the mechanics do not move without power), the credit it still has to
// report, the cassette's content and condition.
type persisted struct {
	acceptortest.Box
	BillType int    `json:"bill_type"`
	BillStep string `json:"bill_step,omitempty"`
	Recover  int    `json:"recover"`
}

func readPersisted(path string) (*persisted, error) {
	p := &persisted{Recover: -1, BillType: -1}
	if ok, err := acceptortest.ReadState(path, "cassette", p); err != nil || !ok {
		return nil, err
	}
	return p, nil
}
