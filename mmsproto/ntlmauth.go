package mmsproto

import (
	"bytes"
	"fmt"
	"unicode/utf16"
)

// NTLMAuth is the NTLM_AUTH structure (2.2.4.14.1) that may wrap an NTLM
// token inside pToken or tokenData.
type NTLMAuth struct {
	Reserved1, Reserved2 uint32 // ignored when parsing
	Token                []byte // NTLMToken (MS-NLMP 2.2.1); aliases the parsed bytes
}

const ntlmAuthFixed = 24

// Append appends the structure.
func (a *NTLMAuth) Append(b []byte) []byte {
	b = le32(le32(le32(le32(b, 0), 1), a.Reserved1), uint32(len(a.Token)))
	b = le32(le32(b, 2), a.Reserved2)
	return append(b, a.Token...)
}

// Unmarshal parses the structure: Zero, One and Two must hold 0, 1 and 2,
// and NTLMTokenSize must fit in b (trailing bytes are ignored).
func (a *NTLMAuth) Unmarshal(b []byte) error {
	d := dec{b: b, msg: "NTLM_AUTH"}
	zero, one, r1, size, two, r2 := d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	if d.err != nil {
		return d.err
	}
	if zero != 0 || one != 1 || two != 2 {
		return fmt.Errorf("%w: NTLM_AUTH Zero/One/Two = %d/%d/%d", ErrBadSignature, zero, one, two)
	}
	if uint64(size) > uint64(len(b)-ntlmAuthFixed) {
		return fmt.Errorf("%w: NTLM_AUTH NTLMTokenSize %d, %d bytes remain", ErrBadLength, size, len(b)-ntlmAuthFixed)
	}
	a.Reserved1, a.Reserved2 = r1, r2
	a.Token = b[ntlmAuthFixed : ntlmAuthFixed+int(size) : ntlmAuthFixed+int(size)]
	return nil
}

var ntlmSignature = []byte("NTLMSSP\x00")

// NTLMToken returns the NTLM message (MS-NLMP 2.2.1) carried in the pToken of
// a SecurityChallenge or SecurityResponse, or in OpenFile's tokenData: two
// zero bytes (2.2.4.14, 2.2.4.24) followed either by the NTLM message itself
// or by an NTLM_AUTH structure around it. Both forms are accepted; the
// leading zero bytes are optional for tokenData (2.2.4.21 omits them).
func NTLMToken(pToken []byte) ([]byte, error) {
	b := pToken
	if len(b) >= 2 && b[0] == 0 && b[1] == 0 && !bytes.HasPrefix(b, []byte{0, 0, 0, 0, 1, 0, 0, 0}) {
		b = b[2:]
	}
	if bytes.HasPrefix(b, ntlmSignature) {
		return b, nil
	}
	var a NTLMAuth
	if err := a.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("NTLM token is neither an NTLMSSP message nor NTLM_AUTH: %w", err)
	}
	if !bytes.HasPrefix(a.Token, ntlmSignature) {
		return nil, fmt.Errorf("%w: NTLM_AUTH token lacks the NTLMSSP signature", ErrBadSignature)
	}
	return a.Token, nil
}

// AppendNTLMToken appends a pToken for NTLM: two zero bytes and the NTLM
// message, wrapped in NTLM_AUTH when wrap is true.
func AppendNTLMToken(dst, ntlmMsg []byte, wrap bool) []byte {
	dst = append(dst, 0, 0)
	if wrap {
		return (&NTLMAuth{Token: ntlmMsg}).Append(dst)
	}
	return append(dst, ntlmMsg...)
}

// BasicChallengeToken returns the pToken of a Basic SecurityChallenge
// (2.2.4.14): UTF-16LE `realm="<realm>"` and a NUL character.
func BasicChallengeToken(realm string) []byte {
	return AppendUTF16Z(nil, `realm="`+realm+`"`)
}

// ParseBasicChallenge returns the realm of a Basic pToken, accepting the form
// without basic-realm that WMS 4 sends (<13>).
func ParseBasicChallenge(pToken []byte) (realm string, err error) {
	if len(pToken)%2 != 0 {
		return "", fmt.Errorf("%w: Basic challenge token of odd length %d", ErrBadLength, len(pToken))
	}
	u := make([]uint16, 0, len(pToken)/2)
	for i := 0; i+1 < len(pToken); i += 2 {
		c := uint16(pToken[i]) | uint16(pToken[i+1])<<8
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	s := string(utf16.Decode(u))
	if s == "" {
		return "", nil
	}
	const prefix = "realm="
	if len(s) < len(prefix) || !equalFoldASCII(s[:len(prefix)], prefix) {
		return "", fmt.Errorf("%w: Basic challenge %q lacks realm=", ErrBadValue, s)
	}
	s = s[len(prefix):]
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s, nil
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
