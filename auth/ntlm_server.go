package auth

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"
)

// NTLMServer is the server side of connection-oriented NTLMv2
// authentication (MS-NLMP 3.2.5.1): it builds CHALLENGE_MESSAGEs and
// verifies AUTHENTICATE_MESSAGEs against passwords it looks up. NTLMv1, LM
// and anonymous authentication are refused; no session security is set up.
type NTLMServer struct {
	// Lookup returns the password of a user (the UserName and DomainName
	// of the AUTHENTICATE_MESSAGE); ok is false for unknown users.
	Lookup func(user, domain string) (password string, ok bool)
	// TargetName is the NetBIOS name announced in the challenge; "" means "MMSGATE".
	TargetName string
	// Rand supplies server challenges; nil means crypto/rand.
	Rand io.Reader
	// Now stamps MsvAvTimestamp; nil means time.Now.
	Now func() time.Time
}

// NTLMChallenge is one outstanding challenge; it verifies one
// AUTHENTICATE_MESSAGE and is then spent.
type NTLMChallenge struct {
	srv     *NTLMServer
	Message *ChallengeMessage
	spent   bool
}

func (s *NTLMServer) targetName() string {
	if s.TargetName == "" {
		return "MMSGATE"
	}
	return s.TargetName
}

// Challenge answers a NEGOTIATE_MESSAGE (nil is accepted, for clients that
// skip it) with a new CHALLENGE_MESSAGE.
func (s *NTLMServer) Challenge(negotiate []byte) (*NTLMChallenge, []byte, error) {
	var cflags uint32 = NegotiateUnicode | NegotiateExtendedSessionSecurity
	if negotiate != nil {
		n, err := ParseNegotiate(negotiate)
		if err != nil {
			return nil, nil, err
		}
		cflags = n.Flags
	}
	// Only what this server does: Unicode strings, NTLM, target info. No
	// key exchange, LM key, signing or sealing (go-ntlmssp refuses the
	// first two, and MMS does not use the others).
	flags := uint32(NegotiateUnicode | NegotiateNTLM | RequestTarget | NegotiateAlwaysSign |
		TargetTypeServer | NegotiateTargetInfo)
	flags |= cflags & (NegotiateExtendedSessionSecurity | Negotiate128 | Negotiate56)
	c := &ChallengeMessage{Flags: flags, TargetName: s.targetName()}
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, c.ServerChallenge[:]); err != nil {
		return nil, nil, fmt.Errorf("auth: server challenge: %w", err)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var ts [8]byte
	binary.LittleEndian.PutUint64(ts[:], fileTime(now()))
	name := utf16le(s.targetName())
	var info []byte
	info = appendAvPair(info, AvNbDomainName, name)
	info = appendAvPair(info, AvNbComputerName, name)
	info = appendAvPair(info, AvTimestamp, ts[:])
	c.TargetInfo = appendAvPair(info, AvEOL, nil)
	return &NTLMChallenge{srv: s, Message: c}, c.Marshal(), nil
}

// fileTime is t as a Windows FILETIME: 100 ns units since 1601-01-01.
func fileTime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + 116444736000000000
}

// Result describes an authenticated client.
type Result struct {
	User, Domain, Workstation string
	SessionBaseKey            []byte
}

// Authenticate verifies an AUTHENTICATE_MESSAGE against this challenge
// (MS-NLMP 3.2.5.1.2 with NTLMv2, 3.3.2). Errors wrap ErrAuthFailed (wrong
// or unknown credentials) or ErrNTLMMessage.
func (c *NTLMChallenge) Authenticate(msg []byte) (*Result, error) {
	if c.spent {
		return nil, fmt.Errorf("%w: challenge already used", ErrAuthFailed)
	}
	c.spent = true
	a, err := ParseAuthenticate(msg)
	if err != nil {
		return nil, err
	}
	if a.UserName == "" || len(a.NtChallengeResponse) == 0 {
		return nil, fmt.Errorf("%w: anonymous authentication refused", ErrAuthFailed)
	}
	if c.srv.Lookup == nil {
		return nil, fmt.Errorf("%w: no users", ErrAuthFailed)
	}
	pw, ok := c.srv.Lookup(a.UserName, a.DomainName)
	if u, d, upn := strings.Cut(a.UserName, "@"); !ok && upn && a.DomainName == "" {
		// A UPN ("user@domain") travels with an empty DomainName (MS-NLMP
		// 2.2.1.3); the hash still covers the whole UPN.
		pw, ok = c.srv.Lookup(u, d)
	}
	if !ok {
		// Compute anyway so unknown and known users take the same time.
		pw = "\x00unknown"
	}
	// NTOWFv2 uses the domain as the client sent it; clients that send
	// none compute with "" (MS-NLMP 3.3.2, UserDom).
	key := NTOWFv2(pw, a.UserName, a.DomainName)
	sbk, err := VerifyNTLMv2(key, c.Message.ServerChallenge, a.NtChallengeResponse, a.LmChallengeResponse)
	if err != nil {
		return nil, fmt.Errorf("user %q domain %q: %w", a.UserName, a.DomainName, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: unknown user %q", ErrAuthFailed, a.UserName)
	}
	return &Result{User: a.UserName, Domain: a.DomainName, Workstation: a.Workstation, SessionBaseKey: sbk}, nil
}
