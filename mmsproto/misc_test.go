package mmsproto

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSeqTracker(t *testing.T) {
	var tr SeqTracker
	var got []uint32
	// 0..599 in order, AFFlags wrapping twice, with a duplicate and a late packet.
	for i := uint32(0); i < 600; i++ {
		got = append(got, tr.Next(uint8(i)))
		if i == 300 {
			if s := tr.Next(298 & 0xFF); s != 298 {
				t.Fatalf("late packet 298 read as %d", s)
			}
			if s := tr.Next(300 & 0xFF); s != 300 {
				t.Fatalf("duplicate 300 read as %d", s)
			}
		}
	}
	for i, s := range got {
		if s != uint32(i) {
			t.Fatalf("packet %d read as %d", i, s)
		}
	}
	if tr.Last() != 599 {
		t.Fatalf("Last %d", tr.Last())
	}
	// A gap of 100 lost packets is still read forward.
	if s := tr.Next(700 & 0xFF); s != 700 {
		t.Fatalf("after gap: %d", s)
	}
	tr.Reset()
	if s := tr.Next(0); s != 0 {
		t.Fatalf("after Reset: %d", s)
	}
	// Early reordering at the start never goes below zero.
	tr.Reset()
	tr.Next(2)
	if s := tr.Next(250); s != 250 {
		t.Fatalf("start: %d", s)
	}
}

func TestRequestPacketListResend(t *testing.T) {
	r := &RequestPacketListResend{ClientID: 0xC0FFEE, SourceID: 5, Packets: []uint32{300, 301, 70000}}
	b := r.Marshal()
	if len(b) != 24 || !bytes.Equal(b[:4], []byte{0x0D, 0xF0, 0xEF, 0xBE}) {
		t.Fatalf("% x", b)
	}
	var q RequestPacketListResend
	if err := q.Unmarshal(b); err != nil || !reflect.DeepEqual(&q, r) {
		t.Fatalf("%v %+v", err, q)
	}
	bad := func(f func(b []byte) []byte) error {
		return new(RequestPacketListResend).Unmarshal(f(bytes.Clone(b)))
	}
	if err := bad(func(b []byte) []byte { b[0] = 0; return b }); !errors.Is(err, ErrBadSignature) {
		t.Error(err)
	}
	if err := bad(func(b []byte) []byte { return b[:len(b)-1] }); !errors.Is(err, ErrBadLength) {
		t.Error(err)
	}
	if err := bad(func(b []byte) []byte { return append(b, 0, 0, 0, 0) }); !errors.Is(err, ErrBadLength) {
		t.Error(err)
	}
	if err := bad(func(b []byte) []byte { b[10], b[11] = 0, 0; return b }); !errors.Is(err, ErrBadValue) {
		t.Error(err)
	}
	if err := bad(func(b []byte) []byte { b[10] = 33; return b }); !errors.Is(err, ErrBadValue) {
		t.Error(err)
	}
	if err := bad(func(b []byte) []byte { return b[:7] }); !errors.Is(err, ErrShort) {
		t.Error(err)
	}
}

func TestClientLog(t *testing.T) {
	l := testClientLog()
	b := l.Marshal()
	if len(b) != ClientLogSize {
		t.Fatalf("%d bytes", len(b))
	}
	if n := len(l.Info.Append(nil)); n != ClientLogInfoSize {
		t.Fatalf("CLIENT_LOG_INFO %d bytes", n)
	}
	var q ClientLog
	if err := q.Unmarshal(b); err != nil || !reflect.DeepEqual(q, l) {
		t.Fatalf("%v\n%+v", err, q)
	}
	// Field offsets from the diagrams of 2.2.1.1 and 2.2.1.2.
	if string(b[4+4:4+4+19]) != "mms://host/clip.asf" || string(b[4+1142+8+260+16+8+16:][:3]) != "mms" {
		t.Fatal("string field offsets")
	}
	// Empty strings are sent as "-" (2.2.1); long ones truncated, NUL kept.
	var e ClientLog
	e.Info.URL = strings.Repeat("u", 400)
	var f ClientLog
	if err := f.Unmarshal(e.Marshal()); err != nil || f.Proto != "-" || len(f.Info.URL) != 259 {
		t.Fatalf("%v %q %d", err, f.Proto, len(f.Info.URL))
	}
	var info ClientLogInfo
	if err := info.Unmarshal(b[4:]); err != nil || info != l.Info {
		t.Fatalf("info: %v", err)
	}
}

