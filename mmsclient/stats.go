package mmsclient

import "time"

// Attempt is one try of a transport against one server.
type Attempt struct {
	URL       string        `json:"url"`
	Transport string        `json:"transport"`
	Outcome   string        `json:"outcome"` // "ok", "failed", "redirected"
	Reason    string        `json:"reason,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
}

// Stats are a session's figures: the CLIENT_LOG (2.2.1) that the client
// sends to the server at the end, plus what the gateway's session log wants.
type Stats struct {
	URL             string    `json:"url"`
	Transport       string    `json:"transport"` // "udp" or "tcp" once playing
	Attempts        []Attempt `json:"attempts"`
	Redirects       []string  `json:"redirects,omitempty"`
	ServerVersion   string    `json:"server_version,omitempty"`
	AuthScheme      string    `json:"auth_scheme,omitempty"`
	Bandwidth       int64     `json:"bandwidth_bps"`    // used for stream selection
	BandwidthMethod string    `json:"bandwidth_method"` // "packet-pair-udp", "packet-pair-tcp", "forced", "none"
	Streams         []uint16  `json:"streams"`
	StreamsBitrate  int64     `json:"streams_bitrate_bps"`
	HeaderBytes     int       `json:"header_bytes"`
	Entries         int       `json:"entries"` // playlist entries started (1 for a plain file)

	PacketsReceived uint32 `json:"packets_received"` // dwPacketsReceived: Data packets with ASF data packets
	BytesReceived   uint64 `json:"bytes_received"`   // qwBytesReceived: their payload bytes
	PacketsLostNet  uint32 `json:"packets_lost_net"` // dwPacketsLostNet: found missing
	PacketsLostCont uint32 `json:"packets_lost_cont"`
	ResendRequests  uint32 `json:"resend_requests"`
	Recovered       uint32 `json:"packets_recovered"` // dwPacketsRecoveredResent
	Resent          uint32 `json:"packets_resent"`    // dwPacketsResent
	Lost            uint32 `json:"packets_lost"`      // dwPacketsLostClient: never received in time
	Late            uint32 `json:"packets_late"`
	Duplicates      uint32 `json:"packets_duplicate"`
	Stale           uint32 `json:"packets_stale"` // from an earlier play incarnation
	Delivered       uint64 `json:"packets_delivered"`

	StartTime time.Duration `json:"start_ns"`      // msStartTime
	Played    time.Duration `json:"played_ns"`     // msPlayed: content time delivered
	Elapsed   time.Duration `json:"elapsed_ns"`    // wall clock since Dial
	AvgBps    int64         `json:"avg_bps"`       // dwAvgBandwidthBps
	Quality   uint32        `json:"min_quality"`   // dwMinReceptionQuality, percent
	LogSent   bool          `json:"log_sent"`      // CLIENT_LOG delivered to the server
	EndReason string        `json:"end,omitempty"` // why the session ended
}
