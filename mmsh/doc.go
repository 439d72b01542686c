// Package mmsh implements the Windows Media HTTP Streaming Protocol
// (MS-WMSP, "MMSH"): the framing of $H, $D, $E, $C, $M, $P and $T packets
// (2.2.3), the Pragma directives (2.2.1.4), a client with the same shape as
// mmsclient's (Dial, Session.Next, Header, Stats, events) and an
// http.Handler that serves ASF files, live broadcasts and server-side
// playlists to Windows Media Player, FFmpeg, VLC and this package's client.
// Writer serves the same framing from any sequence of headers and packets
// (the gateway's ASF passthrough).
//
// Both modes are spoken. In the non-pipelined mode every request goes on
// its own connection (or a kept-alive one between responses). The
// pipelined mode (2.2.2.5) starts with the pipeline probe: the Handler
// hijacks the connection of the first Pipeline request, answers with a
// chunked $T and holds the response open for the Pipeline-Test timer
// (1 s); a second request within it gets pipeline-result=1 and the
// Handler then serves that connection itself, so that a Play response
// sees the client's PlayNextEntry at a playlist entry change. The
// client (Options.Pipelined) probes when the Describe response says
// pipeline-experiment=1, and sends Play and PlayNextEntry on the probed
// connection.
//
// SelectStream (2.2.2.8): Session.SwitchStreams changes the selection
// while playing (3.1.4.4), checked against the header (asf CheckStreams;
// a stream it lacks is an error and the play goes on), with
// stream-switch-entry tokens for the streams that change only. Pipelined,
// it is a GET on the play's connection: the server ends the Play
// response with its zero-length chunk, sends the pending responses and
// streams on in the SelectStream response (3.2.5.7); the client keeps
// what arrived before that end for Next. Otherwise it is a POST on a new
// connection, closed after the response (3.1.5.17). The Handler finds
// the play by client-id (every Play response registers under it) and
// applies the change before its next packet: a stream switched on starts
// at its first key-frame payload, streams switched off stop when every
// new stream has started ("replaced" streams go on until then), at once
// when none is waiting. A SelectStream without a valid entry (stream
// numbers 1..127) gets 400, one of an unknown client-id 404. A pipelined
// SelectStream that crosses a playlist entry change (the server waits for
// PlayNextEntry, 3.2.4.2) ends the response there and gets an empty
// response; the new entry's streams are those of PlayNextEntry. Between
// the return of a new entry's header and its PlayNextEntry (pipelined),
// SwitchStreams chooses the streams that PlayNextEntry asks for.
//
// Stop (2.2.2.10, 3.2.5.10): a Stop request on a connection other than
// its play's (a non-pipelined Stop, whichever mode the play is in) ends
// that play: $E (S_OK), then the zero-length chunk; the Stop response is
// sent once the play's response has ended (within 5 s). A Stop of an
// unknown client-id gets 404. This package's client never needs it: it
// closes the play's connection, or sends Stop on it when pipelined.
//
// Log (2.2.2.4): when a STREAMING play ends the client sends a Log
// request: at $E, for the content or each playlist entry (3.1.5.13), and
// when it stops, at Close or Seek (3.1.4.6). Pipelined, it goes on the
// play's connection (after a Stop request when the client stops; its
// response is read before the next PlayNextEntry response); otherwise on
// a new connection closed after the response (3.1.5.15). Each exchange is
// bounded by min(StepTimeout, 5 s); failures are client_log events, never
// session errors. The log is the "legacy" log-line (2.2.1.4.10): the 40
// W3C fields of a Windows Media Services log entry (c-ip ... c-quality,
// ParseLogLine/AppendLogLine) filled as MMS's CLIENT_LOG is (the type is
// mmsproto.ClientLog). The XML LogStats body (2.2.1.2.5) that 3.1.5.13
// recommends for Cougar 9 servers is never sent: it is defined by
// MS-WMLOG, which we do not have. The Handler passes every log that
// parses to Handler.OnLog, the log-line or, of an XML log, the W3C line
// MS-WMLOG embeds in its Summary element, and answers every Log request
// with the empty response, malformed or not (3.2.5.11, <74>); it counts
// what it cannot parse (LogCounts). On a pipelined connection, a
// Log request behind a streaming response is answered after it
// (Pending-Responses), and a Stop request ends that response with its
// zero-length chunk (3.2.5.10).
//
// Packet pair (4.3): a client of 5.0 or later that asks with
// packet-pair-experiment=1 gets three $P packets before the Describe
// response's $M and $H; the client asks unless its bandwidth is forced
// and selects streams by the estimate.
//
// Compatibility with the clients found in the wild, decided by the
// User-Agent version: clients before 9.0 (FFmpeg says NSPlayer/4.1, VLC
// NSPlayer/7.10) get no $M packets (both stop at an unknown type), no $E
// between playlist entries (both take it as the end), playlists as
// broadcasts (2.2.1.4.8.1), and VLC a $T after a new entry's header (its
// header loop drops the first $D otherwise). The B bit is never set:
// FFmpeg does not accept 0xA4.
package mmsh
