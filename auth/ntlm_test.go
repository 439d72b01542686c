package auth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	ntlmssp "github.com/Azure/go-ntlmssp"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// MS-NLMP 4.2.4: NTLMv2 with User "User", UserDom "Domain", Passwd
// "Password", ServerChallenge 0123456789abcdef.
const (
	vecChallenge = `4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef
		00000000000000002400240044000000060070170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000`
	vecAuthenticate = `4e544c4d5353500003000000180018006c00000054005400840000000c000c00
		480000000800080054000000100010005c00000010001000d8000000358288e2
		0501280a0000000f44006f006d00610069006e00550073006500720043004f00
		4d005000550054004500520086c35097ac9cec102554764a57cccc19aaaaaaaa
		aaaaaaaa68cd0ab851e51c96aabc927bebef6a1c010100000000000000000000
		00000000aaaaaaaaaaaaaaaa0000000002000c0044006f006d00610069006e00
		01000c005300650072007600650072000000000000000000c5dad2544fc97990
		94ce1ce90bc9d03e`
)

func TestNTLMv2Vectors(t *testing.T) {
	if got := NTOWFv2("Password", "User", "Domain"); !bytes.Equal(got, unhex(t, "0c868a403bfd7a93a3001ef22ef02e3f")) {
		t.Fatalf("NTOWFv2 = %x", got)
	}
	chal, err := ParseChallenge(unhex(t, vecChallenge))
	if err != nil {
		t.Fatal(err)
	}
	if chal.Flags != 0xe28a8233 || chal.TargetName != "Server" || !bytes.Equal(chal.ServerChallenge[:], unhex(t, "0123456789abcdef")) {
		t.Fatalf("challenge %+v", chal)
	}
	pairs, err := parseAvPairs(chal.TargetInfo)
	if err != nil || string(pairs[AvNbDomainName]) != string(utf16le("Domain")) || string(pairs[AvNbComputerName]) != string(utf16le("Server")) {
		t.Fatalf("target info %v %v", pairs, err)
	}
	raw := unhex(t, vecAuthenticate)
	a, err := ParseAuthenticate(raw)
	if err != nil {
		t.Fatal(err)
	}
	if a.UserName != "User" || a.DomainName != "Domain" || a.Workstation != "COMPUTER" || a.Flags != 0xe2888235 {
		t.Fatalf("authenticate %+v", a)
	}
	if !bytes.Equal(a.LmChallengeResponse, unhex(t, "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")) ||
		!bytes.Equal(a.NtChallengeResponse[:16], unhex(t, "68cd0ab851e51c96aabc927bebef6a1c")) ||
		!bytes.Equal(a.EncryptedSessionKey, unhex(t, "c5dad2544fc9799094ce1ce90bc9d03e")) {
		t.Fatalf("responses %x / %x", a.LmChallengeResponse, a.NtChallengeResponse)
	}
	key := NTOWFv2("Password", a.UserName, a.DomainName)
	sbk, err := VerifyNTLMv2(key, chal.ServerChallenge, a.NtChallengeResponse, a.LmChallengeResponse)
	if err != nil || !bytes.Equal(sbk, unhex(t, "8de40ccadbc14a82f15cb0ad0de95ca3")) {
		t.Fatalf("verify: %v, session base key %x", err, sbk)
	}
	// The same message through the server API, right and wrong password.
	for pw, want := range map[string]error{"Password": nil, "password": ErrAuthFailed} {
		srv := &NTLMServer{Lookup: SingleUser("user", pw)}
		c := &NTLMChallenge{srv: srv, Message: chal}
		_, err := c.Authenticate(raw)
		if !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("password %q: %v", pw, err)
		}
	}
	// A tampered LMv2 response is rejected even with the right NT proof.
	bad := bytes.Clone(raw)
	bad[0x6c] ^= 1
	c := &NTLMChallenge{srv: &NTLMServer{Lookup: SingleUser("User", "Password")}, Message: chal}
	if _, err := c.Authenticate(bad); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("tampered LMv2: %v", err)
	}
}

// go-ntlmssp is an independent NTLMv2 client implementation.
func TestNTLMServerWithGoNTLMSSP(t *testing.T) {
	srv := &NTLMServer{Lookup: func(u, d string) (string, bool) {
		if strings.EqualFold(u, "alice") {
			return "s3cret", true
		}
		return "", false
	}, TargetName: "MMSD", Now: func() time.Time { return time.Unix(1700000000, 0) }}
	for _, tc := range []struct {
		user, pass string
		ok         bool
	}{
		{"alice", "s3cret", true},
		{"ALICE", "s3cret", true},
		{`WORKGROUP\alice`, "s3cret", true},
		{"alice@example.com", "s3cret", true},
		{"alice", "wrong", false},
		{"bob", "s3cret", false},
	} {
		neg, err := ntlmssp.NewNegotiateMessage("", "")
		if err != nil {
			t.Fatal(err)
		}
		c, chal, err := srv.Challenge(neg)
		if err != nil {
			t.Fatal(err)
		}
		if pc, err := ParseChallenge(chal); err != nil || pc.TargetName != "MMSD" || pc.Flags&(NegotiateKeyExch|NegotiateLMKey) != 0 {
			t.Fatalf("challenge %+v %v", pc, err)
		}
		am, err := ntlmssp.NewAuthenticateMessage(chal, tc.user, tc.pass, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Authenticate(am)
		if tc.ok != (err == nil) {
			t.Errorf("%s/%s: %v", tc.user, tc.pass, err)
		}
		if !tc.ok && !errors.Is(err, ErrAuthFailed) {
			t.Errorf("%s/%s: error %v does not wrap ErrAuthFailed", tc.user, tc.pass, err)
		}
		if tc.ok && err == nil && !strings.HasPrefix(strings.ToLower(r.User), "alice") {
			t.Errorf("user %q", r.User)
		}
		// A challenge verifies once (no replay).
		if _, err := c.Authenticate(am); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("replay: %v", err)
		}
	}
}

func TestNTLMParseErrors(t *testing.T) {
	for _, b := range [][]byte{
		nil, []byte("NTLMSSP"), []byte("NTLMSSX\x00\x01\x00\x00\x00"),
		append([]byte("NTLMSSP\x00\x02\x00\x00\x00"), make([]byte, 10)...),
	} {
		if _, err := ParseNegotiate(b); !errors.Is(err, ErrNTLMMessage) {
			t.Errorf("ParseNegotiate(%q): %v", b, err)
		}
		if _, err := ParseAuthenticate(b); !errors.Is(err, ErrNTLMMessage) {
			t.Errorf("ParseAuthenticate(%q): %v", b, err)
		}
	}
	a := unhex(t, vecAuthenticate)
	a[20+4] = 0xF0 // NtChallengeResponse offset far outside
	if _, err := ParseAuthenticate(a); !errors.Is(err, ErrNTLMMessage) {
		t.Errorf("bad offset: %v", err)
	}
	c := unhex(t, vecChallenge)
	c[len(c)-4] = 9 // EOL becomes an AV_PAIR that runs past the end
	if _, err := ParseChallenge(c); !errors.Is(err, ErrNTLMMessage) {
		t.Errorf("bad AV_PAIR: %v", err)
	}
}

func hexBytes(s string) ([]byte, error) {
	return hex.DecodeString(strings.Join(strings.Fields(s), ""))
}
