package mmsclient

import (
	"runtime"
	"strings"

	"github.com/mmsgate/mmsgate/mmsproto"
)

// clientVersion is 9.0.0.2980 as four 16-bit parts, matching playerVersion.
const clientVersion = 9<<48 | 0<<32 | 0<<16 | 2980

// clientLog fills CLIENT_LOG (2.2.1.1) from the session's figures.
func (s *Session) clientLog() mmsproto.ClientLog {
	st := s.Stats()
	var audio, video string
	if h := s.Header(); h != nil {
		audio, video = h.SelectedCodecs(s.selected)
	}
	dur := uint32(s.openFile.FileDuration * 1000)
	var size uint64
	if s.openFile.FileAttributes&mmsproto.FileAttributeLive != 0 {
		dur = 0
	} else {
		size = uint64(s.openFile.FileHeaderSize) + s.openFile.FilePacketCount*uint64(s.openFile.FilePacketSize)
	}
	rate := int16(1)
	if s.opts.Rate != 0 && s.opts.Rate != 1 {
		rate = int16(s.opts.Rate)
	}
	return mmsproto.ClientLog{
		Info: mmsproto.ClientLogInfo{
			URL:                 s.tgt.URL.String(),
			UserAgent:           playerVersion,
			ClientVersion:       clientVersion,
			Lang:                "en-US",
			UniquePID:           "{" + newGUID() + "}",
			HostExe:             "mmsget",
			HostExeVer:          clientVersion,
			FileDuration:        dur,
			FileSize:            size,
			AvgBandwidthBps:     uint32(min(st.AvgBps, 1<<32-1)),
			AudioCodec:          audio,
			VideoCodec:          video,
			StartTime:           uint32(st.StartTime.Milliseconds()),
			Played:              uint32(st.Played.Milliseconds()),
			Rate:                rate,
			BytesReceived:       st.BytesReceived,
			PacketsReceived:     st.PacketsReceived,
			PacketsLostClient:   st.Lost,
			MinReceptionQuality: st.Quality,
		},
		SourceID:               s.fileID,
		IPAddress:              0xFFFFFFFF,
		ComputerDNS:            "-",
		OS:                     runtime.GOOS,
		CPU:                    runtime.GOARCH,
		Proto:                  "mms",
		Transport:              strings.ToUpper(s.transport),
		PacketsLostNet:         st.PacketsLostNet,
		PacketsLostContNet:     st.PacketsLostCont,
		ResendRequests:         st.ResendRequests,
		PacketsRecoveredResent: st.Recovered,
		PacketsResent:          st.Resent,
	}
}

// sendLog sends LinkViewerToMacLogging (3.1.4.5, 3.1.5.18).
func (s *Session) sendLog() {
	if !s.fileOpen {
		return
	}
	if err := s.send(&mmsproto.LinkViewerToMacLogging{Log: s.clientLog()}); err != nil {
		s.log.Debug("sending the client log failed", "err", err)
		return
	}
	s.mu.Lock()
	s.stats.LogSent = true
	s.mu.Unlock()
}
