package mmsserver

import (
	"context"
	"errors"

	"github.com/mmsgate/mmsgate/auth"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// maxAuthTries bounds the credentials a client may try before OpenFile
// fails with E_ACCESSDENIED.
const maxAuthTries = 3

// server returns the auth package's server for a, shared by the MMS
// sessions and the MMSH handler.
func (a *Auth) server() *auth.Server {
	scheme := auth.SchemeBasic
	if a.Scheme == "ntlm" || a.Scheme == "NTLM" {
		scheme = auth.SchemeNTLM
	}
	realm := a.Realm
	if realm == "" {
		realm = "mmsd"
	}
	lookup := auth.SingleUser(a.Username, a.Password)
	if a.Domain != "" {
		inner := lookup
		lookup = func(user, domain string) (string, bool) {
			if domain != "" && domain != a.Domain {
				return "", false
			}
			return inner(user, domain)
		}
	}
	return &auth.Server{Scheme: scheme, Realm: realm, Lookup: lookup}
}

// authenticate checks token (OpenFile's tokenData or a SecurityResponse's
// pToken) and either opens the pending content or sends a
// SecurityChallenge (3.2.5.6, 3.2.5.7, 4.6). The exchange itself (Basic
// credentials, NTLMv2 verification) is the auth package's.
func (s *session) authenticate(ctx context.Context, playIncarnation uint32, token []byte) error {
	if s.authx == nil {
		s.authx = s.srv.Auth.server().NewExchange()
	}
	ok, next, err := s.authx.Step(token)
	if ok {
		s.authed = true
		s.log.Info("authenticated", "user", s.authx.User())
		s.emit("auth", "client authenticated", map[string]any{"scheme": s.srv.Auth.Scheme, "user": s.authx.User()})
		c := s.pendingOpen
		s.pendingOpen, s.authx = nil, nil
		return s.open(ctx, c, playIncarnation)
	}
	if err != nil {
		s.authTries++
		s.log.Info("authentication rejected", "err", err)
	}
	if s.authTries >= maxAuthTries || errors.Is(err, auth.ErrTooManyRounds) {
		s.emit("auth_failed", "authentication failed", map[string]any{"scheme": s.srv.Auth.Scheme})
		s.send(ctx, &mmsproto.LinkMacToViewerReportOpenFile{HR: mmsproto.HRAccessDenied, PlayIncarnation: playIncarnation})
		s.pendingOpen, s.authx = nil, nil
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
	return s.authenticate(ctx, m.PlayIncarnation, m.Token)
}
