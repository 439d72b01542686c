package mmsh

import (
	"fmt"
	"strconv"
	"strings"
)

// Pragma holds the Pragma tokens of MS-WMSP (2.2.1.4) that this package
// reads or writes. Absent numeric tokens are -1 after ParsePragma (Has*
// fields would double the struct); zero values are what NewPragma gives.
type Pragma struct {
	NoCache           bool
	ClientID          int64 // client-id, 2.2.1.4.5
	PlaylistGenID     int64 // playlist-gen-id, 2.2.1.4.18
	PlaylistSeekID    int64 // playlist-seek-id, 2.2.1.4.19
	XPlayStrm         int64 // xPlayStrm, 2.2.1.4.36 (0 or 1)
	XPlayNextEntry    bool  // 2.2.1.4.35
	XStopStrm         bool  // 2.2.1.4.38
	XResetStrm        bool  // 2.2.1.4.37
	XKeepAliveInPause bool  // 2.2.1.4.34
	PipelineRequest   bool  // 2.2.1.4.16
	PipelineResult    int64 // 2.2.1.4.17
	// PacketPairExperiment asks for (request) or announces (response)
	// the $P packets of a packet-pair experiment (2.2.1.4.14).
	PacketPairExperiment bool
	// PipelineExperiment says that pipeline requests are supported
	// (2.2.1.4.15).
	PipelineExperiment bool
	Version11Enabled   bool  // 2.2.1.4.30
	ExpectNewHeader    int64 // 2.2.1.4.7
	StreamSwitchCount  int64 // stream-switch-count, 2.2.1.4.26
	// StreamSwitch are the stream-switch-entry entries (2.2.1.4.27).
	StreamSwitch []SwitchEntry
	Rate         float64 // rate, 2.2.1.4.22; 0 when absent
	StreamTime   int64   // stream-time in ms, 2.2.1.4.28
	PacketNum    int64   // packet-num, 2.2.1.4.13
	// StreamOffset is stream-offset (2.2.1.4.25) as its two numbers.
	StreamOffset   [2]int64
	RequestContext int64 // request-context, 2.2.1.4.23
	MaxDuration    int64 // max-duration, 2.2.1.4.11
	Timeout        int64 // timeout in ms, 2.2.1.4.29
	XClientGUID    string
	// Features is the features token (2.2.1.4.8), nil when absent.
	Features []string
	// LogLine is the value of the log-line token (2.2.1.4.10). That
	// token has a Pragma header to itself, so the whole rest of its header
	// is the value: commas in it do not split it.
	LogLine string
	// Other keeps tokens this type does not name, lower-cased name to value.
	Other map[string]string
}

// SwitchEntry is one stream-switch-entry (2.2.1.4.27): From (0xffff: no
// stream) is switched to To with a thinning level: 0 all, 1 key frames
// only, 2 none (the stream is off).
type SwitchEntry struct {
	From, To uint16
	Thinning uint8
}

// Thinning levels of SwitchEntry.
const (
	ThinNone      uint8 = 0
	ThinKeyFrames uint8 = 1
	ThinOff       uint8 = 2
)

// Limits on what ParsePragma keeps from the network.
const (
	maxPragmaTokens  = 256
	maxSwitchEntries = 128 // ASF stream numbers are 1..127
	maxFeatures      = 16
)

// NewPragma returns a Pragma with every numeric token absent.
func NewPragma() Pragma {
	return Pragma{ClientID: -1, PlaylistGenID: -1, PlaylistSeekID: -1, XPlayStrm: -1, PipelineResult: -1,
		ExpectNewHeader: -1, StreamSwitchCount: -1, StreamTime: -1, PacketNum: -1, StreamOffset: [2]int64{-1, -1},
		RequestContext: -1, MaxDuration: -1, Timeout: -1}
}

