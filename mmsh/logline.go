package mmsh

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/mmsgate/mmsgate/mmsproto"
)

// The log-line token (2.2.1.4.10) carries a "legacy" log of MS-WMLOG: the
// W3C fields of a Windows Media Services 4.1 log entry, separated by
// spaces, "-" for an empty field, "_" for a space. MS-WMLOG itself is not
// in our spec folder; the field list and order are those Microsoft
// documents for the server's client-log buffer ("Log Data Format",
// Windows Media Services SDK) and that begin the W3C line of MS-WMLOG's
// own example (3.3, TestParseLogLineWMLOGExample), which later logs extend
// with server fields and cs-url. The meaning of each field is that of the
// same figure in MMS's CLIENT_LOG (MS-MMSP 2.2.1), so both protocols' logs
// fill one type, mmsproto.ClientLog. Times are whole seconds, versions
// a.b.c.d, cs-uri-stem the full URL, as in that example.
var logFields = [...]string{
	"c-ip", "date", "time", "c-dns", "cs-uri-stem", "c-starttime", "x-duration", "c-rate", "c-status",
	"c-playerid", "c-playerversion", "c-playerlanguage", "cs(User-Agent)", "cs(Referer)", "c-hostexe",
	"c-hostexever", "c-os", "c-osversion", "c-cpu", "filelength", "filesize", "avgbandwidth", "protocol",
	"transport", "audiocodec", "videocodec", "channelURL", "sc-bytes", "c-bytes", "s-pkts-sent",
	"c-pkts-received", "c-pkts-lost-client", "c-pkts-lost-net", "c-pkts-lost-cont-net", "c-resendreqs",
	"c-pkts-recovered-ECC", "c-pkts-recovered-resent", "c-buffercount", "c-totalbuffertime", "c-quality",
}

// Limits of ParseLogLine.
const (
	MaxLogLine   = 16 << 10 // bytes of a log-line value
	minLogFields = 31       // up to c-pkts-received: the figures that matter
	maxLogFields = 64       // later servers' logs append s-ip, s-dns, ...
	statusOK     = "200"    // c-status of a play that ended normally
	statusFailed = "400"    // any other end
	hrFailed     = 0x80004005
)

// ErrLogLine reports a log-line that does not have the legacy syntax.
var ErrLogLine = errors.New("mmsh: malformed log-line")

// AppendLogLine appends the log-line value (without "log-line=") for l,
// dated t: every field of logFields, in order. The server-generated
// fields sc-bytes and s-pkts-sent are "-".
func AppendLogLine(b []byte, l *mmsproto.ClientLog, t time.Time) []byte {
	in := &l.Info
	t = t.UTC()
	str := func(s string) { b = appendW3C(b, s); b = append(b, ' ') }
	num := func(n uint64) { b = strconv.AppendUint(b, n, 10); b = append(b, ' ') }
	secs := func(ms uint32) { num(uint64((ms + 500) / 1000)) }
	if l.IPAddress == 0xFFFFFFFF || l.IPAddress == 0 {
		str("")
	} else {
		ip := l.IPAddress
		str(netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}).String())
	}
	str(t.Format("2006-01-02"))
	str(t.Format("15:04:05"))
	str(l.ComputerDNS)
	str(in.URL)
	secs(in.StartTime)
	secs(in.Played)
	b = strconv.AppendInt(b, int64(in.Rate), 10)
	b = append(b, ' ')
	if in.HR == 0 {
		str(statusOK)
	} else {
		str(statusFailed)
	}
	str(in.UniquePID)
	str(formatVersion(in.ClientVersion))
	str(in.Lang)
	str(in.UserAgent)
	str(in.HostingWebPage)
	str(in.HostExe)
	str(formatVersion(in.HostExeVer))
	str(l.OS)
	str(formatVersion(l.OSVersion))
	str(l.CPU)
	secs(in.FileDuration)
	num(in.FileSize)
	num(uint64(in.AvgBandwidthBps))
	str(l.Proto)
	str(l.Transport)
	str(in.AudioCodec)
	str(in.VideoCodec)
	str(in.ChannelURL)
	str("") // sc-bytes
	num(in.BytesReceived)
	str("") // s-pkts-sent
	for _, n := range []uint32{in.PacketsReceived, in.PacketsLostClient, l.PacketsLostNet, l.PacketsLostContNet,
		l.ResendRequests, in.PacketsRecoveredECC, l.PacketsRecoveredResent, in.BufferingCount} {
		num(uint64(n))
	}
	secs(in.BufferingTime)
	return strconv.AppendUint(b, uint64(in.MinReceptionQuality), 10)
}

