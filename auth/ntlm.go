package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// NTLM wire format (MS-NLMP 2.2) and NTLMv2 computations (MS-NLMP 3.3.2),
// as much as a server needs to authenticate an MMS client.

// Errors for bad NTLM input; all errors of this package wrap one of these or
// ErrAuthFailed.
var (
	// ErrNTLMMessage: an NTLM message is malformed (MS-NLMP 2.2.1).
	ErrNTLMMessage = errors.New("auth: malformed NTLM message")
	// ErrAuthFailed: the credentials are wrong or unknown.
	ErrAuthFailed = errors.New("auth: authentication failed")
)

// NegotiateFlags bits (MS-NLMP 2.2.2.5).
const (
	NegotiateUnicode                 = 0x00000001
	NegotiateOEM                     = 0x00000002
	RequestTarget                    = 0x00000004
	NegotiateSign                    = 0x00000010
	NegotiateSeal                    = 0x00000020
	NegotiateLMKey                   = 0x00000080
	NegotiateNTLM                    = 0x00000200
	NegotiateAnonymous               = 0x00000800
	NegotiateAlwaysSign              = 0x00008000
	TargetTypeDomain                 = 0x00010000
	TargetTypeServer                 = 0x00020000
	NegotiateExtendedSessionSecurity = 0x00080000
	NegotiateTargetInfo              = 0x00800000
	NegotiateVersion                 = 0x02000000
	Negotiate128                     = 0x20000000
	NegotiateKeyExch                 = 0x40000000
	Negotiate56                      = 0x80000000
)

// AV_PAIR identifiers (MS-NLMP 2.2.2.1).
const (
	AvEOL             = 0
	AvNbComputerName  = 1
	AvNbDomainName    = 2
	AvDnsComputerName = 3
	AvDnsDomainName   = 4
	AvTimestamp       = 7
)

var ntlmSignature = []byte("NTLMSSP\x00")

// maxNTLMMessage bounds what the parsers accept; real messages are < 1 KiB.
const maxNTLMMessage = 64 << 10

// NegotiateMessage is the parsed NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1).
type NegotiateMessage struct {
	Flags uint32
}

// ParseNegotiate parses a NEGOTIATE_MESSAGE; only the fixed part is read
// (domain and workstation are informational).
func ParseNegotiate(b []byte) (*NegotiateMessage, error) {
	if err := checkHeader(b, 1, 16); err != nil {
		return nil, err
	}
	return &NegotiateMessage{Flags: binary.LittleEndian.Uint32(b[12:])}, nil
}

// MessageType returns the MessageType of an NTLM message (1, 2 or 3), or 0
// if b does not start with the NTLMSSP signature.
func MessageType(b []byte) uint32 {
	if len(b) < 12 || !bytes.HasPrefix(b, ntlmSignature) {
		return 0
	}
	return binary.LittleEndian.Uint32(b[8:])
}

func checkHeader(b []byte, typ uint32, fixed int) error {
	if len(b) > maxNTLMMessage {
		return fmt.Errorf("%w: %d bytes", ErrNTLMMessage, len(b))
	}
	if len(b) < fixed {
		return fmt.Errorf("%w: %d bytes, type %d needs %d", ErrNTLMMessage, len(b), typ, fixed)
	}
	if !bytes.HasPrefix(b, ntlmSignature) {
		return fmt.Errorf("%w: no NTLMSSP signature", ErrNTLMMessage)
	}
	if t := binary.LittleEndian.Uint32(b[8:]); t != typ {
		return fmt.Errorf("%w: MessageType %d, want %d", ErrNTLMMessage, t, typ)
	}
	return nil
}

// field reads a Len/MaxLen/BufferOffset triple at off and returns the bytes
// it points to, checking that they lie inside b.
func field(b []byte, off int, name string) ([]byte, error) {
	l := int(binary.LittleEndian.Uint16(b[off:]))
	o := int(binary.LittleEndian.Uint32(b[off+4:]))
	if l == 0 {
		return nil, nil
	}
	if o < 0 || o > len(b) || l > len(b)-o {
		return nil, fmt.Errorf("%w: %s at %d+%d outside %d bytes", ErrNTLMMessage, name, o, l, len(b))
	}
	return b[o : o+l : o+l], nil
}

// ChallengeMessage is a CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2).
type ChallengeMessage struct {
	Flags           uint32
	ServerChallenge [8]byte
	TargetName      string
	TargetInfo      []byte // AV_PAIR list including MsvAvEOL
}

// Marshal encodes the message (Unicode strings, no Version field).
func (c *ChallengeMessage) Marshal() []byte {
	const fixed = 48
	name := utf16le(c.TargetName)
	b := make([]byte, fixed, fixed+len(name)+len(c.TargetInfo))
	copy(b, ntlmSignature)
	binary.LittleEndian.PutUint32(b[8:], 2)
	putField(b, 12, len(name), fixed)
	binary.LittleEndian.PutUint32(b[20:], c.Flags)
	copy(b[24:], c.ServerChallenge[:])
	putField(b, 40, len(c.TargetInfo), fixed+len(name))
	b = append(b, name...)
	return append(b, c.TargetInfo...)
}

