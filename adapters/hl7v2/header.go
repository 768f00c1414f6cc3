package hl7v2

import "strings"

// MessageType is MSH-9: message code, trigger event and message structure,
// e.g. ADT, A01, ADT_A01.
type MessageType struct {
	Code      string
	Trigger   string
	Structure string
}

// String renders the type as "ADT^A01" (with "^ADT_A01" when present).
func (t MessageType) String() string {
	s := t.Code
	if t.Trigger != "" || t.Structure != "" {
		s += "^" + t.Trigger
	}
	if t.Structure != "" {
		s += "^" + t.Structure
	}
	return s
}

// MSH returns the message header segment (always present after Parse).
func (m *Message) MSH() Segment { return m.segs[0] }

// ControlID is MSH-10, the sender's unique id for this message; an ACK
// echoes it in MSA-2.
func (m *Message) ControlID() string { return m.MSH().Get(10) }

// Type is MSH-9.
func (m *Message) Type() MessageType {
	f := m.MSH().Field(9)
	return MessageType{Code: f.Get(1), Trigger: f.Get(2), Structure: f.Get(3)}
}

// Event is the message's type with its trigger event: MSH-9, whose
// trigger (MSH-9.2), when empty, is EVN-1. HL7 v2.1 had no trigger in
// MSH-9 ("ADT" alone, the event in EVN-1), and old systems still send
// so; from v2.2 on EVN-1 repeats MSH-9.2 (kept for backward
// compatibility), and MSH-9.2 wins when the two differ.
func (m *Message) Event() MessageType {
	t := m.Type()
	if t.Trigger == "" {
		if evn, ok := m.Segment("EVN"); ok {
			t.Trigger = strings.TrimSpace(evn.Field(1).Get(1))
		}
	}
	return t
}

// Version is MSH-12.1, e.g. "2.5.1".
func (m *Message) Version() string { return m.MSH().Field(12).Get(1) }

// ProcessingID is MSH-11.1: P (production), T (training) or D (debugging).
func (m *Message) ProcessingID() string { return m.MSH().Field(11).Get(1) }

// Timestamp is MSH-7.1 as written (an HL7 DTM).
func (m *Message) Timestamp() string { return m.MSH().Field(7).Get(1) }

// SendingApp is MSH-3.1, the sending application's namespace id; the whole
// HD is MSH().Field(3).
func (m *Message) SendingApp() string { return m.MSH().Field(3).Get(1) }

// SendingFacility is MSH-4.1.
func (m *Message) SendingFacility() string { return m.MSH().Field(4).Get(1) }

// ReceivingApp is MSH-5.1.
func (m *Message) ReceivingApp() string { return m.MSH().Field(5).Get(1) }

// ReceivingFacility is MSH-6.1.
func (m *Message) ReceivingFacility() string { return m.MSH().Field(6).Get(1) }

// AcceptAckType is MSH-15 (table 0155: AL, NE, ER, SU; "" when absent).
func (m *Message) AcceptAckType() string { return m.MSH().Get(15) }

// AppAckType is MSH-16 (table 0155).
func (m *Message) AppAckType() string { return m.MSH().Get(16) }

// EnhancedMode reports whether the sender asked for enhanced acknowledgement
// (MSH-15 or MSH-16 valued); otherwise original mode (AA/AE/AR) applies.
func (m *Message) EnhancedMode() bool { return m.AcceptAckType() != "" || m.AppAckType() != "" }
