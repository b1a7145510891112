package id003

import "fmt"

// Controller commands (id003.md B.3, B.4). Operation commands are answered
// with ACK, setting commands with their own echo, requests with data.
const (
	CmdStatusRequest = 0x11
	CmdReset         = 0x40
	CmdStack1        = 0x41
	CmdStack2        = 0x42
	CmdReturn        = 0x43
	CmdHold          = 0x44
	CmdWait          = 0x45
	CmdACK           = 0x50

	SetEnable      = 0xC0 // 2-byte denomination bitmap
	SetSecurity    = 0xC1 // 2-byte bitmap
	SetCommMode    = 0xC2 // 0 polling, 1/2 interrupt
	SetInhibit     = 0xC3 // 0 accept bills, 1 inhibit
	SetDirection   = 0xC4 // inhibited insertion directions
	SetOptional    = 0xC5 // 2-byte optional functions
	SetBarcode     = 0xC6
	SetBarInhibit  = 0xC7
	ReqEnable      = 0x80 // 0x80–0x87 read back the C0–C7 settings
	ReqVersion     = 0x88
	ReqBootVersion = 0x89
	ReqCurrency    = 0x8A
)

// Status and answer codes: the first data byte of a unit's frame (B.2).
const (
	StIdling           = 0x11 // ENABLE: waiting for a bill
	StAccepting        = 0x12
	StEscrow           = 0x13 // + denomination code
	StStacking         = 0x14
	StVendValid        = 0x15 // the credit; must be ACKed
	StStacked          = 0x16
	StRejecting        = 0x17 // + reason
	StReturning        = 0x18
	StHolding          = 0x19
	StDisabled         = 0x1A // DISABLE (INHIBIT)
	StInitialize       = 0x1B
	StPowerUp          = 0x40
	StPowerUpAcceptor  = 0x41 // POWER UP WITH BILL IN ACCEPTOR
	StPowerUpStacker   = 0x42 // POWER UP WITH BILL IN STACKER
	StStackerFull      = 0x43
	StStackerOpen      = 0x44
	StJamInAcceptor    = 0x45
	StJamInStacker     = 0x46
	StPause            = 0x47
	StCheated          = 0x48
	StFailure          = 0x49 // + failure code
	StCommError        = 0x4A // the unit got a damaged frame
	StInvalidCommand   = 0x4B
	AnsACK             = 0x50
	ENQ                = 0x05 // interrupt mode only
	DenomFirst         = 0x61
	DenomLast          = 0x68
	DenomBarcodeTicket = 0x6F
)

var stateNames = map[byte]string{
	StIdling:          "idling",
	StAccepting:       "accepting",
	StEscrow:          "escrow",
	StStacking:        "stacking",
	StVendValid:       "vend_valid",
	StStacked:         "stacked",
	StRejecting:       "rejecting",
	StReturning:       "returning",
	StHolding:         "holding",
	StDisabled:        "disabled",
	StInitialize:      "initializing",
	StPowerUp:         "power_up",
	StPowerUpAcceptor: "power_up_bill_in_acceptor",
	StPowerUpStacker:  "power_up_bill_in_stacker",
	StStackerFull:     "stacker_full",
	StStackerOpen:     "stacker_open",
	StJamInAcceptor:   "jam_in_acceptor",
	StJamInStacker:    "jam_in_stacker",
	StPause:           "pause",
	StCheated:         "cheated",
	StFailure:         "failure",
	StCommError:       "communication_error",
	StInvalidCommand:  "invalid_command",
	AnsACK:            "ack",
}

// StateName is the name of a status code, as Info().State shows it.
func StateName(code byte) string {
	if n, ok := stateNames[code]; ok {
		return n
	}
	return fmt.Sprintf("unknown_%02x", code)
}

// isStatus reports whether code is an answer to STATUS REQUEST.
func isStatus(code byte) bool {
	return code >= StIdling && code <= StInitialize || code >= StPowerUp && code <= StInvalidCommand
}

// Reject reasons: the byte after 0x17 REJECTING.
const (
	RejectInsertion  = 0x71
	RejectInhibit    = 0x79 // inhibited denomination, wrong direction, or no answer to ESCROW
	RejectPhotoLevel = 0x78
)

var rejectReasons = map[byte]string{
	0x71: "insertion",
	0x72: "magnetic pattern",
	0x73: "residual bill in the head",
	0x74: "calibration",
	0x75: "conveying",
	0x76: "denomination discrimination",
	0x77: "photo pattern",
	0x78: "photo level",
	0x79: "inhibited denomination or direction",
	0x7A: "unknown",
	0x7B: "operation",
	0x7C: "residual bill at the stacker",
	0x7D: "length",
	0x7E: "photo pattern 2",
	0x7F: "true-bill feature",
}

// RejectReason is the readable reason of a REJECTING status's data byte.
func RejectReason(code byte) string {
	if r, ok := rejectReasons[code]; ok {
		return r
	}
	return fmt.Sprintf("unknown reason 0x%02X", code)
}

var failureCodes = map[byte]string{
	0xA2: "stack motor failure",
	0xA5: "transport motor speed failure",
	0xA6: "transport motor failure",
	0xA8: "solenoid failure",
	0xA9: "PB unit failure",
	0xAB: "cash box not ready",
	0xAF: "validator head removed",
	0xB0: "boot ROM failure",
	0xB1: "external ROM failure",
	0xB2: "RAM failure",
	0xB3: "external ROM write failure",
}

// FailureDetail is the readable text of a FAILURE status's code.
func FailureDetail(code byte) string {
	if r, ok := failureCodes[code]; ok {
		return fmt.Sprintf("%s (0x%02X)", r, code)
	}
	return fmt.Sprintf("failure code 0x%02X", code)
}
