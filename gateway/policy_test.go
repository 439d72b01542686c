package gateway

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestParseLiteralIP(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"169.254.169.254", "169.254.169.254"},
		{"2852039166", "169.254.169.254"},
		{"0xA9FEA9FE", "169.254.169.254"},
		{"0251.0376.0251.0376", "169.254.169.254"},
		{"169.254.43518", "169.254.169.254"},
		{"169.16689662", "169.254.169.254"},
		{"0xa9.0xfe.0xa9.0xfe", "169.254.169.254"},
		{"[::ffff:169.254.169.254]", "::ffff:169.254.169.254"},
		{"::ffff:a9fe:a9fe", "::ffff:169.254.169.254"},
		{"fe80::1%eth0", "fe80::1"},
		{"127.1", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"169.254.169.254.", "169.254.169.254"},
	} {
		a, ok := ParseLiteralIP(c.in)
		if !ok || a.String() != c.want {
			t.Errorf("%s: %v %v, want %s", c.in, a, ok, c.want)
		}
	}
	for _, s := range []string{"example.com", "1.2.3.4.5", "256.1.1.1", "0x1g", "", "4294967296", "1..2", "a.b.c.d"} {
		if a, ok := ParseLiteralIP(s); ok {
			t.Errorf("%q parsed as %v", s, a)
		}
	}
}

func TestPolicy(t *testing.T) {
	var p Policy
	for _, h := range []string{"169.254.169.254", "2852039166", "[::ffff:169.254.169.254]", "127.0.0.1", "10.0.0.1",
		"192.168.1.1", "172.16.0.1", "::1", "fe80::1", "fc00::1", "0.0.0.0", "224.0.0.1", "100.64.0.1", "localhost",
		"LOCALHOST.", "[64:ff9b::a9fe:a9fe]", "127.1"} {
		if err := p.AllowHost(h); !errors.Is(err, ErrUpstreamDenied) {
			t.Errorf("%s allowed: %v", h, err)
		}
	}
	for _, h := range []string{"93.184.216.34", "example.com", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8:1755"} {
		if err := p.AllowHost(h); err != nil {
			t.Errorf("%s denied: %v", h, err)
		}
	}
	p.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	if err := p.AllowHost("10.1.2.3"); err != nil {
		t.Error(err)
	}
	if err := p.AllowHost("[::1]"); err != nil {
		t.Error(err)
	}
	if err := p.AllowHost("11.0.0.1"); err != nil {
		t.Error(err)
	}
	if err := p.CheckURL("mms://[::ffff:10.0.0.1]/x"); err != nil {
		t.Errorf("mapped allowed address: %v", err)
	}
	if err := p.CheckURL("mms://192.168.0.1/x"); !errors.Is(err, ErrUpstreamDenied) {
		t.Errorf("192.168.0.1: %v", err)
	}
}

// TestDialResolved dials a name that resolves to loopback: the Control hook
// refuses the resolved address although the name passed AllowHost.
func TestDialResolved(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	var p Policy
	d := net.Dialer{Control: p.Control}
	_, err = d.DialContext(context.Background(), "tcp", "localhost:"+port)
	if !errors.Is(err, ErrUpstreamDenied) {
		t.Fatalf("localhost dialled: %v", err)
	}
	if _, err := p.DialContext(context.Background(), "tcp", "2130706433:"+port); !errors.Is(err, ErrUpstreamDenied) {
		t.Fatalf("decimal loopback dialled: %v", err)
	}
	p.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	c, err := p.DialContext(context.Background(), "tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("allowed loopback: %v", err)
	}
	c.Close()
}

func FuzzParseLiteralIP(f *testing.F) {
	for _, s := range []string{"169.254.169.254", "2852039166", "0xA9FEA9FE", "[::ffff:1.2.3.4]", "1.2.3", "0x", "08.1.1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := ParseLiteralIP(s)
		if ok && !a.IsValid() {
			t.Fatalf("%q: ok with an invalid address", s)
		}
		// Every literal the dialer could reach must be judged like its
		// canonical form.
		if ok {
			var p Policy
			e1, e2 := p.AllowHost(s), p.CheckAddr(a)
			if (e1 == nil) != (e2 == nil) {
				t.Fatalf("%q: AllowHost %v, CheckAddr(%v) %v", s, e1, a, e2)
			}
		}
	})
}
