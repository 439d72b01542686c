package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	ntlmssp "github.com/Azure/go-ntlmssp"

	"github.com/mmsgate/mmsgate/mmsproto"
)

// Authentication schemes as ReportConnectedEX's AuthenPackage names them
// (MS-MMSP 2.2.4.2).
const (
	SchemeBasic = "BASIC"
	SchemeNTLM  = "NTLM"
)

// maxRounds bounds the SecurityChallenge/SecurityResponse rounds of one
// exchange: Basic needs 1, NTLM 2 (4.6.1, 4.6.2).
const maxRounds = 4

// ErrTooManyRounds ends an exchange that does not converge.
var ErrTooManyRounds = errors.New("auth: too many authentication rounds")

// Server checks MMS clients (MS-MMSP 3.2.5.6, 3.2.5.7, 4.6).
type Server struct {
	Scheme string // SchemeBasic or SchemeNTLM
	Realm  string // Basic realm; "" means "mmsgate"
	// Lookup returns a user's password; domain is "" for Basic.
	Lookup func(user, domain string) (password string, ok bool)
	// TargetName, Rand: see NTLMServer.
	TargetName string
	Rand       io.Reader
}

// SingleUser returns a Lookup that knows one user (case-insensitive name,
// any domain), for the common one-account configuration.
func SingleUser(user, password string) func(string, string) (string, bool) {
	return func(u, _ string) (string, bool) {
		if !strings.EqualFold(u, user) {
			return "", false
		}
		return password, true
	}
}

// ServerExchange is the state of one client's authentication (one per
// OpenFile that needs it). Not safe for concurrent use.
type ServerExchange struct {
	srv    *Server
	ntlm   *NTLMChallenge
	wrap   bool
	rounds int
	user   string
}

// NewExchange starts an exchange.
func (s *Server) NewExchange() *ServerExchange { return &ServerExchange{srv: s} }

// User is the authenticated user name once Step has returned ok.
func (x *ServerExchange) User() string { return x.user }

// Step processes the client's token (OpenFile's tokenData or
// SecurityResponse's pToken; nil when the client sent none) and returns ok
// when the client is authenticated; otherwise next is the pToken of the
// SecurityChallenge to send. err explains a rejected token (it wraps
// ErrAuthFailed or an mmsproto/NTLM parse error) and is informational: the
// server goes on with next unless err is ErrTooManyRounds.
func (x *ServerExchange) Step(token []byte) (ok bool, next []byte, err error) {
	x.rounds++
	if x.rounds > maxRounds {
		return false, nil, ErrTooManyRounds
	}
	if strings.EqualFold(x.srv.Scheme, SchemeNTLM) {
		return x.stepNTLM(token)
	}
	realm := x.srv.Realm
	if realm == "" {
		realm = "mmsgate"
	}
	next = mmsproto.BasicChallengeToken(realm)
	if len(token) == 0 || (len(token) == 1 && token[0] == 0) {
		return false, next, nil
	}
	user, pw, err := ParseBasicCredentials(token)
	if err != nil {
		return false, next, err
	}
	want, found := "", false
	if x.srv.Lookup != nil {
		want, found = x.srv.Lookup(user, "")
	}
	if !equalConst(pw, want) || !found {
		return false, next, fmt.Errorf("%w: Basic credentials for %q", ErrAuthFailed, user)
	}
	x.user = user
	return true, nil, nil
}

// emptyNTLM is the pToken of an NTLM SecurityChallenge that asks for the
// NEGOTIATE_MESSAGE: just the two zero bytes of 2.2.4.14.
var emptyNTLM = []byte{0, 0}

