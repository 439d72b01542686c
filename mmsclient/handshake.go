package mmsclient

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/auth"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// playerVersion is the client-token we send: Windows Media Format 9 Series
// (2.2.4.17, <17>), so that servers strip padding and accept every feature.
const playerVersion = "NSPlayer/9.0.0.2980"

// addrPort returns the IP address and port of a net.Addr of any kind, or
// 0.0.0.0:0.
func addrPort(a net.Addr) netip.AddrPort {
	if a == nil {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// connect sends LinkViewerToMacConnect and processes ConnectedEX (3.1.4.1.1, 3.1.5.3).
func (s *Session) connect(ctx context.Context, wantPair bool) error {
	inc := uint32(mmsproto.MMSDisablePacketPair)
	if wantPair {
		inc = mmsproto.MMSUsePacketPair
	}
	err := s.send(&mmsproto.LinkViewerToMacConnect{
		PlayIncarnation:             inc,
		MacToViewerProtocolRevision: mmsproto.MacToViewerProtocolRevision,
		ViewerToMacProtocolRevision: mmsproto.ViewerToMacProtocolRevision,
		SubscriberName:              fmt.Sprintf("%s; {%s}; Host: %s", playerVersion, newGUID(), s.tgt.Host),
	})
	if err != nil {
		return err
	}
	m, err := expect[*mmsproto.LinkMacToViewerReportConnectedEX](s, ctx, "waiting for ReportConnectedEX")
	if err != nil {
		return err
	}
	if m.HR != mmsproto.HRSuccess {
		return hrError("Connect", m.HR)
	}
	s.serverVersion = m.ServerVersionInfo
	s.serverMajor, _ = strconv.Atoi(strings.SplitN(m.ServerVersionInfo, ".", 2)[0])
	s.authScheme = "NTLM" // the default of 3.1.1
	if m.AuthenPackage != "" {
		s.authScheme = strings.ToUpper(m.AuthenPackage)
	}
	if m.PlayIncarnation != mmsproto.MMSUsePacketPair {
		s.pairExpected = 0
	}
	s.mu.Lock()
	s.stats.ServerVersion = s.serverVersion
	s.mu.Unlock()
	s.emit(event.Connected, "connected to "+s.tgt.Host+", server version "+s.serverVersion,
		map[string]any{"server_version": s.serverVersion, "transport": s.transport})
	return nil
}

// funnel sends FunnelInfo, processes the ReportFunnelInfo messages (with the
// TCP packet pair of 4.4.2) and then ConnectFunnel (3.1.5.3 to 3.1.5.6).
func (s *Session) funnel(ctx context.Context) error {
	inc := uint32(mmsproto.MMSDisablePacketPair)
	if s.pairExpected > 0 {
		inc = mmsproto.MMSPacketPairUDPHighEntropy
		if s.transport == TransportTCP {
			inc = mmsproto.MMSPacketPairTCPHighEntropy
		}
	}
	if err := s.send(&mmsproto.LinkViewerToMacFunnelInfo{PlayIncarnation: inc}); err != nil {
		return err
	}
	for {
		m, err := expect[*mmsproto.LinkMacToViewerReportFunnelInfo](s, ctx, "waiting for ReportFunnelInfo")
		if err != nil {
			return err
		}
		at := s.lastAt
		if m.HR != mmsproto.HRSuccess {
			return hrError("FunnelInfo", m.HR)
		}
		if s.funnelInfos == 3 {
			return fmt.Errorf("%w: a fourth ReportFunnelInfo", ErrProtocol)
		}
		s.funnelInfos++
		s.clientID = m.NCubs
		if m.PlayIncarnation == mmsproto.MMSPacketPairTCPHighEntropy && s.funnelInfos < 3 {
			if s.funnelInfos == 1 {
				s.pairArrival = at
			} else {
				size := mmsproto.HeaderSize + len(mmsproto.MarshalBody(m))
				s.bandwidth = mmsproto.PacketPairBandwidth(size, at.Sub(s.pairArrival))
				s.setBandwidthMethod("packet-pair-tcp")
				s.pairExpected = 0
			}
			continue
		}
		break
	}
	if s.transport == TransportTCP {
		s.pairExpected = 0 // done; over UDP the pair comes with the header (4.4.1)
	}
	// Over TCP the funnel names the control connection's own address;
	// connections that are not TCP (a proxy dialer) name 0.0.0.0:0.
	local := addrPort(s.conn.LocalAddr())
	proto, port := "TCP", local.Port()
	if s.transport == TransportUDP {
		proto, port = "UDP", addrPort(s.udp.LocalAddr()).Port()
	}
	err := s.send(&mmsproto.LinkViewerToMacConnectFunnel{
		MaxBlockBytes: 0xFFFFFFFF,
		MaxBitRate:    mmsproto.DefaultMaxBitRate,
		FunnelMode:    mmsproto.FunnelMode,
		FunnelName:    fmt.Sprintf(`\\%s\%s\%d`, local.Addr(), proto, port),
	})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(s.opts.StepTimeout)
	for {
		e, err := s.wait(ctx, deadline, "waiting for ReportConnectedFunnel")
		if err != nil {
			return err
		}
		if e.kind != evTCP || e.tcp.item.msg == nil {
			continue // nothing is expected over UDP yet
		}
		switch m := e.tcp.item.msg.(type) {
		case *mmsproto.LinkMacToViewerReportConnectedFunnel:
			if m.HR != mmsproto.HRSuccess {
				return hrError("ConnectFunnel", m.HR)
			}
			return nil
		case *mmsproto.LinkMacToViewerReportDisconnectedFunnel:
			// 3.1.5.5: report the error; the auto policy retries over TCP.
			return fmt.Errorf("mmsclient: server refused the %s funnel (hr 0x%08x)", proto, m.HR)
		default:
			return fmt.Errorf("%w: got %T while waiting for ReportConnectedFunnel", ErrProtocol, m)
		}
	}
}

// open sends OpenFile and handles SecurityChallenge, Redirect and
// ReportOpenFile (3.1.5.6 to 3.1.5.9).
func (s *Session) open(ctx context.Context) error {
	if err := s.send(&mmsproto.LinkViewerToMacOpenFile{PlayIncarnation: s.nextPlayInc(), FileName: s.tgt.Path}); err != nil {
		return err
	}
	var au *auth.ClientExchange
	scheme := ""
	for round := 0; ; round++ {
		deadline := time.Now().Add(s.opts.StepTimeout)
		e, err := s.wait(ctx, deadline, "waiting for ReportOpenFile")
		if err != nil {
			return err
		}
		if e.kind != evTCP || e.tcp.item.msg == nil {
			continue
		}
		switch m := e.tcp.item.msg.(type) {
		case *mmsproto.LinkMacToViewerReportOpenFile:
			if m.HR != mmsproto.HRSuccess {
				return hrError("OpenFile "+s.tgt.Path, m.HR)
			}
			if au != nil {
				s.emit(event.Auth, "authenticated with "+scheme, map[string]any{"scheme": scheme, "outcome": "ok"})
				s.mu.Lock()
				s.stats.AuthScheme = scheme
				s.mu.Unlock()
			}
			s.openFile = *m
			s.fileID = m.OpenFileID
			s.fileOpen = true
			s.packetSize = int(m.FilePacketSize)
			s.limitDatagrams(s.packetSize)
			return nil
		case *mmsproto.LinkMacToViewerReportRedirect:
			if m.HR != mmsproto.HRSuccess {
				return hrError("OpenFile (redirect)", m.HR)
			}
			if m.RedirectType != mmsproto.RedirectURL {
				return fmt.Errorf("%w: proxy redirects (type %d) are not supported", ErrRedirects, m.RedirectType)
			}
			to, err := resolveRedirect(s.tgt.URL, m.Location)
			if err != nil {
				return err
			}
			return &redirectError{to: to}
		case *mmsproto.LinkMacToViewerSecurityChallenge:
			// 3.1.5.8: the token's first two bytes say the scheme
			// (NTLM: zero), else ConnectedEX's AuthenPackage does.
			scheme = s.authScheme
			if len(m.Token) >= 2 {
				scheme = auth.SchemeBasic
				if m.Token[0] == 0 && m.Token[1] == 0 {
					scheme = auth.SchemeNTLM
				}
			}
			if au == nil {
				au = (&auth.Client{Username: s.user, Password: s.pass, WrapNTLMAuth: true}).NewExchange(s.authScheme)
			} else if au.Done() {
				s.emit(event.Auth, "credentials rejected", map[string]any{"scheme": scheme, "outcome": "rejected"})
				return fmt.Errorf("%w: the server rejected the credentials for user %q (%s)", ErrAuth, s.user, scheme)
			}
			if s.user == "" {
				return fmt.Errorf("%w: the server asks for credentials (%s) and none were given", ErrAuth, scheme)
			}
			tok, err := au.Step(m.Token)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrAuth, err)
			}
			if err := s.send(&mmsproto.LinkViewerToMacSecurityResponse{PlayIncarnation: m.PlayIncarnation, Cookie: m.Cookie, Token: tok}); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: got %T while waiting for ReportOpenFile", ErrProtocol, m)
		}
	}
}

