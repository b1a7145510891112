package kiosk

import (
	"fmt"
	"strings"
)

// ChainHead is where a ledger's hash chain stands: how many entries it holds
// and the hash of the last one. The bank keeps the heads a kiosk reports; a
// ledger whose chain no longer leads to a head the bank saw was rewritten.
type ChainHead struct {
	Count int64 `json:"count"`
	// Head is the lowercase hex SHA-256 of the last entry; empty when Count
	// is 0.
	Head string `json:"head"`
}

// ChainBreak is one place where a ledger disagrees with its hash chain.
type ChainBreak struct {
	// Seq is the chain entry at fault, or the last entry of the row at fault;
	// 0 for a row the chain never saw.
	Seq int64 `json:"seq,omitempty"`
	// Table and RowID name the ledger row ("bills", "s1/2").
	Table string `json:"table,omitempty"`
	RowID string `json:"row_id,omitempty"`
	// Field is the column that differs, when one does.
	Field string `json:"field,omitempty"`
	// Chain is what the chain recorded, Row what the table holds now.
	Chain string `json:"chain,omitempty"`
	Row   string `json:"row,omitempty"`
	// What says what is wrong, in a sentence.
	What string `json:"what"`
}

// String names the row, the field and both values.
func (b ChainBreak) String() string {
	var s strings.Builder
	if b.Table != "" {
		fmt.Fprintf(&s, "%s %s: ", b.Table, b.RowID)
	} else if b.Seq > 0 {
		fmt.Fprintf(&s, "chain entry %d: ", b.Seq)
	}
	s.WriteString(b.What)
	if b.Field != "" {
		fmt.Fprintf(&s, " (%s: chain has %s, row has %s)", b.Field, b.Chain, b.Row)
	}
	return s.String()
}

// ChainReport is the outcome of walking a ledger's hash chain.
type ChainReport struct {
	Head ChainHead `json:"head"`
	// Rows counts the ledger rows checked against the chain, by table.
	Rows map[string]int `json:"rows"`
	// Breaks lists the first problems found, the first one first; empty when
	// the ledger is intact.
	Breaks []ChainBreak `json:"breaks"`
	// More is set when there were more problems than Breaks lists.
	More bool `json:"more,omitempty"`
}

// OK says whether every entry and every row checked out.
func (r ChainReport) OK() bool { return len(r.Breaks) == 0 }