// ParsePragma parses the values of every Pragma header of a message
// (http.Header's values for "Pragma"). It is lenient the way servers and
// clients have to be: unknown tokens go to Other, malformed values are
// skipped, and a numeric value is read up to its first non-digit (FFmpeg
// sends "stream-time=0Connection: Close"). It fails only when the input is
// beyond its limits.
func ParsePragma(values []string) (Pragma, error) {
	p := NewPragma()
	count := 0
	for _, v := range values {
		if line, ok := cutLogLine(v); ok {
			if count++; count > maxPragmaTokens {
				return p, fmt.Errorf("mmsh: more than %d Pragma tokens", maxPragmaTokens)
			}
			p.LogLine = line
			continue
		}
		for _, tok := range splitTokens(v) {
			if count++; count > maxPragmaTokens {
				return p, fmt.Errorf("mmsh: more than %d Pragma tokens", maxPragmaTokens)
			}
			name, val, _ := strings.Cut(tok, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			val = strings.TrimSpace(val)
			if err := p.set(name, val); err != nil {
				return p, err
			}
		}
	}
	return p, nil
}

// cutLogLine returns the value of a Pragma header that holds the log-line
// token (2.2.1.4.10).
func cutLogLine(v string) (string, bool) {
	v = strings.TrimSpace(v)
	const name = "log-line="
	if len(v) < len(name) || !strings.EqualFold(v[:len(name)], name) {
		return "", false
	}
	return strings.TrimSpace(v[len(name):]), true
}

// splitTokens splits a Pragma value at commas outside double quotes. The
// value of stream-switch-entry holds spaces, not commas.
func splitTokens(v string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	out = append(out, v[start:])
	kept := out[:0]
	for _, t := range out {
		if t = strings.TrimSpace(t); t != "" {
			kept = append(kept, t)
		}
	}
	return kept
}

// leadingUint parses the digits at the start of s (at most 10), -1 when
// there are none or the value exceeds 32 bits.
func leadingUint(s string) int64 {
	i := 0
	for i < len(s) && i < 11 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return -1
	}
	n, err := strconv.ParseUint(s[:i], 10, 32)
	if err != nil {
		return -1
	}
	return int64(n)
}

func (p *Pragma) set(name, val string) error {
	num := func(dst *int64) { *dst = leadingUint(val) }
	switch name {
	case "no-cache":
		p.NoCache = true
	case "client-id":
		num(&p.ClientID)
	case "playlist-gen-id":
		num(&p.PlaylistGenID)
	case "playlist-seek-id":
		num(&p.PlaylistSeekID)
	case "xplaystrm":
		num(&p.XPlayStrm)
	case "xplaynextentry":
		p.XPlayNextEntry = val == "1"
	case "xstopstrm":
		p.XStopStrm = val == "1"
	case "xresetstrm":
		p.XResetStrm = val == "1"
	case "xkeepaliveinpause":
		p.XKeepAliveInPause = val == "1"
	case "pipeline-request":
		p.PipelineRequest = val == "1"
	case "pipeline-result":
		num(&p.PipelineResult)
	case "packet-pair-experiment":
		p.PacketPairExperiment = val == "1"
	case "pipeline-experiment":
		p.PipelineExperiment = val == "1"
	case "version11-enabled":
		p.Version11Enabled = val == "1"
	case "expect-new-header":
		num(&p.ExpectNewHeader)
	case "stream-switch-count", "switch-stream-count": // the spec's own example uses the second spelling
		num(&p.StreamSwitchCount)
	case "stream-switch-entry", "switch-stream-entry":
		for _, e := range strings.Fields(val) {
			se, ok := parseSwitchEntry(e)
			if !ok {
				continue
			}
			if len(p.StreamSwitch) >= maxSwitchEntries {
				return fmt.Errorf("mmsh: more than %d stream-switch entries", maxSwitchEntries)
			}
			p.StreamSwitch = append(p.StreamSwitch, se)
		}
	case "rate":
		if r, err := strconv.ParseFloat(val, 64); err == nil && r >= -5 && r <= 5 {
			p.Rate = r
		}
	case "stream-time":
		num(&p.StreamTime)
	case "packet-num":
		num(&p.PacketNum)
	case "stream-offset":
		a, b, _ := strings.Cut(val, ":")
		p.StreamOffset = [2]int64{leadingUint(a), leadingUint(b)}
	case "request-context":
		num(&p.RequestContext)
	case "max-duration":
		num(&p.MaxDuration)
	case "timeout":
		num(&p.Timeout)
	case "xclientguid":
		if isGUID(val) {
			p.XClientGUID = val
		}
	case "log-line": // not alone on its header: what is left of it after the commas
		p.LogLine = val
	case "features":
		p.Features = []string{}
		for _, f := range strings.Split(strings.Trim(val, `"`), ",") {
			if f = strings.ToLower(strings.TrimSpace(f)); f != "" && len(p.Features) < maxFeatures {
				p.Features = append(p.Features, f)
			}
		}
	default:
		if p.Other == nil {
			p.Other = map[string]string{}
		}
		p.Other[name] = val
	}
	return nil
}

