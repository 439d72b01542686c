package mmsproto

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// SubscriberName is the parsed subscriberName of LinkViewerToMacConnect
// (2.2.4.17):
//
//	client-token [ "; Host: " host-info ] NUL [ "HOST: " host-info NUL ] [ "VIA: " via-info NUL ]
//	client-token = "Spooooon!" / ( "NSPlayer" "/" major "." minor "; {" GUID "}" )
type SubscriberName struct {
	Token      string // "NSPlayer", or the WMS 4.x token as sent
	Version    string // "7.0.0.1956" (empty for the WMS 4.x token)
	Major      int
	Minor      int
	GUID       string // without braces
	Host       string // from "; Host: "
	HostString string // from "HOST: "
	Via        string // from "VIA: "
}

// IsWMS4 reports whether the client identified itself as Windows Media
// Services 4.0 or 4.1. Both spellings of the token are accepted: the ABNF of
// 2.2.4.17 writes "Spooooon!" (five o), its table and <17> "Spoooon!" (four).
func (s *SubscriberName) IsWMS4() bool {
	return s.Token == "Spooooon!" || s.Token == "Spoooon!"
}

// ParseSubscriberName parses the field leniently: real clients add or omit
// parts (FFmpeg sends "NSPlayer/7.0.0.1956; {GUID}; Host: host" as one
// string). It fails only when no client token can be found.
func ParseSubscriberName(s string) (SubscriberName, error) {
	var sn SubscriberName
	parts := strings.Split(s, "\x00")
	first := parts[0]
	for _, p := range parts[1:] {
		switch {
		case hasPrefixFold(p, "HOST: "):
			sn.HostString = strings.TrimSpace(p[len("HOST: "):])
		case hasPrefixFold(p, "VIA: "):
			sn.Via = strings.TrimSpace(p[len("VIA: "):])
		}
	}
	fields := strings.Split(first, ";")
	tok := strings.TrimSpace(fields[0])
	if tok == "" {
		return sn, fmt.Errorf("%w: subscriberName %q has no client token", ErrBadValue, s)
	}
	if name, ver, ok := strings.Cut(tok, "/"); ok {
		sn.Token, sn.Version = name, ver
		nums := strings.Split(ver, ".")
		sn.Major, _ = strconv.Atoi(nums[0])
		if len(nums) > 1 {
			sn.Minor, _ = strconv.Atoi(nums[1])
		}
	} else {
		sn.Token = tok
	}
	for _, f := range fields[1:] {
		f = strings.TrimSpace(f)
		switch {
		case strings.HasPrefix(f, "{") && strings.HasSuffix(f, "}"):
			sn.GUID = f[1 : len(f)-1]
		case hasPrefixFold(f, "Host:"):
			sn.Host = strings.TrimSpace(f[len("Host:"):])
		}
	}
	return sn, nil
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && equalFoldASCII(s[:len(p)], p)
}

// FunnelName is the parsed funnelName of LinkViewerToMacConnectFunnel
// (2.2.4.18): `\\` ip-addr `\` proto `\` port.
type FunnelName struct {
	Addr  netip.Addr // may be unspecified (clients often send 127.0.0.1 or 0.0.0.0)
	Proto string     // "TCP" or "UDP" (upper case)
	Port  int
}

// ParseFunnelName parses funnelName leniently, as real clients deviate:
// FFmpeg sends `\\127.0.0.1\TCP\1037`, VLC appends a stray character after
// the port (see the golden tests), and the address may be a host name.
// Unknown addresses are left invalid. It fails when the transport or port
// cannot be read.
func ParseFunnelName(s string) (FunnelName, error) {
	var fn FunnelName
	t := strings.TrimLeft(s, `\`)
	parts := strings.Split(t, `\`)
	if len(parts) < 3 {
		return fn, fmt.Errorf("%w: funnelName %q is not \\\\ip\\proto\\port", ErrBadValue, s)
	}
	fn.Addr, _ = netip.ParseAddr(strings.Trim(parts[0], "[]"))
	fn.Proto = strings.ToUpper(strings.TrimSpace(parts[1]))
	if fn.Proto != "TCP" && fn.Proto != "UDP" {
		return fn, fmt.Errorf("%w: funnelName %q: transport %q", ErrBadValue, s, parts[1])
	}
	p := parts[2]
	end := 0
	for end < len(p) && p[end] >= '0' && p[end] <= '9' {
		end++
	}
	port, err := strconv.Atoi(p[:end])
	if err != nil || port < 0 || port > 65535 {
		return fn, fmt.Errorf("%w: funnelName %q: port %q", ErrBadValue, s, p)
	}
	fn.Port = port
	return fn, nil
}

// String formats the funnel name as 2.2.4.18 writes it.
func (f FunnelName) String() string {
	return `\\` + f.Addr.String() + `\` + f.Proto + `\` + strconv.Itoa(f.Port)
}
