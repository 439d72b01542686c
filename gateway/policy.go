package gateway

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Policy decides which upstream addresses the gateway may connect to.
// Private, loopback, link-local, unspecified, multicast and other
// special-purpose ranges are denied unless a prefix of Allow contains the
// address. The check runs on the resolved address at dial time (Dialer's
// Control hook), so hostnames, decimal and IPv4-mapped spellings cannot slip
// through; CheckURL and AllowHost additionally refuse literal addresses
// early, at creation and on each redirect hop.
type Policy struct {
	Allow []netip.Prefix
	// Resolver resolves upstream names; nil uses net.DefaultResolver.
	Resolver *net.Resolver
}

// denied lists the special-purpose ranges that are refused by default, beyond
// what netip.Addr's predicates cover.
var denied = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach any IPv4 address
	netip.MustParsePrefix("2002::/16"),    // 6to4 likewise
}

// CheckAddr returns an error wrapping ErrUpstreamDenied when a may not be
// dialled.
func (p Policy) CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	for _, pre := range p.Allow {
		if pre.Contains(a) {
			return nil
		}
	}
	bad := !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified()
	for _, pre := range denied {
		bad = bad || pre.Contains(a)
	}
	if bad {
		return fmt.Errorf("%w: %s is in a private, loopback, link-local or reserved range (allow it with -allow-upstream)",
			ErrUpstreamDenied, a)
	}
	return nil
}

// ParseLiteralIP recognises every spelling of an IP address that some
// resolver accepts: dotted quad, IPv6 (bracketed or not, with a zone), and
// the inet_aton forms (2852039166, 0xA9FEA9FE, 0251.0376.0251.0376, 169.254.43518).
func ParseLiteralIP(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(host); err == nil {
		return a.WithZone(""), true
	}
	if i := strings.IndexByte(host, '%'); i >= 0 {
		if a, err := netip.ParseAddr(host[:i]); err == nil {
			return a, true
		}
	}
	return parseInetAton(strings.TrimSuffix(host, "."))
}

// parseInetAton follows inet_aton(3): 1 to 4 parts, each decimal, octal
// (leading 0) or hex (0x); the last part fills the remaining bytes.
func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, part := range parts {
		if part == "" {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(part, 0, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals = append(vals, v)
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// AllowHost checks a host name or literal (as found in a URL or a redirect)
// before any connection: literal addresses in every spelling are checked
// now, names are checked when they resolve.
func (p Policy) AllowHost(host string) error {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" {
		return fmt.Errorf("%w: empty host", ErrUpstreamDenied)
	}
	if a, ok := ParseLiteralIP(host); ok {
		return p.CheckAddr(a)
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return fmt.Errorf("%w: localhost (allow 127.0.0.0/8 with -allow-upstream)", ErrUpstreamDenied)
	}
	return nil
}

// CheckURL checks the host of an upstream URL (see AllowHost).
func (p Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: url does not parse", ErrInvalid)
	}
	return p.AllowHost(u.Hostname())
}

// Control is a net.Dialer Control hook: it sees the address actually being
// connected to, after name resolution.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		host, _, _ := net.SplitHostPort(address)
		a, ok := ParseLiteralIP(host)
		if !ok {
			return fmt.Errorf("%w: cannot check address %q", ErrUpstreamDenied, address)
		}
		return p.CheckAddr(a)
	}
	return p.CheckAddr(ap.Addr())
}

// DialContext dials with the Control hook installed. Literal hosts in any
// inet_aton spelling are checked first, because some resolvers accept them
// as names.
func (p Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if err := p.AllowHost(host); err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 10 * time.Second, Control: p.Control, Resolver: p.Resolver}
	return d.DialContext(ctx, network, addr)
}
