package id003test

import "tolem/devices/acceptor/acceptortest"

// persisted is what a unit keeps through a power cut: the bill in its path
// (the mechanics do not move without power), the bill it found in the
// stacker and has not reported yet, the cash box's content and condition.
type persisted struct {
	acceptortest.Box
	Returned int    `json:"returned"`
	BillCode byte   `json:"bill_code,omitempty"`
	BillStep string `json:"bill_step,omitempty"`
	Recover  byte   `json:"recover,omitempty"`
}

func readPersisted(path string) (*persisted, error) {
	p := &persisted{}
	if ok, err := acceptortest.ReadState(path, "cash box", p); err != nil || !ok {
		return nil, err
	}
	return p, nil
}
