package mmsh

import (
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
// are counted and logged instead. XML logs (application/x-wms-LogStats)
// are defined by MS-WMLOG, which is not available: they are read (up to
// maxRequestBody), counted as unparsed and not passed on.
func (h *Handler) receiveLog(r *http.Request, p Pragma) {
	h.logsReceived.Add(1)
	if p.LogLine == "" {
		n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, maxRequestBody))
		h.logsUnparsed.Add(1)
		h.log().Debug("mmsh XML client log not parsed", "remote", r.RemoteAddr, "path", r.URL.Path, "bytes", n)
		return
	}
	l, err := ParseLogLine(p.LogLine)
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
