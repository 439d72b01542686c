package mmsclient

import (
	"encoding/base64"
	"errors"
	"fmt"

	ntlmssp "github.com/Azure/go-ntlmssp"

	"github.com/mmsgate/mmsgate/mmsproto"
)

// authState answers the SecurityChallenge messages of one OpenFile
// (3.1.5.8, 4.6): Basic takes one round, NTLM two (negotiate, then the
// response to the server's challenge).
type authState struct {
	scheme       string // "BASIC" or "NTLM": the Auth-Scheme variable
	major        int
	user, pass   string
	rounds       int
	wrap         bool // the server wrapped its token in NTLM_AUTH: answer alike
	sentResponse bool // the final credential has gone out
}

func newAuthState(scheme string, serverMajor int, user, pass string) *authState {
	return &authState{scheme: scheme, major: serverMajor, user: user, pass: pass}
}

// done reports whether the credentials have been sent in full: a further
// challenge means they were rejected (4.6.1, 4.6.2).
func (a *authState) done() bool { return a.sentResponse }

// respond returns the pToken for a SecurityResponse to challenge token tok.
func (a *authState) respond(tok []byte) ([]byte, error) {
	a.rounds++
	if a.rounds > 3 {
		return nil, errors.New("too many authentication rounds")
	}
	// 3.1.5.8: the first two bytes of pToken say which scheme the server uses.
	ntlm := len(tok) >= 2 && tok[0] == 0 && tok[1] == 0
	switch {
	case len(tok) < 2:
		// No token: keep the scheme ConnectedEX announced.
	case a.major >= 9 || a.major == 0:
		a.scheme = "BASIC"
		if ntlm {
			a.scheme = "NTLM"
		}
	case !ntlm:
		a.scheme = "BASIC"
	}
	if a.scheme == "BASIC" {
		a.sentResponse = true
		return basicToken(a.user, a.pass), nil
	}
	inner := tok
	if len(tok) >= 2 {
		inner = tok[2:]
	}
	if a.rounds == 1 && !hasNTLMMessage(tok) {
		// No challenge yet: send the NEGOTIATE message.
		a.wrap = len(inner) >= 4 && inner[0] == 0 && inner[1] == 0 && inner[2] == 0 && inner[3] == 0
		neg, err := ntlmssp.NewNegotiateMessage("", "")
		if err != nil {
			return nil, fmt.Errorf("NTLM negotiate: %w", err)
		}
		return mmsproto.AppendNTLMToken(nil, neg, true), nil
	}
	chal, err := mmsproto.NTLMToken(tok)
	if err != nil {
		return nil, fmt.Errorf("NTLM challenge: %w", err)
	}
	resp, err := ntlmssp.NewAuthenticateMessage(chal, a.user, a.pass, nil)
	if err != nil {
		return nil, fmt.Errorf("NTLM challenge: %w", err)
	}
	a.sentResponse = true
	return mmsproto.AppendNTLMToken(nil, resp, true), nil
}

func hasNTLMMessage(tok []byte) bool {
	_, err := mmsproto.NTLMToken(tok)
	return err == nil
}

// basicToken is the basic-credentials of RFC 2617 as a NUL-terminated ASCII
// string (2.2.4.24).
func basicToken(user, pass string) []byte {
	return append([]byte(base64.StdEncoding.EncodeToString([]byte(user+":"+pass))), 0)
}
