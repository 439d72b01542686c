package mmsserver

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/mmsgate/mmsgate/mmsproto"
)

// maxAuthTries bounds the challenges sent before OpenFile fails.
const maxAuthTries = 3

// ntlmState is the server side of one NTLM exchange.
type ntlmState struct {
	challenge []byte // the CHALLENGE_MESSAGE sent
	wrap      bool   // the client used NTLM_AUTH (2.2.4.14.1); answer in kind
}

// authenticate checks token (from OpenFile's tokenData or a
// SecurityResponse's pToken) and either opens the pending content or sends
// a SecurityChallenge (3.2.5.6, 3.2.5.7, 4.6).
func (s *session) authenticate(ctx context.Context, playIncarnation, cookie uint32, token []byte, fromOpen bool) error {
	a := s.srv.Auth
	var ok bool
	var next []byte // pToken of the next challenge
	switch strings.ToLower(a.Scheme) {
	case "ntlm":
		var err error
		ok, next, err = s.ntlmStep(token)
		if err != nil {
			s.log.Info("NTLM failed", "err", err)
		}
	default:
		ok = len(token) > 0 && checkBasic(token, a.Username, a.Password)
		realm := a.Realm
		if realm == "" {
			realm = "mmsd"
		}
		next = mmsproto.BasicChallengeToken(realm)
	}
	if ok {
		s.authed = true
		s.emit("auth", "client authenticated", map[string]any{"scheme": a.Scheme})
		c := s.pendingOpen
		s.pendingOpen = nil
		return s.open(ctx, c, playIncarnation)
	}
	if len(token) > 0 && (next == nil || s.ntlm == nil || s.ntlm.challenge == nil) {
		s.authTries++
	}
	if s.authTries >= maxAuthTries {
		s.log.Info("authentication failed")
		s.emit("auth_failed", "authentication failed", map[string]any{"scheme": a.Scheme})
		s.send(ctx, &mmsproto.LinkMacToViewerReportOpenFile{HR: mmsproto.HRAccessDenied, PlayIncarnation: playIncarnation})
		s.pendingOpen = nil
		return nil
	}
	s.send(ctx, &mmsproto.LinkMacToViewerSecurityChallenge{PlayIncarnation: playIncarnation, Cookie: s.clientID, Token: next})
	return nil
}

// onSecurityResponse: 3.2.5.7.
func (s *session) onSecurityResponse(ctx context.Context, m *mmsproto.LinkViewerToMacSecurityResponse) error {
	if s.srv.Auth == nil || s.pendingOpen == nil {
		s.send(ctx, &mmsproto.LinkMacToViewerReportOpenFile{HR: hrInvalidArg, PlayIncarnation: m.PlayIncarnation})
		return nil
	}
	return s.authenticate(ctx, m.PlayIncarnation, m.Cookie, m.Token, false)
}

// checkBasic verifies basic-credentials (RFC 2617: base64 of user:pass),
// NUL-terminated (2.2.4.21, 2.2.4.24). A leading "Basic " is tolerated.
func checkBasic(token []byte, user, pass string) bool {
	token, _, _ = bytes.Cut(token, []byte{0})
	t := strings.TrimSpace(string(token))
	if len(t) > 6 && strings.EqualFold(t[:6], "basic ") {
		t = strings.TrimSpace(t[6:])
	}
	raw, err := base64.StdEncoding.DecodeString(t)
	if err != nil {
		return false
	}
	u, p, ok := strings.Cut(string(raw), ":")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(pass)) == 1
}

var errNTLMUnavailable = errors.New("NTLM verification is not available")
