package mmsproto

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package for bad input wraps
// one of them, so callers can test with errors.Is.
var (
	// ErrShort: the bytes end before a field the layout requires.
	ErrShort = errors.New("mmsproto: message too short")
	// ErrTooLarge: a length field exceeds the caller's limit or the protocol's.
	ErrTooLarge = errors.New("mmsproto: message too large")
	// ErrBadLength: a length field contradicts the bytes present or another length.
	ErrBadLength = errors.New("mmsproto: inconsistent length field")
	// ErrBadSignature: a fixed signature (sessionId 0xB00BFACE, seal "MMS ",
	// 0xBEEFF00D, NTLM_AUTH constants) is wrong.
	ErrBadSignature = errors.New("mmsproto: bad signature")
	// ErrUnknownMID: the MID of a well-framed message is none of 2.2.4's.
	// The Reader stays in sync after this error.
	ErrUnknownMID = errors.New("mmsproto: unknown message ID")
	// ErrBadValue: a field holds a value its section forbids.
	ErrBadValue = errors.New("mmsproto: invalid field value")
	// ErrMultipleMessages: ReadMessage met a TcpMessageHeader packet that holds
	// several messages; use a Reader for those.
	ErrMultipleMessages = errors.New("mmsproto: several messages in one TcpMessageHeader packet")
)

// UnknownMIDError reports a message whose MID is not one of 2.2.4's.
type UnknownMIDError struct {
	MID  uint32
	Body []byte // the message after chunkLen and MID, padding included
}

func (e *UnknownMIDError) Error() string {
	return fmt.Sprintf("mmsproto: unknown message ID 0x%08x (%d body bytes)", e.MID, len(e.Body))
}

// Is makes errors.Is(err, ErrUnknownMID) true.
func (e *UnknownMIDError) Is(target error) bool { return target == ErrUnknownMID }

func errShort(what string, need, have int) error {
	return fmt.Errorf("%w: %s needs %d bytes, have %d", ErrShort, what, need, have)
}