// readHeader sends ReadBlock and assembles the ASF file header (3.1.5.9.1,
// 3.1.5.10 to 3.1.5.12). Over UDP it runs the Header timer (3.1.2) with its
// retries (3.1.6.1); first says whether this is the first header of the
// session, when a silent UDP path fails fast with ErrUDPSilent.
func (s *Session) readHeader(ctx context.Context, first bool) error {
	const retryLimit = 4 // 3.1.6.1
	expiries := 0
	for {
		inc := s.nextHeaderInc()
		s.dataOK.Store(true)
		err := s.send(&mmsproto.LinkViewerToMacReadBlock{
			OpenFileID: s.fileID, Length: mmsproto.DefaultBlockMaxBytes, Flags: 0xFFFFFFFF,
			TDeadline: 3600, PlayIncarnation: inc,
		})
		if err != nil {
			return err
		}
		s.assembly = newHeaderAssembly(uint8(inc), s.opts.MaxHeaderSize)
		timeout := s.opts.StepTimeout
		if s.transport == TransportUDP {
			timeout = s.headerTimeout()
			if first && expiries == 0 && !s.anyUDP() {
				timeout = max(timeout, s.opts.UDPTimeout)
			}
		}
		done, err := s.awaitHeader(ctx, time.Now().Add(timeout))
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		// The Header timer expired (3.1.6.1).
		if first && !s.anyUDP() {
			return fmt.Errorf("%w within %v (firewall or NAT?)", ErrUDPSilent, timeout)
		}
		expiries++
		if expiries > retryLimit {
			return fmt.Errorf("%w: ASF file header incomplete after %d ReadBlock attempts", ErrTimeout, expiries)
		}
		s.log.Debug("header timer expired, retrying ReadBlock", "expiries", expiries)
		if err := s.send(&mmsproto.LinkViewerToMacCancelReadBlock{PlayIncarnation: inc}); err != nil {
			return err
		}
		if s.pairExpected > 0 {
			s.pairExpected = 2
		}
	}
}

