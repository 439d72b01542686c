package remux

import (
	"strings"
	"unicode/utf16"

	"github.com/mmsgate/mmsgate/asf"
)

// Metadata describes a channel's current entry for the gateway's status API.
type Metadata struct {
	Title       string `json:"title,omitempty"`
	Author      string `json:"author,omitempty"`
	Copyright   string `json:"copyright,omitempty"`
	Description string `json:"description,omitempty"`
	Rating      string `json:"rating,omitempty"`
	// NowPlaying is the latest TEXT/TITLE/CAPTION script command (from the
	// header's Script Command Object as playback passes it, or from a command
	// stream), else the title.
	NowPlaying string       `json:"now_playing,omitempty"`
	Streams    []StreamInfo `json:"streams,omitempty"`
	Bitrate    int          `json:"bitrate,omitempty"` // bits/s of the streams, else the header's maximum
	Encrypted  bool         `json:"encrypted,omitempty"`
	// Mode is how HLS is made: "direct" (H.264/AAC remuxed), "transcode"
	// (ffmpeg), or "" (no HLS for this entry, see Error).
	Mode    string `json:"mode,omitempty"`
	Error   string `json:"error,omitempty"` // why there is no HLS for this entry
	Entries int    `json:"entries"`         // headers seen (playlist entries and reconnects)
	// Viewers is the number of ASF passthrough viewers.
	Viewers int `json:"viewers"`
}

// StreamInfo is one stream of the header.
type StreamInfo struct {
	Number     uint16 `json:"number"`
	Type       string `json:"type"` // "audio", "video", "command", "other"
	Codec      string `json:"codec,omitempty"`
	Bitrate    int    `json:"bitrate,omitempty"`
	Width      int    `json:"width,omitempty"`
	Height     int    `json:"height,omitempty"`
	SampleRate int    `json:"sample_rate,omitempty"`
	Channels   int    `json:"channels,omitempty"`
	Language   string `json:"language,omitempty"`
	Encrypted  bool   `json:"encrypted,omitempty"`
}

// headerMetadata fills what a header says.
func headerMetadata(h *asf.Header) Metadata {
	var m Metadata
	if cd := h.ContentDescription; cd != nil {
		m.Title, m.Author, m.Copyright = clean(cd.Title), clean(cd.Author), clean(cd.Copyright)
		m.Description, m.Rating = clean(cd.Description), clean(cd.Rating)
	}
	if m.Title == "" {
		for _, d := range h.ExtendedContentDescription {
			if d.Name == "Title" || d.Name == "WM/Title" {
				m.Title = clean(d.String())
			}
		}
	}
	m.NowPlaying = m.Title
	m.Encrypted = h.Encrypted
	total := 0
	for _, s := range h.Streams {
		si := StreamInfo{Number: s.StreamNumber, Bitrate: int(s.Bitrate), Language: s.Language, Encrypted: s.Encrypted}
		switch {
		case s.Video != nil:
			si.Type = "video"
			si.Width, si.Height = int(s.Video.Width), int(s.Video.Height)
			if si.Height < 0 {
				si.Height = -si.Height
			}
		case s.Audio != nil:
			si.Type = "audio"
			si.SampleRate, si.Channels = int(s.Audio.SamplesPerSec), int(s.Audio.Channels)
			if si.Bitrate == 0 {
				si.Bitrate = int(s.Audio.AvgBytesPerSec) * 8
			}
		case s.Type == asf.StreamTypeCommand:
			si.Type = "command"
		default:
			si.Type = "other"
		}
		if s.Video != nil || s.Audio != nil {
			si.Codec, _ = codecName(s)
		}
		total += si.Bitrate
		m.Streams = append(m.Streams, si)
	}
	m.Bitrate = total
	if m.Bitrate == 0 {
		m.Bitrate = int(h.FileProperties.MaxBitrate)
	}
	return m
}

// clean trims the NULs and spaces that ASF strings are padded with.
func clean(s string) string {
	return strings.TrimSpace(strings.TrimRight(s, "\x00"))
}

// nowPlayingType reports script command types that carry a title.
func nowPlayingType(typ string) bool {
	switch strings.ToUpper(clean(typ)) {
	case "TEXT", "TITLE", "CAPTION":
		return true
	}
	return false
}

// parseCommand decodes a command stream media object: two UTF-16LE strings,
// type and command, each NUL-terminated (ASF 3.6 and the command media type).
func parseCommand(b []byte) (typ, cmd string, ok bool) {
	if len(b) < 4 || len(b) > 64*1024 {
		return "", "", false
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	parts := make([]string, 0, 2)
	start := 0
	for i, c := range u {
		if c == 0 {
			parts = append(parts, string(utf16.Decode(u[start:i])))
			start = i + 1
			if len(parts) == 2 {
				break
			}
		}
	}
	if len(parts) < 2 {
		if start < len(u) {
			parts = append(parts, string(utf16.Decode(u[start:])))
		}
		if len(parts) < 2 {
			return "", "", false
		}
	}
	return parts[0], clean(parts[1]), true
}
