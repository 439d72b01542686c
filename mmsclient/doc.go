// Package mmsclient is a client of the Microsoft Media Server protocol
// (MS-MMSP, section 3.1): it plays mms://, mmsu:// and mmst:// URLs and
// hands out the ASF header and the ASF data packets, restored to the fixed
// packet size, in order.
//
// Dial runs the whole start of a session (section 4.3): the transport
// attempts of the policy (auto: Data over UDP, and over TCP when no UDP
// Data packet arrives within Options.UDPTimeout), redirects
// (LinkMacToViewerReportRedirect, vetted by Options.AllowHost), Basic or
// NTLM authentication, packet-pair bandwidth estimation (4.4.1 over UDP,
// 4.4.2 over TCP), the ASF file header (ReadBlock, with the Header timer and
// its retries over UDP, 3.1.6.1), stream selection (StreamSwitch, chosen
// from the header's bit rates, mutual exclusions and languages, or given)
// and StartPlaying or StartStriding. Next then returns the packets, a new
// header at each server-side playlist entry, and io.EOF at the end.
// Seek, SeekPacket, Stride and SwitchStreams change playback while playing
// (4.5.1); Close stops, sends the CLIENT_LOG (LinkViewerToMacLogging) and
// CloseFile.
//
// Over UDP the client reconstructs the 32-bit sequence numbers from the
// 8-bit AFFlags, asks for lost packets with RequestPacketListResend, puts
// resent packets back in order in a bounded buffer and gives up on a packet
// after Options.ResendTimeout, counting it as lost. Data packets of an
// earlier play incarnation (before a seek) are dropped. Servers strip the
// ASF Padding Data (2.2.2); every packet is restored to full size with
// asf.RestorePadding, rewriting its Padding Length.
//
// Protocol rollover (issue 9): an mms:// URL with the auto policy is
// tried as MMS with UDP Data, MMS with TCP Data, then MMSH (MS-WMSP,
// package mmsh) on Options.HTTPPort of the same host, each rung an attempt
// event with its reason and an Attempt in Stats; Options.Prefer moves the
// rung that worked last to the front. mmsh://, http:// and https:// URLs
// and the "http" policy go to MMSH directly. Over MMSH the Session
// delegates to the mmsh session (Session.HTTP), so callers see one API;
// SeekPacket, Stride at other rates than 1 and SwitchStreams are MMS only.
// Options.AllowHost and Options.DialContext apply on every rung.
//
// Every step is reported as an event.Event to Options.OnEvent, and
// Session.Stats has the CLIENT_LOG figures. Every wait has a deadline,
// a Ping from the server is answered at any time, and canceling the Dial
// context or calling Close ends every goroutine of the session.
package mmsclient
