package mmsclient

// streamKind is what a stream carries, as far as selection cares.
type streamKind uint8

const (
	kindOther streamKind = iota
	kindAudio
	kindVideo
)

func (k streamKind) String() string {
	switch k {
	case kindAudio:
		return "audio"
	case kindVideo:
		return "video"
	}
	return "other"
}

// streamInfo is one stream of the ASF header as the session tracks it. The
// choice of streams itself is asf.Header.SelectStreams, shared with mmsh.
type streamInfo struct {
	Number   uint16
	Kind     streamKind
	Bitrate  uint32 // bits/s
	Language string
}