// limitDatagrams bounds the UDP datagrams accepted: Data packets carry at
// most one ASF packet (or header part, 3.2.5.8.1) or a packet-pair packet.
func (s *Session) limitDatagrams(packetSize int) {
	if packetSize > 0 {
		s.maxDgram.Store(int32(min(max(packetSize, 1472)+mmsproto.DataHeaderSize, mmsproto.MaxDataPacketSize)))
	}
}

// anyUDP reports whether a UDP datagram from the server has arrived yet.
func (s *Session) anyUDP() bool { return s.udpSeen }

// headerTimeout is 1 s plus the header's transfer time at the file's bit
// rate (3.1.5.9.1), within the 1..30 s that 3.1.2 allows.
func (s *Session) headerTimeout() time.Duration {
	d := time.Second
	if br := s.openFile.FileBitRate; br > 0 {
		d += time.Duration(float64(s.openFile.FileHeaderSize) * 8 / float64(br) * float64(time.Second))
	}
	return min(max(d, time.Second), 30*time.Second)
}

// awaitHeader waits until the header is complete and, for the first
// header and over UDP, the ReportReadBlock has arrived. It returns false when
// the deadline passes first.
func (s *Session) awaitHeader(ctx context.Context, deadline time.Time) (bool, error) {
	gotReport := false
	for {
		if s.assembly == nil && gotReport {
			return true, nil
		}
		if s.assembly == nil && s.transport == TransportTCP {
			return true, nil // over TCP the report came before the header
		}
		e, err := s.wait(ctx, deadline, "waiting for the ASF file header")
		if err != nil {
			if time.Now().After(deadline) && ctx.Err() == nil && s.ctx.Err() == nil && isTimeout(err) {
				return false, nil
			}
			return false, err
		}
		switch e.kind {
		case evUDP:
			if err := s.onDatagram(e.udp); err != nil {
				return false, err
			}
		case evTick:
			s.onTick(time.Now())
		case evTCP:
			if e.tcp.item.msg == nil {
				if err := s.onTCPData(e.tcp); err != nil {
					return false, err
				}
				continue
			}
			if m, ok := e.tcp.item.msg.(*mmsproto.LinkMacToViewerReportReadBlock); ok {
				if m.HR != mmsproto.HRSuccess {
					return false, hrError("ReadBlock", m.HR)
				}
				gotReport = true
				continue
			}
			handled, err := s.onMessage(ctx, e.tcp)
			if err != nil {
				return false, err
			}
			if !handled {
				return false, fmt.Errorf("%w: got %T while waiting for the ASF file header", ErrProtocol, e.tcp.item.msg)
			}
		}
	}
}

