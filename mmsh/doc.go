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
// connection. Log requests after $E and SelectStream are not sent.
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