// parseSwitchEntry parses "ffff:1:0".
func parseSwitchEntry(s string) (SwitchEntry, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return SwitchEntry{}, false
	}
	from, err1 := strconv.ParseUint(parts[0], 16, 16)
	to, err2 := strconv.ParseUint(parts[1], 16, 16)
	th, err3 := strconv.ParseUint(parts[2], 10, 8)
	if err1 != nil || err2 != nil || err3 != nil || th > 2 {
		return SwitchEntry{}, false
	}
	return SwitchEntry{From: uint16(from), To: uint16(to), Thinning: uint8(th)}, true
}

// isGUID checks the registry format {8-4-4-4-12} of 2.2.1.4.33.
func isGUID(s string) bool {
	if len(s) != 38 || s[0] != '{' || s[37] != '}' {
		return false
	}
	for i := 1; i < 37; i++ {
		c := s[i]
		switch i {
		case 9, 14, 19, 24:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", rune(c)) {
				return false
			}
		}
	}
	return true
}

// HasFeature reports whether the features token names f.
func (p *Pragma) HasFeature(f string) bool {
	for _, x := range p.Features {
		if x == f {
			return true
		}
	}
	return false
}

// Values formats p as Pragma header values: the tokens that are set on
// one line, stream-switch-entry (2.2.1.4.27) and log-line (2.2.1.4.10)
// each on a line of its own.
func (p *Pragma) Values() []string {
	var t []string
	add := func(name string, v int64) {
		if v >= 0 {
			t = append(t, name+"="+strconv.FormatInt(v, 10))
		}
	}
	flag := func(name string, v bool) {
		if v {
			t = append(t, name+"=1")
		}
	}
	if p.NoCache {
		t = append(t, "no-cache")
	}
	if p.Rate != 0 {
		t = append(t, "rate="+formatRate(p.Rate))
	}
	add("stream-time", p.StreamTime)
	if p.StreamOffset[0] >= 0 && p.StreamOffset[1] >= 0 {
		t = append(t, fmt.Sprintf("stream-offset=%d:%d", p.StreamOffset[0], p.StreamOffset[1]))
	}
	add("packet-num", p.PacketNum)
	add("request-context", p.RequestContext)
	add("max-duration", p.MaxDuration)
	add("client-id", p.ClientID)
	add("playlist-gen-id", p.PlaylistGenID)
	add("playlist-seek-id", p.PlaylistSeekID)
	add("xPlayStrm", p.XPlayStrm)
	flag("xPlayNextEntry", p.XPlayNextEntry)
	flag("xStopStrm", p.XStopStrm)
	flag("xResetStrm", p.XResetStrm)
	flag("xKeepAliveInPause", p.XKeepAliveInPause)
	flag("pipeline-request", p.PipelineRequest)
	add("pipeline-result", p.PipelineResult)
	flag("packet-pair-experiment", p.PacketPairExperiment)
	flag("pipeline-experiment", p.PipelineExperiment)
	flag("version11-enabled", p.Version11Enabled)
	add("expect-new-header", p.ExpectNewHeader)
	add("timeout", p.Timeout)
	if p.Features != nil {
		t = append(t, `features="`+strings.Join(p.Features, ",")+`"`)
	}
	if p.XClientGUID != "" {
		t = append(t, "xClientGUID="+p.XClientGUID)
	}
	if p.StreamSwitch != nil {
		t = append(t, "stream-switch-count="+strconv.Itoa(len(p.StreamSwitch)))
	}
	var out []string
	if len(t) > 0 {
		out = append(out, strings.Join(t, ", "))
	}
	if p.StreamSwitch != nil {
		e := make([]string, len(p.StreamSwitch))
		for i, s := range p.StreamSwitch {
			e[i] = fmt.Sprintf("%x:%x:%d", s.From, s.To, s.Thinning)
		}
		out = append(out, "stream-switch-entry="+strings.Join(e, " "))
	}
	if p.LogLine != "" {
		out = append(out, "log-line="+p.LogLine)
	}
	return out
}

func formatRate(r float64) string { return strconv.FormatFloat(r, 'f', 3, 64) }