func TestNTLMTokenForms(t *testing.T) {
	msg := append([]byte("NTLMSSP\x00"), 1, 0, 0, 0, 0xAA)
	for _, wrap := range []bool{false, true} {
		tok := AppendNTLMToken(nil, msg, wrap)
		if tok[0] != 0 || tok[1] != 0 {
			t.Fatal("leading zero bytes")
		}
		got, err := NTLMToken(tok)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("wrap=%v: %v % x", wrap, err, got)
		}
		// tokenData of OpenFile may come without the two zero bytes.
		got, err = NTLMToken(tok[2:])
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("wrap=%v bare: %v % x", wrap, err, got)
		}
	}
	var a NTLMAuth
	wrapped := (&NTLMAuth{Reserved1: 7, Token: msg}).Append(nil)
	if err := a.Unmarshal(wrapped); err != nil || a.Reserved1 != 7 || !bytes.Equal(a.Token, msg) {
		t.Fatal(err)
	}
	wrapped[12] = 200
	if err := a.Unmarshal(wrapped); !errors.Is(err, ErrBadLength) {
		t.Fatal(err)
	}
	wrapped[4] = 3
	if err := a.Unmarshal(wrapped); !errors.Is(err, ErrBadSignature) {
		t.Fatal(err)
	}
	if _, err := NTLMToken([]byte{0, 0, 1, 2, 3}); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestBasicChallenge(t *testing.T) {
	tok := BasicChallengeToken("Media")
	if !bytes.Equal(tok, AppendUTF16Z(nil, `realm="Media"`)) {
		t.Fatal(tok)
	}
	for in, want := range map[string]string{`realm="Media"`: "Media", `REALM=x`: "x", ``: "", `realm=""`: ""} {
		got, err := ParseBasicChallenge(AppendUTF16Z(nil, in))
		if err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	if _, err := ParseBasicChallenge(AppendUTF16Z(nil, "nonsense")); !errors.Is(err, ErrBadValue) {
		t.Error(err)
	}
}

func TestSubscriberName(t *testing.T) {
	cases := map[string]SubscriberName{
		"Spooooon!": {Token: "Spooooon!"},
		"Spoooon!":  {Token: "Spoooon!"},
		"NSPlayer/4.1.0.3928; {68c0a090-8797-11d2-a2b3-00a0c9b60551}": {Token: "NSPlayer", Version: "4.1.0.3928", Major: 4, Minor: 1,
			GUID: "68c0a090-8797-11d2-a2b3-00a0c9b60551"},
		"NSPlayer/9.0.0.2980; {3300AD50-2C39-46c0-AE0A-70A7E2BE3F2A}; Host: a.example:1755\x00HOST: a.example:1755\x00VIA: proxy/1.0, p2": {
			Token: "NSPlayer", Version: "9.0.0.2980", Major: 9, GUID: "3300AD50-2C39-46c0-AE0A-70A7E2BE3F2A",
			Host: "a.example:1755", HostString: "a.example:1755", Via: "proxy/1.0, p2"},
	}
	for in, want := range cases {
		got, err := ParseSubscriberName(in)
		if err != nil || got != want {
			t.Errorf("%q:\n got %+v %v\nwant %+v", in, got, err, want)
		}
		if strings.HasPrefix(in, "Spoo") != got.IsWMS4() {
			t.Errorf("%q: IsWMS4 %v", in, got.IsWMS4())
		}
	}
	if _, err := ParseSubscriberName(" ; x"); err == nil {
		t.Error("empty token accepted")
	}
}

func TestFunnelName(t *testing.T) {
	for in, want := range map[string]string{
		`\\192.168.0.129\TCP\1037`:         `\\192.168.0.129\TCP\1037`,
		`\\192.168.0.1\TCP\1242` + "\x000": `\\192.168.0.1\TCP\1242`,
		`\\::1\udp\7000`:                   `\\::1\UDP\7000`,
	} {
		fn, err := ParseFunnelName(in)
		if err != nil || fn.String() != want {
			t.Errorf("%q: %v %v", in, fn, err)
		}
	}
	for _, in := range []string{``, `\\1.2.3.4\TCP`, `\\1.2.3.4\SCTP\1`, `\\1.2.3.4\UDP\x`, `\\1.2.3.4\UDP\99999`} {
		if _, err := ParseFunnelName(in); !errors.Is(err, ErrBadValue) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestUTF16(t *testing.T) {
	for _, s := range []string{"", "abc", "média/fichier.asf", "𝄞 clef", "日本"} {
		b := AppendUTF16Z(nil, s)
		if len(b) != 2*(UTF16Len(s)+1) || DecodeUTF16Z(b) != s || DecodeUTF16(b[:len(b)-2]) != s {
			t.Errorf("%q: % x", s, b)
		}
	}
	if DecodeUTF16([]byte{0x41, 0}) != "A" || DecodeUTF16([]byte{0x41, 0, 0x42}) != "A" {
		t.Error("odd length")
	}
	if DecodeUTF16([]byte{0x00, 0xD8}) != "\uFFFD" {
		t.Error("lone surrogate")
	}
}
