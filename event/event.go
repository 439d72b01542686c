// Package event is the one shape of everything that happens to a channel: the
// MMS client's protocol steps, the media pipeline's transcoder messages and the
// supervisor's state changes. Session logs, the SSE streams and the metrics are
// all built from it (DESIGN.md, "Seams between packages").
package event

import "time"

// Event is one entry of a session log. It marshals to the JSON object that the
// REST API returns: {"time", "kind", "message", "fields"}.
type Event struct {
	Time    time.Time      `json:"time"`
	Kind    Kind           `json:"kind"`
	Message string         `json:"message"`
	Fields  map[string]any `json:"fields,omitempty"`
}

// Kind names what happened. The set is open; these are the kinds that the
// packages of this module emit.
type Kind string

// Kinds emitted by the MMS client (mmsclient) for each step of a session.
const (
	Attempt     Kind = "attempt"      // a transport attempt begins or ends (fields: transport, outcome, reason)
	Connected   Kind = "connected"    // the server answered Connect (fields: server version)
	Auth        Kind = "auth"         // authentication exchanged (fields: scheme, outcome)
	Bandwidth   Kind = "bandwidth"    // packet-pair estimate (fields: bps, method)
	Streams     Kind = "streams"      // streams chosen by StreamSwitch (fields: streams, bitrate)
	Header      Kind = "header"       // ASF header received (fields: bytes, packet_size, streams)
	Playing     Kind = "playing"      // StartPlaying acknowledged
	Loss        Kind = "loss"         // Data packets lost (fields: count, first)
	Recovered   Kind = "recovered"    // lost packets recovered by resend (fields: count)
	Redirect    Kind = "redirect"     // redirected to another URL (fields: url)
	EntryChange Kind = "entry_change" // server-side playlist moved to a new entry
	End         Kind = "end"          // the session ended normally (fields: reason)
	Error       Kind = "error"        // the session failed (fields: error)
	Stats       Kind = "stats"        // final statistics, the CLIENT_LOG figures (fields: the figures)
	ClientLog   Kind = "client_log"   // a log of the play was sent to the server, or failed (fields: outcome, figures)
)

// Kinds emitted by the media pipeline (remux).
const (
	TranscoderStart   Kind = "transcoder_start"
	TranscoderRestart Kind = "transcoder_restart"
	TranscoderStderr  Kind = "transcoder_stderr"
	TranscoderExit    Kind = "transcoder_exit"
	// a declared stream sent no data and is filled with black frames or
	// silence, or sends data again (fields: stream, kind, after, fill, back)
	TrackMissing Kind = "track_missing"
)

// Kinds emitted by the gateway's supervisor.
const (
	State Kind = "state" // channel health changed (fields: state, reason)
)

// Func receives events. Implementations must not block for long: the caller
// is usually a protocol goroutine with deadlines to keep.
type Func func(Event)

// New returns an Event stamped with the current time.
func New(kind Kind, msg string, fields map[string]any) Event {
	return Event{Time: time.Now(), Kind: kind, Message: msg, Fields: fields}
}

// Emit calls f with a new event when f is not nil.
func (f Func) Emit(kind Kind, msg string, fields map[string]any) {
	if f != nil {
		f(New(kind, msg, fields))
	}
}
