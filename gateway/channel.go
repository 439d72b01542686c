package gateway

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/mmsgate/mmsgate/store"
)

// Channel is a configured upstream (store.Channel is its persisted form).
type Channel = store.Channel

// Accepted values of the channel fields (fixed; unexported so that no caller
// can change them).
var (
	schemes    = []string{"mms", "mmst", "mmsu", "mmsh", "http", "https"} // http(s): MMSH or an ASX metafile
	transports = []string{"auto", "udp", "tcp", "http"}
	outputs    = []string{"hls", "llhls", "asf"}
	transcodes = []string{"auto", "always", "never"}
)

var (
	nameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	languageRE = regexp.MustCompile(`^[A-Za-z0-9-]{0,35}$`)
)

const (
	maxURLLen        = 2048
	maxCredentialLen = 256
	maxBandwidthCap  = 10_000_000_000
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// ValidName reports whether name may name a channel: 1 to 64 URL-safe
// characters (letters, digits, '-', '_'), starting with a letter or digit.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Normalize validates c, fills defaults and moves credentials from the URL
// into Username and Password. It does not check the upstream address
// against the allow-list (Policy.CheckURL does).
func Normalize(c Channel) (Channel, error) {
	if !ValidName(c.Name) {
		return c, invalid("name must be 1-64 letters, digits, '-' or '_', starting with a letter or digit")
	}
	if len(c.URL) > maxURLLen {
		return c, invalid("url longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return c, invalid("url does not parse")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if !slices.Contains(schemes, u.Scheme) {
		return c, invalid("url scheme must be one of %s", strings.Join(schemes, ", "))
	}
	if u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return c, invalid("url needs a host")
	}
	if u.Fragment != "" {
		return c, invalid("url must not have a fragment")
	}
	if u.User != nil {
		if c.Username == "" {
			c.Username = u.User.Username()
		}
		if p, ok := u.User.Password(); ok && c.Password == "" {
			c.Password = p
		}
		u.User = nil
	}
	c.URL = u.String()
	if c.Transport == "" {
		c.Transport = map[string]string{"mmst": "tcp", "mmsu": "udp", "mmsh": "http", "http": "http", "https": "http"}[u.Scheme]
		if c.Transport == "" {
			c.Transport = "auto"
		}
	}
	if !slices.Contains(transports, c.Transport) {
		return c, invalid("transport must be one of %s", strings.Join(transports, ", "))
	}
	switch {
	case u.Scheme == "mmst" && c.Transport != "tcp" && c.Transport != "auto",
		u.Scheme == "mmsu" && c.Transport != "udp" && c.Transport != "auto",
		(u.Scheme == "mmsh" || u.Scheme == "http" || u.Scheme == "https") && c.Transport != "http" && c.Transport != "auto":
		return c, invalid("transport %s contradicts the url scheme %s", c.Transport, u.Scheme)
	}
	if len(c.Username) > maxCredentialLen || len(c.Password) > maxCredentialLen {
		return c, invalid("username and password are limited to %d bytes", maxCredentialLen)
	}
	if strings.ContainsFunc(c.Username+c.Password, unicode.IsControl) {
		return c, invalid("username and password must not contain control characters")
	}
	if len(c.Outputs) == 0 {
		c.Outputs = []string{"hls", "asf"}
	}
	var outs []string
	for _, o := range c.Outputs {
		if !slices.Contains(outputs, o) {
			return c, invalid("outputs must be taken from %s", strings.Join(outputs, ", "))
		}
		if !slices.Contains(outs, o) {
			outs = append(outs, o)
		}
	}
	c.Outputs = outs
	if c.Transcode == "" {
		c.Transcode = "auto"
	}
	if !slices.Contains(transcodes, c.Transcode) {
		return c, invalid("transcode must be one of %s", strings.Join(transcodes, ", "))
	}
	if c.MaxBandwidth < 0 || c.MaxBandwidth > maxBandwidthCap {
		return c, invalid("max_bandwidth must be between 0 (no cap) and %d bits/s", int64(maxBandwidthCap))
	}
	if c.MMSHPort < 0 || c.MMSHPort > 65535 {
		return c, invalid("mmsh_port must be between 0 (the gateway's default) and 65535")
	}
	if c.MMSHPort != 0 && u.Scheme != "mms" {
		// Only an mms:// URL rolls over to MMSH (the overview's protocol
		// rollover); other schemes name their port in the URL.
		return c, invalid("mmsh_port applies to mms:// urls only; put the port in the url")
	}
	if !languageRE.MatchString(c.Language) {
		return c, invalid("language must be a language tag such as en-US")
	}
	return c, nil
}

// HasOutput reports whether c serves output o ("hls", "llhls", "asf").
func HasOutput(c Channel, o string) bool {
	if o == "hls" {
		return slices.Contains(c.Outputs, "hls") || slices.Contains(c.Outputs, "llhls")
	}
	return slices.Contains(c.Outputs, o)
}
