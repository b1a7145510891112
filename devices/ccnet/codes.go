package ccnet

import "fmt"

// Controller commands to a bill validator (ccnet.md A.6).
const (
	CmdACK            = 0x00
	CmdNAK            = 0xFF
	CmdReset          = 0x30
	CmdGetStatus      = 0x31
	CmdSetSecurity    = 0x32
	CmdPoll           = 0x33
	CmdEnableBillType = 0x34
	CmdStack          = 0x35
	CmdReturn         = 0x36
	CmdIdentification = 0x37
	CmdHold           = 0x38
	CmdGetBillTable   = 0x41
)

// Answer codes: the first data byte of a validator's frame (A.4, A.7).
const (
	AnsACK            = 0x00
	AnsNAK            = 0xFF
	AnsIllegal        = 0x30
	StPowerUp         = 0x10
	StPowerUpBillHead = 0x11
	StPowerUpStacker  = 0x12
	StInitialize      = 0x13
	StIdling          = 0x14
	StAccepting       = 0x15
	StStacking        = 0x17
	StReturning       = 0x18
	StUnitDisabled    = 0x19
	StHolding         = 0x1A
	StBusy            = 0x1B
	StRejecting       = 0x1C
	StCassetteFull    = 0x41
	StCassetteOut     = 0x42
	StValidatorJammed = 0x43
	StCassetteJammed  = 0x44
	StCheated         = 0x45
	StPause           = 0x46
	StFailure         = 0x47
	EvEscrow          = 0x80
	EvStacked         = 0x81
	EvReturned        = 0x82
)

var stateNames = map[byte]string{
	StPowerUp:         "power_up",
	StPowerUpBillHead: "power_up_bill_in_validator",
	StPowerUpStacker:  "power_up_bill_in_stacker",
	StInitialize:      "initializing",
	StIdling:          "idling",
	StAccepting:       "accepting",
	StStacking:        "stacking",
	StReturning:       "returning",
	StUnitDisabled:    "disabled",
	StHolding:         "holding",
	StBusy:            "busy",
	StRejecting:       "rejecting",
	StCassetteFull:    "cassette_full",
	StCassetteOut:     "cassette_removed",
	StValidatorJammed: "jammed",
	StCassetteJammed:  "cassette_jammed",
	StCheated:         "cheated",
	StPause:           "pause",
	StFailure:         "failure",
	EvEscrow:          "escrow",
	EvStacked:         "stacked",
	EvReturned:        "returned",
	AnsIllegal:        "illegal_command",
}

// StateName is the name of a POLL answer code, as Info().State shows it.
func StateName(code byte) string {
	if n, ok := stateNames[code]; ok {
		return n
	}
	return fmt.Sprintf("unknown_%02x", code)
}

// rejectReasons are the texts of the byte after 0x1C REJECTING.
var rejectReasons = map[byte]string{
	0x60: "insertion",
	0x61: "magnetic",
	0x62: "previous bill still in the head",
	0x63: "multiplying",
	0x64: "conveying",
	0x65: "identification",
	0x66: "verification",
	0x67: "optic",
	0x68: "inhibited denomination",
	0x69: "capacitance",
	0x6A: "operation",
	0x6C: "length",
	0x6D: "UV",
	0x92: "unrecognised barcode",
	0x93: "wrong barcode length",
	0x94: "unknown barcode start",
	0x95: "unknown barcode stop",
}

// RejectReason is the readable reason of a REJECTING answer's second byte.
func RejectReason(code byte) string {
	if r, ok := rejectReasons[code]; ok {
		return r
	}
	return fmt.Sprintf("unknown reason 0x%02X", code)
}

// failureCodes are the texts of the byte after 0x47 GENERIC FAILURE. Five
// sources agree on 0x55/0x56/0x5F for the sensor channels; one sample gives
// 0x65–0x67 and is taken for a mistake.
var failureCodes = map[byte]string{
	0x50: "stack motor failure",
	0x51: "transport motor speed failure",
	0x52: "transport motor failure",
	0x53: "aligning motor failure",
	0x54: "initial cassette status failure",
	0x55: "optic channel failure",
	0x56: "magnetic channel failure",
	0x5F: "capacitance channel failure",
}

// FailureDetail is the readable text of a GENERIC FAILURE sub-code.
func FailureDetail(code byte) string {
	if r, ok := failureCodes[code]; ok {
		return fmt.Sprintf("%s (0x%02X)", r, code)
	}
	return fmt.Sprintf("failure code 0x%02X", code)
}