// ParseChallenge parses a CHALLENGE_MESSAGE (for clients and tests).
func ParseChallenge(b []byte) (*ChallengeMessage, error) {
	if err := checkHeader(b, 2, 48); err != nil {
		return nil, err
	}
	c := &ChallengeMessage{Flags: binary.LittleEndian.Uint32(b[20:])}
	copy(c.ServerChallenge[:], b[24:32])
	name, err := field(b, 12, "TargetName")
	if err != nil {
		return nil, err
	}
	c.TargetName = decodeString(name, c.Flags)
	if c.TargetInfo, err = field(b, 40, "TargetInfo"); err != nil {
		return nil, err
	}
	if _, err := parseAvPairs(c.TargetInfo); err != nil {
		return nil, err
	}
	return c, nil
}

func putField(b []byte, off, length, offset int) {
	binary.LittleEndian.PutUint16(b[off:], uint16(length))
	binary.LittleEndian.PutUint16(b[off+2:], uint16(length))
	binary.LittleEndian.PutUint32(b[off+4:], uint32(offset))
}

// AuthenticateMessage is the parsed AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3).
type AuthenticateMessage struct {
	Flags               uint32
	LmChallengeResponse []byte
	NtChallengeResponse []byte
	DomainName          string
	UserName            string
	Workstation         string
	EncryptedSessionKey []byte
}

// ParseAuthenticate parses an AUTHENTICATE_MESSAGE. Payload fields are found
// by their offsets, so the optional Version and MIC fields do not matter.
func ParseAuthenticate(b []byte) (*AuthenticateMessage, error) {
	if err := checkHeader(b, 3, 64); err != nil {
		return nil, err
	}
	a := &AuthenticateMessage{Flags: binary.LittleEndian.Uint32(b[60:])}
	var dom, user, ws []byte
	for _, f := range []struct {
		off  int
		name string
		dst  *[]byte
	}{
		{12, "LmChallengeResponse", &a.LmChallengeResponse},
		{20, "NtChallengeResponse", &a.NtChallengeResponse},
		{28, "DomainName", &dom},
		{36, "UserName", &user},
		{44, "Workstation", &ws},
		{52, "EncryptedRandomSessionKey", &a.EncryptedSessionKey},
	} {
		v, err := field(b, f.off, f.name)
		if err != nil {
			return nil, err
		}
		*f.dst = v
	}
	a.DomainName, a.UserName, a.Workstation = decodeString(dom, a.Flags), decodeString(user, a.Flags), decodeString(ws, a.Flags)
	return a, nil
}

// parseAvPairs checks an AV_PAIR list (MS-NLMP 2.2.2.1) and returns its pairs.
func parseAvPairs(b []byte) (map[uint16][]byte, error) {
	m := map[uint16][]byte{}
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: truncated AV_PAIR", ErrNTLMMessage)
		}
		id, l := binary.LittleEndian.Uint16(b), int(binary.LittleEndian.Uint16(b[2:]))
		if id == AvEOL {
			return m, nil
		}
		if l > len(b)-4 {
			return nil, fmt.Errorf("%w: AV_PAIR %d of %d bytes, %d remain", ErrNTLMMessage, id, l, len(b)-4)
		}
		m[id] = b[4 : 4+l]
		b = b[4+l:]
	}
	return nil, fmt.Errorf("%w: AV_PAIR list without MsvAvEOL", ErrNTLMMessage)
}

func appendAvPair(b []byte, id uint16, v []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, id)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// decodeString decodes a payload string in the negotiated character set.
func decodeString(b []byte, flags uint32) string {
	if flags&NegotiateUnicode == 0 {
		return string(b) // OEM: treated as ASCII/Latin-1 bytes
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// NTOWFv2 is MS-NLMP 3.3.2's
// HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(Uppercase(User) + UserDom)).
func NTOWFv2(password, user, domain string) []byte {
	h := md4(utf16le(password))
	return hmacMD5(h[:], utf16le(strings.ToUpper(user)+domain))
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// VerifyNTLMv2 checks an NTLMv2 NtChallengeResponse (MS-NLMP 2.2.2.8,
// 3.3.2): NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || temp),
// where temp is the rest of the response. It returns the session base key.
// The LMv2 response, when it is not all zeros, must be right too.
func VerifyNTLMv2(responseKeyNT []byte, serverChallenge [8]byte, ntResponse, lmResponse []byte) ([]byte, error) {
	if len(ntResponse) <= 24 {
		// 24 bytes is an NTLMv1 response: not accepted (NTLMv2 only).
		return nil, fmt.Errorf("%w: NtChallengeResponse of %d bytes is not NTLMv2", ErrAuthFailed, len(ntResponse))
	}
	proof, temp := ntResponse[:16], ntResponse[16:]
	if len(temp) < 28 || temp[0] != 1 || temp[1] != 1 {
		return nil, fmt.Errorf("%w: NTLMv2_CLIENT_CHALLENGE version %d/%d", ErrNTLMMessage, temp[0], temp[1])
	}
	want := hmacMD5(responseKeyNT, serverChallenge[:], temp)
	if !hmac.Equal(proof, want) {
		return nil, fmt.Errorf("%w: NTProofStr mismatch", ErrAuthFailed)
	}
	if len(lmResponse) == 24 && !bytes.Equal(lmResponse, make([]byte, 24)) {
		lm := hmacMD5(responseKeyNT, serverChallenge[:], lmResponse[16:])
		if !hmac.Equal(lmResponse[:16], lm) {
			return nil, fmt.Errorf("%w: LMv2 response mismatch", ErrAuthFailed)
		}
	}
	return hmacMD5(responseKeyNT, proof), nil
}