func (x *ServerExchange) stepNTLM(token []byte) (bool, []byte, error) {
	if len(token) == 0 || bytes.Equal(token, emptyNTLM) {
		x.ntlm = nil
		return false, emptyNTLM, nil
	}
	// Answer in the client's form: NTLM_AUTH wrapped or bare (2.2.4.14.1).
	inner := token
	if len(inner) >= 2 && inner[0] == 0 && inner[1] == 0 {
		inner = inner[2:]
	}
	x.wrap = isNTLMAuth(inner) || isNTLMAuth(token)
	msg, err := mmsproto.NTLMToken(token)
	if err != nil {
		x.ntlm = nil
		return false, emptyNTLM, fmt.Errorf("%w: %w", ErrNTLMMessage, err)
	}
	switch MessageType(msg) {
	case 1:
		ns := &NTLMServer{Lookup: x.srv.Lookup, TargetName: x.srv.TargetName, Rand: x.srv.Rand}
		c, chal, err := ns.Challenge(msg)
		if err != nil {
			return false, emptyNTLM, err
		}
		x.ntlm = c
		return false, mmsproto.AppendNTLMToken(nil, chal, x.wrap), nil
	case 3:
		c := x.ntlm
		x.ntlm = nil
		if c == nil {
			return false, emptyNTLM, fmt.Errorf("%w: AUTHENTICATE_MESSAGE without a challenge", ErrNTLMMessage)
		}
		r, err := c.Authenticate(msg)
		if err != nil {
			return false, emptyNTLM, err
		}
		x.user = r.User
		return true, nil, nil
	}
	x.ntlm = nil
	return false, emptyNTLM, fmt.Errorf("%w: unexpected NTLM message type %d", ErrNTLMMessage, MessageType(msg))
}

// Client answers SecurityChallenges (MS-MMSP 3.1.5.8, 4.6) with Basic or,
// through github.com/Azure/go-ntlmssp, NTLMv2.
type Client struct {
	Username string // "user", or "DOMAIN\user" / "user@domain" for NTLM
	Password string
	// WrapNTLMAuth wraps NTLM messages in NTLM_AUTH (2.2.4.14.1) when the
	// server's token gives no hint; otherwise the server's form is used.
	WrapNTLMAuth bool
}

// ClientExchange is the state of one authentication.
type ClientExchange struct {
	c       *Client
	scheme  string
	wrap    bool
	rounds  int
	sentKey bool
}

// NewExchange starts answering challenges; scheme is the AuthenPackage
// the server announced (it may be empty: the challenge token decides).
func (c *Client) NewExchange(scheme string) *ClientExchange {
	return &ClientExchange{c: c, scheme: strings.ToUpper(scheme), wrap: c.WrapNTLMAuth}
}

// Done reports whether the final credentials have been sent, so that a
// further challenge means they were rejected.
func (x *ClientExchange) Done() bool { return x.sentKey }

// Step returns the pToken of the SecurityResponse to a SecurityChallenge's
// pToken. The scheme follows the token: NTLM tokens start with two zero
// bytes (2.2.4.14), Basic ones with UTF-16 text.
func (x *ClientExchange) Step(challenge []byte) ([]byte, error) {
	x.rounds++
	if x.rounds > maxRounds {
		return nil, ErrTooManyRounds
	}
	if len(challenge) >= 2 {
		x.scheme = SchemeBasic
		if challenge[0] == 0 && challenge[1] == 0 {
			x.scheme = SchemeNTLM
		}
	}
	if x.scheme != SchemeNTLM {
		x.sentKey = true
		return BasicCredentials(x.c.Username, x.c.Password), nil
	}
	inner := challenge
	if len(inner) >= 2 {
		inner = inner[2:]
	}
	if isNTLMAuth(inner) {
		x.wrap = true
	} else if len(inner) >= 8 && bytes.HasPrefix(inner, ntlmSignature) {
		x.wrap = false
	}
	msg, err := mmsproto.NTLMToken(challenge)
	if err != nil || MessageType(msg) != 2 {
		// No CHALLENGE_MESSAGE yet: start with NEGOTIATE.
		neg, err := ntlmssp.NewNegotiateMessage("", "")
		if err != nil {
			return nil, fmt.Errorf("auth: NTLM negotiate: %w", err)
		}
		return mmsproto.AppendNTLMToken(nil, neg, x.wrap), nil
	}
	resp, err := ntlmssp.NewAuthenticateMessage(msg, x.c.Username, x.c.Password, nil)
	if err != nil {
		return nil, fmt.Errorf("auth: NTLM authenticate: %w", err)
	}
	x.sentKey = true
	return mmsproto.AppendNTLMToken(nil, resp, x.wrap), nil
}

// isNTLMAuth reports whether b starts with NTLM_AUTH's Zero and One fields.
func isNTLMAuth(b []byte) bool {
	return len(b) >= 8 && bytes.Equal(b[:8], []byte{0, 0, 0, 0, 1, 0, 0, 0})
}
