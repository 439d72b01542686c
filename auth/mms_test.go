package auth

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/mmsproto"
)

// converse runs the MMS authentication sequence of MS-MMSP 4.6 over a real
// loopback TCP connection: OpenFile, then SecurityChallenge /
// SecurityResponse rounds, until ReportOpenFile (hr 0 or access denied).
func converse(t *testing.T, srv *Server, cli *Client) (ok bool, rounds int, user string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		ok   bool
		user string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		rd := mmsproto.NewReader(c, 0)
		x := srv.NewExchange()
		var seq uint16
		var token []byte
		for {
			m, err := rd.Next()
			if err != nil {
				res <- result{err: err}
				return
			}
			var pi uint32
			switch m := m.(type) {
			case *mmsproto.LinkViewerToMacOpenFile:
				token, pi = m.TokenData, m.PlayIncarnation
			case *mmsproto.LinkViewerToMacSecurityResponse:
				token, pi = m.Token, m.PlayIncarnation
			}
			ok, next, err := x.Step(token)
			if errors.Is(err, ErrTooManyRounds) || (err != nil && errors.Is(err, ErrAuthFailed) && x.rounds >= 3) {
				mmsproto.WriteMessage(c, &mmsproto.LinkMacToViewerReportOpenFile{HR: mmsproto.HRAccessDenied, PlayIncarnation: pi}, seq, 0)
				res <- result{ok: false}
				return
			}
			if ok {
				mmsproto.WriteMessage(c, &mmsproto.LinkMacToViewerReportOpenFile{PlayIncarnation: pi, OpenFileID: 1}, seq, 0)
				res <- result{ok: true, user: x.User()}
				return
			}
			mmsproto.WriteMessage(c, &mmsproto.LinkMacToViewerSecurityChallenge{PlayIncarnation: pi, Cookie: 42, Token: next}, seq, 0)
			seq++
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := mmsproto.WriteMessage(c, &mmsproto.LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: "secret.asf"}, 0, 0); err != nil {
		t.Fatal(err)
	}
	x := cli.NewExchange(srv.Scheme)
	rd := mmsproto.NewReader(c, 0)
	for seq := uint16(1); ; seq++ {
		m, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *mmsproto.LinkMacToViewerReportOpenFile:
			r := <-res
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.ok != (m.HR == 0) {
				t.Fatalf("server result %v, ReportOpenFile hr %#x", r.ok, m.HR)
			}
			return r.ok, rounds, r.user
		case *mmsproto.LinkMacToViewerSecurityChallenge:
			if m.Cookie != 42 {
				t.Fatalf("cookie %d", m.Cookie)
			}
			rounds++
			tok, err := x.Step(m.Token)
			if err != nil {
				t.Fatal(err)
			}
			mmsproto.WriteMessage(c, &mmsproto.LinkViewerToMacSecurityResponse{PlayIncarnation: m.PlayIncarnation, Cookie: m.Cookie, Token: tok}, seq, 0)
		default:
			t.Fatalf("unexpected %T", m)
		}
	}
}

func TestMMSAuthSequences(t *testing.T) {
	for _, tc := range []struct {
		name       string
		scheme     string
		user, pass string
		wrap       bool
		ok         bool
		rounds     int // SecurityChallenges the client answered
	}{
		{"basic right", SchemeBasic, "alice", "s3cret", false, true, 1},
		{"basic wrong", SchemeBasic, "alice", "nope", false, false, 2},
		{"basic unknown user", SchemeBasic, "mallory", "s3cret", false, false, 2},
		{"ntlm right", SchemeNTLM, "alice", "s3cret", false, true, 2},
		{"ntlm right NTLM_AUTH", SchemeNTLM, `DOM\alice`, "s3cret", true, true, 2},
		{"ntlm wrong", SchemeNTLM, "alice", "nope", false, false, 2},
		{"ntlm wrong NTLM_AUTH", SchemeNTLM, "alice", "nope", true, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &Server{Scheme: tc.scheme, Realm: "test", Lookup: SingleUser("alice", "s3cret")}
			ok, rounds, user := converse(t, srv, &Client{Username: tc.user, Password: tc.pass, WrapNTLMAuth: tc.wrap})
			if ok != tc.ok || rounds != tc.rounds {
				t.Fatalf("ok %v after %d rounds, want %v after %d", ok, rounds, tc.ok, tc.rounds)
			}
			if ok && user == "" {
				t.Fatal("no user")
			}
		})
	}
}