// gotHeader installs a complete ASF file header.
func (s *Session) gotHeader(b []byte) error {
	h, err := asf.ParseHeader(b)
	if err != nil {
		return fmt.Errorf("%w: ASF file header: %w", ErrProtocol, err)
	}
	if s.packetSize != 0 && h.PacketSize() > s.packetSize && s.packetSize > 0 {
		s.log.Debug("header packet size differs from ReportOpenFile", "header", h.PacketSize(), "openfile", s.packetSize)
	}
	s.packetSize = h.PacketSize()
	s.streams = streamsOf(h)
	s.mu.Lock()
	s.header, s.headerBytes = h, b
	s.stats.HeaderBytes = len(b)
	s.mu.Unlock()
	title := ""
	if h.ContentDescription != nil {
		title = h.ContentDescription.Title
	}
	s.emit(event.Header, fmt.Sprintf("ASF header: %d bytes, %d streams, packets of %d bytes", len(b), len(h.Streams), s.packetSize),
		map[string]any{"bytes": len(b), "packet_size": s.packetSize, "streams": len(h.Streams), "title": title})
	return nil
}

// streamsOf extracts what stream selection needs from the header.
func streamsOf(h *asf.Header) []streamInfo {
	var streams []streamInfo
	for _, sp := range h.Streams {
		k := kindOther
		switch sp.Type {
		case asf.StreamTypeAudio:
			k = kindAudio
		case asf.StreamTypeVideo:
			k = kindVideo
		}
		br := sp.Bitrate
		if br == 0 && sp.Audio != nil {
			br = sp.Audio.AvgBytesPerSec * 8 // no Stream Bitrate Properties: the format says it
		}
		streams = append(streams, streamInfo{Number: sp.StreamNumber, Kind: k, Bitrate: br, Language: sp.Language})
	}
	return streams
}

func (s *Session) setBandwidthMethod(m string) {
	s.mu.Lock()
	s.stats.BandwidthMethod = m
	s.mu.Unlock()
}

// setBandwidth settles the bandwidth used for selection and reports it.
func (s *Session) setBandwidth() {
	method := s.Stats().BandwidthMethod
	bw := s.bandwidth
	if s.opts.Bandwidth > 0 {
		bw, method = s.opts.Bandwidth, "forced"
	}
	if method == "" {
		method = "none"
	}
	if s.opts.MaxBandwidth > 0 && (bw == 0 || bw > s.opts.MaxBandwidth) {
		bw = s.opts.MaxBandwidth
	}
	s.mu.Lock()
	s.stats.Bandwidth, s.stats.BandwidthMethod = bw, method
	s.mu.Unlock()
	s.emit(event.Bandwidth, fmt.Sprintf("bandwidth %d bit/s (%s)", bw, method), map[string]any{"bps": bw, "method": method})
}

// chooseStreams selects streams for the current header.
func (s *Session) chooseStreams() error {
	var sel []uint16
	if s.opts.Streams != nil {
		var err error
		if sel, err = s.Header().CheckStreams(s.opts.Streams); err != nil {
			return fmt.Errorf("mmsclient: %w", err)
		}
	} else {
		sel = s.Header().SelectStreams(s.Bandwidth(), s.opts.Language)
	}
	s.selected = sel
	br := s.Header().StreamsBitrate(sel)
	s.mu.Lock()
	s.stats.Streams, s.stats.StreamsBitrate = sel, br
	s.mu.Unlock()
	s.emit(event.Streams, fmt.Sprintf("streams %v (%d bit/s)", sel, br), map[string]any{"streams": sel, "bitrate": br})
	return nil
}

func isTimeout(err error) bool { return err != nil && errors.Is(err, ErrTimeout) }