// appendW3C appends s as one w3c-token (*VCHAR, 2.2.1.4.10): "-" when
// empty, spaces as "_" (the convention of those logs: "Mozilla/4.0_(compatible;...)"),
// and other bytes outside VCHAR, and the Pragma separators ',' and '"', as
// %XX.
func appendW3C(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ':
			b = append(b, '_')
		case c <= ' ' || c >= 0x7F || c == ',' || c == '"':
			b = append(b, '%', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return b
}

// formatVersion writes a version of four 16-bit parts as a.b.c.d.
func formatVersion(v uint64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d.%d", v>>48, v>>32&0xFFFF, v>>16&0xFFFF, v&0xFFFF)
}

func parseVersion(s string) (uint64, bool) {
	if s == "-" {
		return 0, true
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return 0, false
	}
	var v uint64
	for i := range 4 {
		var n uint64
		if i < len(parts) {
			var err error
			if n, err = strconv.ParseUint(parts[i], 10, 16); err != nil {
				return 0, false
			}
		}
		v = v<<16 | n
	}
	return v, true
}

// ParseLogLine parses a log-line value (without "log-line="): at least
// the fields up to c-pkts-received, at most maxLogFields, numbers where
// numbers belong ("-" is zero). Fields are kept as sent ("_" is not turned
// back into spaces); a time in seconds may have a fraction. It returns
// ErrLogLine for anything else; it does not panic on any input.
func ParseLogLine(s string) (mmsproto.ClientLog, error) {
	var l mmsproto.ClientLog
	if len(s) > MaxLogLine {
		return l, fmt.Errorf("%w: %d bytes, more than %d", ErrLogLine, len(s), MaxLogLine)
	}
	f := strings.Fields(s)
	if len(f) < minLogFields || len(f) > maxLogFields {
		return l, fmt.Errorf("%w: %d fields, want %d to %d", ErrLogLine, len(f), minLogFields, maxLogFields)
	}
	for len(f) < len(logFields) {
		f = append(f, "-")
	}
	p := logParser{f: f, bad: -1}
	in := &l.Info
	l.IPAddress = 0xFFFFFFFF
	if a, err := netip.ParseAddr(f[0]); err == nil && a.Is4() {
		b := a.As4()
		l.IPAddress = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	l.ComputerDNS, in.URL = p.str(3), p.str(4)
	in.StartTime, in.Played = p.ms(5), p.ms(6)
	if r, err := strconv.ParseInt(f[7], 10, 16); err == nil {
		in.Rate = int16(r)
	} else if f[7] != "-" {
		p.fail(7)
	}
	if f[8] != statusOK && f[8] != "-" {
		in.HR = hrFailed
	}
	in.UniquePID = p.str(9)
	in.ClientVersion = p.version(10)
	in.Lang, in.UserAgent, in.HostingWebPage, in.HostExe = p.str(11), p.str(12), p.str(13), p.str(14)
	in.HostExeVer = p.version(15)
	l.OS, l.OSVersion, l.CPU = p.str(16), p.version(17), p.str(18)
	in.FileDuration, in.FileSize, in.AvgBandwidthBps = p.ms(19), p.u64(20), p.u32(21)
	l.Proto, l.Transport = p.str(22), p.str(23)
	in.AudioCodec, in.VideoCodec, in.ChannelURL = p.str(24), p.str(25), p.str(26)
	in.BytesReceived = p.u64(28)
	in.PacketsReceived, in.PacketsLostClient = p.u32(30), p.u32(31)
	l.PacketsLostNet, l.PacketsLostContNet, l.ResendRequests = p.u32(32), p.u32(33), p.u32(34)
	in.PacketsRecoveredECC, l.PacketsRecoveredResent = p.u32(35), p.u32(36)
	in.BufferingCount, in.BufferingTime, in.MinReceptionQuality = p.u32(37), p.ms(38), p.u32(39)
	if p.bad >= 0 {
		return l, fmt.Errorf("%w: field %s is %.40q", ErrLogLine, logFields[p.bad], f[p.bad])
	}
	return l, nil
}

// logParser reads fields of a split log-line; bad is the first field
// that did not parse (-1: none).
type logParser struct {
	f   []string
	bad int
}

func (p *logParser) fail(i int) {
	if p.bad < 0 || i < p.bad {
		p.bad = i
	}
}

func (p *logParser) str(i int) string {
	if p.f[i] == "-" {
		return ""
	}
	return p.f[i]
}

func (p *logParser) u64(i int) uint64 {
	if p.f[i] == "-" {
		return 0
	}
	n, err := strconv.ParseUint(p.f[i], 10, 64)
	if err != nil {
		p.fail(i)
	}
	return n
}

func (p *logParser) u32(i int) uint32 {
	if p.f[i] == "-" {
		return 0
	}
	n, err := strconv.ParseUint(p.f[i], 10, 32)
	if err != nil {
		p.fail(i)
	}
	return uint32(n)
}

// ms reads seconds (with an optional fraction) as milliseconds.
func (p *logParser) ms(i int) uint32 {
	if p.f[i] == "-" {
		return 0
	}
	v, err := strconv.ParseFloat(p.f[i], 64)
	ms := math.Round(v * 1000)
	if err != nil || !(ms >= 0 && ms <= 1<<32-1) { // also NaN
		p.fail(i)
		return 0
	}
	return uint32(ms)
}

func (p *logParser) version(i int) uint64 {
	v, ok := parseVersion(p.f[i])
	if !ok {
		p.fail(i)
	}
	return v
}
