package mmsproto

import (
	"bytes"
	"fmt"
)

// Sizes of the logging structures (2.2.1).
const (
	ClientLogSize     = 1490
	ClientLogInfoSize = 1142
)

// ClientLogInfo is CLIENT_LOG_INFO (2.2.1.2). Strings are ANSI, stored in
// fixed-size NUL-terminated fields; an empty string is sent as "-" (2.2.1)
// and read back as "-". Longer strings are truncated on Append.
type ClientLogInfo struct {
	URL                 string // szURL (260)
	ChannelURL          string // szChannelURL (260)
	UserAgent           string // szUserAgent (64)
	HostingWebPage      string // szHostingWebPage (260)
	ClientVersion       uint64 // qwClientVersion: four 16-bit parts, major first
	Lang                string // szLang (16)
	UniquePID           string // szUniquePID (40)
	HostExe             string // szHostExe (32)
	HostExeVer          uint64
	FileDuration        uint32 // msFileDuration
	FileSize            uint64 // qwFileSize
	AvgBandwidthBps     uint32
	AudioCodec          string // szAudioCodec (64)
	VideoCodec          string // szVideoCodec (64)
	StartTime           uint32 // msStartTime
	Played              uint32 // msPlayed
	Rate                int16
	BufferingCount      uint32
	BufferingTime       uint32 // msBufferingTime
	BytesReceived       uint64
	PacketsReceived     uint32
	PacketsLostClient   uint32
	PacketsRecoveredECC uint32
	MinReceptionQuality uint32 // percent
	HR                  uint32
}

// ClientLog is CLIENT_LOG (2.2.1.1), the body of LinkViewerToMacLogging.
type ClientLog struct {
	Info                   ClientLogInfo
	SourceID               uint32 // dwSourceId: openFileId
	IPAddress              uint32 // 0xFFFFFFFF or the client's IPv4 address
	ComputerDNS            string // szComputerDNS (260)
	OS                     string // szOS (16)
	OSVersion              uint64
	CPU                    string // szCPU (16)
	Proto                  string // szProto (8): "mms"
	Transport              string // szTransport (8): "UDP" or "TCP"
	PacketsLostNet         uint32
	PacketsLostContNet     uint32
	ResendRequests         uint32
	PacketsRecoveredResent uint32
	PacketsResent          uint32
}

// appendStr appends s in a field of n bytes: at most n-1 bytes of text, a
// NUL, zeros. Empty strings become "-" (2.2.1).
func appendStr(b []byte, s string, n int) []byte {
	if s == "" {
		s = "-"
	}
	if len(s) > n-1 {
		s = s[:n-1]
	}
	b = append(b, s...)
	return zeros(b, n-len(s))
}

func (d *dec) str(n int) string {
	f := d.bytes(n)
	if i := bytes.IndexByte(f, 0); i >= 0 {
		f = f[:i]
	}
	return string(f)
}

// Append appends the 1142-byte structure.
func (l *ClientLogInfo) Append(b []byte) []byte {
	b = le32(b, ClientLogInfoSize)
	b = appendStr(b, l.URL, 260)
	b = appendStr(b, l.ChannelURL, 260)
	b = appendStr(b, l.UserAgent, 64)
	b = appendStr(b, l.HostingWebPage, 260)
	b = le64(b, l.ClientVersion)
	b = appendStr(b, l.Lang, 16)
	b = appendStr(b, l.UniquePID, 40)
	b = appendStr(b, l.HostExe, 32)
	b = le64(b, l.HostExeVer)
	b = le32(b, l.FileDuration)
	b = le64(b, l.FileSize)
	b = le32(b, l.AvgBandwidthBps)
	b = appendStr(b, l.AudioCodec, 64)
	b = appendStr(b, l.VideoCodec, 64)
	b = le32(le32(b, l.StartTime), l.Played)
	b = le16(b, uint16(l.Rate))
	b = le32(le32(b, l.BufferingCount), l.BufferingTime)
	b = le64(b, l.BytesReceived)
	b = le32(le32(le32(le32(le32(b, l.PacketsReceived), l.PacketsLostClient), l.PacketsRecoveredECC), l.MinReceptionQuality), l.HR)
	return b
}

// Unmarshal parses the structure at the start of b.
func (l *ClientLogInfo) Unmarshal(b []byte) error {
	d := dec{b: b, msg: "CLIENT_LOG_INFO"}
	l.unmarshal(&d)
	return d.err
}

func (l *ClientLogInfo) unmarshal(d *dec) {
	if cb := d.u32(); d.err == nil && cb != ClientLogInfoSize {
		d.err = fmt.Errorf("%w: CLIENT_LOG_INFO cbSize %d, want %d", ErrBadLength, cb, ClientLogInfoSize)
		return
	}
	l.URL, l.ChannelURL, l.UserAgent, l.HostingWebPage = d.str(260), d.str(260), d.str(64), d.str(260)
	l.ClientVersion = d.u64()
	l.Lang, l.UniquePID, l.HostExe = d.str(16), d.str(40), d.str(32)
	l.HostExeVer, l.FileDuration, l.FileSize, l.AvgBandwidthBps = d.u64(), d.u32(), d.u64(), d.u32()
	l.AudioCodec, l.VideoCodec = d.str(64), d.str(64)
	l.StartTime, l.Played, l.Rate = d.u32(), d.u32(), int16(d.u16())
	l.BufferingCount, l.BufferingTime, l.BytesReceived = d.u32(), d.u32(), d.u64()
	l.PacketsReceived, l.PacketsLostClient, l.PacketsRecoveredECC, l.MinReceptionQuality, l.HR = d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
}

// Append appends the 1490-byte structure.
func (l *ClientLog) Append(b []byte) []byte {
	b = le32(b, ClientLogSize)
	b = l.Info.Append(b)
	b = le32(le32(b, l.SourceID), l.IPAddress)
	b = appendStr(b, l.ComputerDNS, 260)
	b = appendStr(b, l.OS, 16)
	b = le64(b, l.OSVersion)
	b = appendStr(b, l.CPU, 16)
	b = appendStr(b, l.Proto, 8)
	b = appendStr(b, l.Transport, 8)
	return le32(le32(le32(le32(le32(b, l.PacketsLostNet), l.PacketsLostContNet), l.ResendRequests), l.PacketsRecoveredResent), l.PacketsResent)
}

// Marshal returns the 1490-byte structure.
func (l *ClientLog) Marshal() []byte { return l.Append(make([]byte, 0, ClientLogSize)) }

// Unmarshal parses the structure at the start of b; cbSize fields must hold
// the sizes 2.2.1 defines, bytes after the structure (padding) are ignored.
func (l *ClientLog) Unmarshal(b []byte) error {
	d := dec{b: b, msg: "CLIENT_LOG"}
	if cb := d.u32(); d.err == nil && cb != ClientLogSize {
		return fmt.Errorf("%w: CLIENT_LOG cbSize %d, want %d", ErrBadLength, cb, ClientLogSize)
	}
	if d.err == nil && len(b) < ClientLogSize {
		return errShort("CLIENT_LOG", ClientLogSize, len(b))
	}
	l.Info.unmarshal(&d)
	l.SourceID, l.IPAddress = d.u32(), d.u32()
	l.ComputerDNS, l.OS, l.OSVersion, l.CPU = d.str(260), d.str(16), d.u64(), d.str(16)
	l.Proto, l.Transport = d.str(8), d.str(8)
	l.PacketsLostNet, l.PacketsLostContNet, l.ResendRequests, l.PacketsRecoveredResent, l.PacketsResent = d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	return d.err
}
