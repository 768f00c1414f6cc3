package ops

import (
	"os"
	"os/user"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ferry-health/ferry/transport/audit"
)

// OperatorHeader carries, on a request to the ops API, the account that
// runs the client (LocalOperator's description). The gateway records it
// beside "ops-api" as what the client says, not as a verified identity:
// the token proves only that the caller can read the data folder.
const OperatorHeader = "X-Ferry-Operator"

// LocalOperator identifies the person running this process for the audit
// trail: the operating-system account (UserID), its numeric id
// (AltUserID) and, under sudo, the account that ran sudo (UserName), on
// this machine (Address, the host name).
func LocalOperator() audit.Operator {
	var op audit.Operator
	if u, err := user.Current(); err == nil {
		op.UserID, op.AltUserID = u.Username, "uid "+u.Uid
	} else {
		op.UserID, op.AltUserID = "uid "+strconv.Itoa(os.Getuid()), "uid "+strconv.Itoa(os.Getuid())
	}
	if s := os.Getenv("SUDO_USER"); s != "" && os.Getuid() == 0 {
		op.UserName = "sudo from " + s
	}
	op.Address, _ = os.Hostname()
	return op
}

// describeOperator is op as one line for OperatorHeader.
func describeOperator(op audit.Operator) string {
	s := op.UserID
	if op.UserName != "" {
		s += " (" + op.UserName + ")"
	}
	return s
}

// cleanHeader keeps a client-supplied value printable and short before it
// goes into an audit event.
func cleanHeader(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 128 {
		// Cut at a character's start, not inside one: half a UTF-8
		// sequence is no text an audit record (XML, JSON) may carry.
		n := 128
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