func TestServerExchangeDetails(t *testing.T) {
	srv := &Server{Scheme: SchemeBasic, Lookup: SingleUser("u", "p")}
	// Credentials cached in OpenFile's tokenData (<40>) pass at once.
	if ok, _, err := srv.NewExchange().Step(BasicCredentials("u", "p")); !ok || err != nil {
		t.Fatal(ok, err)
	}
	_, next, _ := srv.NewExchange().Step(nil)
	if realm, err := mmsproto.ParseBasicChallenge(next); err != nil || realm != "mmsgate" {
		t.Fatalf("realm %q %v", realm, err)
	}
	if _, _, err := srv.NewExchange().Step([]byte("!!!\x00")); !errors.Is(err, ErrAuthFailed) {
		t.Fatal(err)
	}
	x := srv.NewExchange()
	for range maxRounds {
		x.Step(nil)
	}
	if _, _, err := x.Step(nil); !errors.Is(err, ErrTooManyRounds) {
		t.Fatal(err)
	}
	// NTLM: garbage and an AUTHENTICATE without a challenge restart the exchange.
	n := (&Server{Scheme: SchemeNTLM, Lookup: SingleUser("u", "p")}).NewExchange()
	if ok, next, err := n.Step([]byte{0, 0, 1, 2, 3}); ok || !bytes.Equal(next, []byte{0, 0}) || err == nil {
		t.Fatal(ok, next, err)
	}
	auth3 := append([]byte("NTLMSSP\x00\x03\x00\x00\x00"), make([]byte, 60)...)
	if ok, _, err := n.Step(mmsproto.AppendNTLMToken(nil, auth3, false)); ok || !errors.Is(err, ErrNTLMMessage) {
		t.Fatal(ok, err)
	}
	u, p, err := ParseBasicCredentials([]byte("Basic dTpw"))
	if err != nil || u != "u" || p != "p" {
		t.Fatal(u, p, err)
	}
}

func FuzzNTLMMessages(f *testing.F) {
	f.Add([]byte("NTLMSSP\x00\x01\x00\x00\x00\x07\x82\x08\xa2"))
	f.Add(append([]byte("NTLMSSP\x00\x03\x00\x00\x00"), make([]byte, 60)...))
	chal, _ := hexBytes(vecChallenge)
	auth, _ := hexBytes(vecAuthenticate)
	f.Add(chal)
	f.Add(auth)
	f.Add(mmsproto.AppendNTLMToken(nil, auth, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseNegotiate(b)
		if c, err := ParseChallenge(b); err == nil {
			if _, err := ParseChallenge(c.Marshal()); err != nil {
				t.Fatalf("re-marshalled challenge does not parse: %v", err)
			}
		}
		if a, err := ParseAuthenticate(b); err == nil {
			_, _ = VerifyNTLMv2(make([]byte, 16), [8]byte{}, a.NtChallengeResponse, a.LmChallengeResponse)
		}
		_, _, _ = ParseBasicCredentials(b)
		x := (&Server{Scheme: SchemeNTLM, Lookup: SingleUser("User", "Password")}).NewExchange()
		neg := mmsproto.AppendNTLMToken(nil, []byte("NTLMSSP\x00\x01\x00\x00\x00\x07\x82\x08\xa2"), false)
		if _, next, err := x.Step(neg); err != nil || len(next) < 10 {
			t.Fatalf("negotiate: %v", err)
		}
		if ok, _, _ := x.Step(b); ok {
			t.Fatal("random bytes authenticated")
		}
	})
}
