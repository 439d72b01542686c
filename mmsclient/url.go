package mmsclient

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DefaultPort is the registered MMS port for TCP and UDP (2.1).
const DefaultPort = "1755"

// target is a parsed mms:// URL.
type target struct {
	URL        *url.URL // without credentials
	Host       string   // host:port
	Path       string   // what LinkViewerToMacOpenFile carries
	Transport  string   // forced by the scheme: "udp" for mmsu, "tcp" for mmst, "" for mms
	User, Pass string
}

// parseURL accepts mms://, mmsu:// and mmst:// URLs (2.2.4.9).
func parseURL(raw string) (*target, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("mmsclient: bad URL: %w", err)
	}
	t := &target{}
	switch strings.ToLower(u.Scheme) {
	case "mms":
	case "mmsu":
		t.Transport = TransportUDP
	case "mmst":
		t.Transport = TransportTCP
	default:
		return nil, fmt.Errorf("mmsclient: unsupported scheme %q in %q (want mms, mmsu or mmst)", u.Scheme, raw)
	}
	if u.Hostname() == "" {
		return nil, errors.New("mmsclient: URL has no host")
	}
	port := u.Port()
	if port == "" {
		port = DefaultPort
	}
	t.Host = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		t.User = u.User.Username()
		t.Pass, _ = u.User.Password()
	}
	// OpenFile carries the path (and query) without the leading slash, as
	// the open clients send it; servers resolve it under their root.
	p := strings.TrimPrefix(u.Path, "/")
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	t.Path = p
	clean := *u
	clean.User = nil
	t.URL = &clean
	return t, nil
}

// resolveRedirect interprets the location of a LinkMacToViewerReportRedirect
// relative to the current URL. Percent-encoding "MUST NOT be used" there
// (2.2.4.9), so a location that fails to parse is an error.
func resolveRedirect(cur *url.URL, location string) (*target, error) {
	loc, err := url.Parse(strings.TrimSpace(location))
	if err != nil {
		return nil, fmt.Errorf("mmsclient: bad redirect location %q: %w", location, err)
	}
	abs := cur.ResolveReference(loc)
	return parseURL(abs.String())
}
