// Package mmsh implements the Windows Media HTTP Streaming Protocol
// (MS-WMSP, "MMSH"): the framing of $H, $D, $E, $C, $M, $P and $T packets
// (2.2.3), the Pragma directives (2.2.1.4), a client with the same shape as
// mmsclient's (Dial, Session.Next, Header, Stats, events) and an
// http.Handler that serves ASF files, live broadcasts and server-side
// playlists to Windows Media Player, FFmpeg, VLC and this package's client.
//
// Only the non-pipelined mode is spoken: every request goes on its own
// connection (or a kept-alive one between responses). The server answers
// Pipeline requests with pipeline-result=0, which the specification allows
// and which keeps clients in non-pipelined mode.
package mmsh
