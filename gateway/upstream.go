package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/http"

	"github.com/mmsgate/mmsgate/event"
)

// Item is one thing an upstream session delivers, in order: a header (at the
// start and at each playlist entry) or a full-size ASF data packet.
type Item struct {
	Header []byte
	Packet []byte
}

// Upstream is one running upstream session (an mmsclient.Session in
// production). Next returns io.EOF at the end of the stream.
type Upstream interface {
	HeaderBytes() []byte
	Next(ctx context.Context) (Item, error)
	Transport() string
	Bandwidth() int64
	Stats() map[string]any
	Close() error
}

// Describer is implemented by upstreams that carry metadata of their own
// (an ASX metafile's title and author); a channel's status shows it where
// the stream's header has none.
type Describer interface {
	Describe() (title, author string)
}

// DialRequest is what the supervisor hands the Dialer for one session.
type DialRequest struct {
	Channel         Channel // with its password
	PreferTransport string  // the transport that worked last ("" when unknown)
	OnEvent         event.Func
	Logger          *slog.Logger
	// DialContext and AllowHost enforce the upstream Policy; a Dialer must
	// use them for every connection and every redirect hop.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	AllowHost   func(host string) error
}

// Dialer opens an upstream session and returns once its header is in. Its
// context governs the session's whole life: the supervisor cancels it only
// after Close, so that Close can end the session gracefully.
type Dialer func(ctx context.Context, req DialRequest) (Upstream, error)

// Metadata describes what a channel plays.
type Metadata struct {
	Title, Author, Copyright, Description, NowPlaying string
	Bitrate                                           int64
	Streams                                           []string
	// Mode is how HLS is made: "direct", "transcode" (an ffmpeg runs) or ""
	// (none yet). A pipeline that transcodes holds a transcoder slot.
	Mode string
	// Error says why the current entry gives no HLS (encrypted, codec not
	// supported with transcoding off); "" when HLS plays.
	Error string
}

// Pipeline turns one channel's ASF into what viewers get (a remux.Pipeline in
// production). It lives across upstream sessions so that viewers keep their
// playlists through a reconnect.
type Pipeline interface {
	WriteHeader(hdr []byte) error
	WritePacket(pkt []byte) error
	Discontinuity()
	ServeHLS(w http.ResponseWriter, r *http.Request, file string)
	ServeASF(w http.ResponseWriter, r *http.Request)
	Metadata() Metadata
	Viewers() int
	Close() error
}

// PipelineFactory creates the pipeline of a channel; events go to the
// channel's current session log.
type PipelineFactory func(ch Channel, onEvent event.Func, logger *slog.Logger) (Pipeline, error)
