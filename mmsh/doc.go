// Package mmsh implements the Windows Media HTTP Streaming Protocol
// (MS-WMSP, "MMSH"): the framing of $H, $D, $E, $C, $M, $P and $T packets
// (2.2.3), the Pragma directives (2.2.1.4), a client with the same shape as
// mmsclient's (Dial, Session.Next, Header, Stats, events) and an
// http.Handler that serves ASF files, live broadcasts and server-side
// playlists to Windows Media Player, FFmpeg, VLC and this package's client.
// Writer serves the same framing from any sequence of headers and packets
// (the gateway's ASF passthrough).
//
// Only the non-pipelined mode is spoken: every request goes on its own
// connection (or a kept-alive one between responses). The server answers
// Pipeline requests with pipeline-result=0, which the specification allows
// and which keeps clients in non-pipelined mode; the client's Pipelined
// option only keeps connections alive and sends KeepAlive as OPTIONS.
//
// Compatibility with the clients found in the wild, decided by the
// User-Agent version: clients before 9.0 (FFmpeg says NSPlayer/4.1, VLC
// NSPlayer/7.10) get no $M packets (both stop at an unknown type), no $E
// between playlist entries (both take it as the end), playlists as
// broadcasts (2.2.1.4.8.1), and VLC a $T after a new entry's header (its
// header loop drops the first $D otherwise). The B bit is never set:
// FFmpeg does not accept 0xA4.
package mmsh
