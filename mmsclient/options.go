package mmsclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/mmsgate/mmsgate/event"
)

// Options configure a session. The zero value plays from the start with the
// "auto" transport policy, packet-pair estimation and default limits.
type Options struct {
	// Transport is the policy: "auto" (UDP, then TCP when no Data packet
	// arrives over UDP within UDPTimeout, then, for mms:// URLs, MMSH on
	// HTTPPort of the same host: the protocol rollover of Windows Media
	// Player), "udp", "tcp" or "http" (MMSH only, package mmsh). Empty
	// means auto, or what the URL scheme says: mmst:// is tcp, mmsu:// is
	// udp. mmsh://, http:// and https:// URLs always play over MMSH.
	Transport string
	// Prefer names the rung of the auto policy to try first ("udp", "tcp"
	// or "http"; empty: UDP first), the others following in their usual
	// order. Callers set it to what worked last (Session.Transport) so
	// that a restart skips the rungs that failed before.
	Prefer string
	// HTTPPort is the port of the MMSH rung for mms:// URLs (default 80).
	HTTPPort int
	// UDPTimeout is how long the UDP attempt waits for its first Data
	// packet before it counts as failed (default 3 s).
	UDPTimeout time.Duration

	// Username and Password authenticate (Basic or NTLM, whichever the
	// server asks for). Credentials in the URL take precedence. Neither is
	// sent to another host that a redirect leads to, unless the redirect's
	// URL carries its own.
	Username, Password string

	// Bandwidth forces the link bandwidth in bits/s used for stream
	// selection; 0 estimates it by packet pair (4.4).
	Bandwidth int64
	// MaxBandwidth caps the bandwidth used for stream selection (0: none).
	MaxBandwidth int64
	// Streams selects these stream numbers; nil chooses by bandwidth and
	// Language.
	Streams []uint16
	// Language is the preferred language (RFC 1766, e.g. "en" or "de-DE").
	Language string
	// Start is the position to start playing from.
	Start time.Duration
	// StartPacket, when not 0, starts at this ASF data packet number
	// instead (LinkViewerToMacStartPlaying locationId).
	StartPacket uint32
	// Rate, when not 0 or 1, starts by striding at this rate (-5..5;
	// LinkViewerToMacStartStriding).
	Rate float64

	// MaxRedirects limits the redirects followed (default 5; negative: none).
	MaxRedirects int
	// AllowHost vetoes the host of the URL and of every redirect hop
	// (the gateway's upstream allow-list). nil allows all.
	AllowHost func(host string) error

	// DialContext dials the TCP connection; nil uses a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ListenPacket opens the UDP socket for Data packets; nil uses
	// net.ListenConfig on the local address of the TCP connection.
	ListenPacket func(ctx context.Context, network, addr string) (net.PacketConn, error)

	// StepTimeout bounds every wait for a server reply during the
	// handshake and the whole handshake of one attempt is bounded by
	// four times it (default 10 s).
	StepTimeout time.Duration
	// IdleTimeout ends a playing session when nothing at all arrives from
	// the server for this long (default 60 s; the server pings every 30 s).
	IdleTimeout time.Duration
	// ResendTimeout is how long a lost UDP Data packet is waited for before
	// it counts as lost (default 2 s); ResendRetry the interval between
	// requests for it (default 200 ms).
	ResendTimeout, ResendRetry time.Duration
	// MaxHeaderSize caps the ASF file header (default 16 MiB).
	MaxHeaderSize int

	// OnEvent receives every protocol step (attempts, bandwidth, streams,
	// loss, redirects, playlist entries, end, errors, statistics).
	OnEvent event.Func
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Transport policies.
const (
	TransportAuto = "auto"
	TransportUDP  = "udp"
	TransportTCP  = "tcp"
	TransportHTTP = "http"
)

func (o *Options) setDefaults() error {
	switch o.Transport {
	case "", TransportAuto, TransportUDP, TransportTCP, TransportHTTP:
	default:
		return fmt.Errorf("mmsclient: unknown transport %q (want auto, udp, tcp or http)", o.Transport)
	}
	switch o.Prefer {
	case "", TransportUDP, TransportTCP, TransportHTTP:
	default:
		return fmt.Errorf("mmsclient: unknown preferred transport %q (want udp, tcp or http)", o.Prefer)
	}
	if o.HTTPPort < 0 || o.HTTPPort > 65535 {
		return fmt.Errorf("mmsclient: HTTP port %d out of range", o.HTTPPort)
	}
	if o.Rate < -5 || o.Rate > 5 {
		return fmt.Errorf("mmsclient: rate %g outside -5..5", o.Rate)
	}
	if o.Start < 0 {
		return errors.New("mmsclient: negative start position")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.UDPTimeout, 3*time.Second)
	def(&o.StepTimeout, 10*time.Second)
	def(&o.IdleTimeout, 60*time.Second)
	def(&o.ResendTimeout, 2*time.Second)
	def(&o.ResendRetry, 200*time.Millisecond)
	if o.MaxRedirects == 0 {
		o.MaxRedirects = 5
	}
	if o.MaxHeaderSize <= 0 {
		o.MaxHeaderSize = 16 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DialContext == nil {
		d := &net.Dialer{}
		o.DialContext = d.DialContext
	}
	if o.ListenPacket == nil {
		lc := &net.ListenConfig{}
		o.ListenPacket = lc.ListenPacket
	}
	return nil
}
