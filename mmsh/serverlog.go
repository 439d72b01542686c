package mmsh

import (
	"encoding/xml"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/mmsgate/mmsgate/mmsproto"
)

// ClientLog is what a client submitted with a Log request (2.2.2.4),
// for Handler.OnLog.
type ClientLog struct {
	Time     time.Time
	Remote   string // the client's address
	Path     string // the request path, as Handler.Add names it ("live", "dir/clip.asf")
	ClientID int64  // the client-id token, -1 when absent
	// Log holds the fields of the log-line (logline.go).
	Log mmsproto.ClientLog
}

// Content-Type of an XML log (2.2.1.2.5).
const contentTypeLogStats = "application/x-wms-logstats"

// isLog reports a Log request (2.2.2.4): a POST with the log-line token or
// an application/x-wms-LogStats body, and none of the tokens of the
// other POST requests.
func isLog(r *http.Request, p Pragma) bool {
	if p.PipelineRequest || p.StreamSwitch != nil || p.XKeepAliveInPause || p.XStopStrm {
		return false
	}
	return p.LogLine != "" || isLogStats(r)
}

func isLogStats(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return strings.EqualFold(mt, contentTypeLogStats)
}

// receiveLog handles a Log request (3.2.5.11): the log goes to OnLog, and
// the answer is the empty Log response whatever the log's syntax: servers
// do not fail a logging request for invalid syntax (<74>); malformed logs
// are counted and logged instead. Of an XML log (application/x-wms-LogStats,
// read up to maxRequestBody) the W3C line that MS-WMLOG embeds in its
// Summary element is taken; the rest of MS-WMLOG's schema is not known
// here.
func (h *Handler) receiveLog(r *http.Request, p Pragma) {
	h.logsReceived.Add(1)
	line := p.LogLine
	if line == "" {
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
		var ok bool
		if line, ok = xmlSummary(body); !ok {
			h.logsUnparsed.Add(1)
			h.log().Info("mmsh XML client log without a Summary", "remote", r.RemoteAddr, "path", r.URL.Path, "bytes", len(body))
			return
		}
	}
	l, err := ParseLogLine(line)
	if err != nil {
		h.logsUnparsed.Add(1)
		h.log().Info("mmsh malformed client log", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
		return
	}
	if h.OnLog != nil {
		h.OnLog(ClientLog{Time: time.Now(), Remote: r.RemoteAddr, Path: cleanName(r.URL.Path), ClientID: p.ClientID, Log: l})
	}
}

// LogCounts returns how many Log requests the Handler received and how
// many of them it could not parse (malformed log-lines, XML logs).
func (h *Handler) LogCounts() (received, unparsed int64) {
	return h.logsReceived.Load(), h.logsUnparsed.Load()
}

// xmlSummary returns the text of the Summary element of an XML log: the
// log in the W3C format (MS-WMLOG 2.4). Only that element is decoded: the
// names of the others, such as cs(User-Agent), are not XML names.
func xmlSummary(body []byte) (string, bool) {
	const open, end = "<summary>", "</summary>"
	i := indexASCIIFold(body, open)
	if i < 0 {
		return "", false
	}
	inner := body[i+len(open):]
	j := indexASCIIFold(inner, end)
	if j < 0 {
		return "", false
	}
	var v struct {
		Text string `xml:",chardata"`
	}
	frag := append(append([]byte("<s>"), inner[:j]...), "</s>"...)
	if err := xml.Unmarshal(frag, &v); err != nil {
		return "", false
	}
	return strings.TrimSpace(v.Text), true
}

// indexASCIIFold is bytes.Index, ASCII letters matched in any case (pat
// is lower case).
func indexASCIIFold(b []byte, pat string) int {
	for i := 0; i+len(pat) <= len(b); i++ {
		k := 0
		for k < len(pat) {
			c := b[i+k]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != pat[k] {
				break
			}
			k++
		}
		if k == len(pat) {
			return i
		}
	}
	return -1
}
