// Package mmsproto is the wire format of the Microsoft Media Server protocol,
// MS-MMSP section 2.2: the TcpMessageHeader framing (2.2.3), the 28 messages
// of 2.2.4, the Data packet (2.2.2), RequestPacketListResend (2.2.5), the
// logging structures CLIENT_LOG and CLIENT_LOG_INFO (2.2.1) and NTLM_AUTH
// (2.2.4.14.1). It uses only the standard library and does no network I/O;
// Reader and ReadMessage parse from an io.Reader.
//
// # Messages
//
// Every message of 2.2.4 is a struct named as the spec names it
// (LinkViewerToMacConnect, LinkMacToViewerReportConnectedEX, ...), with the
// spec's fields in Go spelling (playIncarnation → PlayIncarnation, hr → HR,
// openFileId → OpenFileID). Length and count fields (cbToken, cbtoken,
// cbLocation, cStreamEntries, the cb* fields of ReportConnectedEX) are not
// stored: they are computed from the slice or string they describe. All
// message types implement Message with pointer receivers:
//
//	type Message interface {
//		MID() uint32                  // MIDLinkViewerToMacConnect, ...
//		AppendBody(dst []byte) []byte // fields after chunkLen and MID
//		UnmarshalBody(b []byte) error // the inverse; b may end with padding
//	}
//
// NewMessage(mid) returns an empty message of the right type.
//
// # Framing on TCP
//
//	b := mmsproto.Marshal(msg, seq, timeSentMs)   // TcpMessageHeader + message, 8-byte aligned
//	b = mmsproto.AppendMarshal(b, msg, seq, 0)    // same, appending
//	err := mmsproto.WriteMessage(conn, msg, seq, 0)
//
// The caller owns seq (2.2.3: 0 for the first packet, +1 for each). Marshal of
// a *DataPacket returns the Data packet itself, so one call writes either
// kind of traffic on the TCP connection.
//
// Reading: a Reader returns the next 2.2.4 message or *DataPacket, telling
// them apart by the sessionId field (3.1.5.2), enforcing a size limit, and
// splitting TcpMessageHeader packets that carry several messages:
//
//	rd := mmsproto.NewReader(conn, mmsproto.DefaultMaxSize)
//	for {
//		m, err := rd.Next()
//		switch m := m.(type) {
//		case *mmsproto.DataPacket:      // reused; Payload valid until the next call
//		case *mmsproto.LinkMacToViewerPing:
//		...
//		}
//	}
//
// ReadMessage(r, maxSize) is the one-shot form (fresh buffers, one message
// per packet). UnmarshalMessage and ParseMessages parse messages from bytes
// (chunkLen onwards); TcpMessageHeader.Unmarshal parses the 32-byte framing.
//
// # Data packets, resends, logging, authentication
//
// DataPacket (LocationID, PlayIncarnation, AFFlags, Payload; PacketSize is
// computed) has Marshal/Append/Unmarshal for UDP datagrams and the
// IsPacketPair/IsHeaderLast helpers. RequestPacketListResend has
// Marshal/Unmarshal; SeqTracker turns 8-bit AFFlags into the 32-bit sequence
// numbers RequestPacketListResend needs. ClientLog and ClientLogInfo
// marshal and parse 2.2.1. NTLMAuth is NTLM_AUTH; NTLMToken extracts the NTLM
// message from any pToken or tokenData form, AppendNTLMToken builds one;
// BasicChallengeToken and ParseBasicChallenge handle the Basic realm token.
// The auth package builds on these.
//
// # Strings
//
// MMS text is UTF-16LE: AppendUTF16, AppendUTF16Z (NUL-terminated),
// DecodeUTF16, DecodeUTF16Z, UTF16Len. ParseSubscriberName and
// ParseFunnelName parse Connect's subscriberName and ConnectFunnel's
// funnelName leniently, since real clients deviate from the ABNF.
//
// # Errors
//
// Parsers never panic on bad input. Errors wrap the sentinels ErrShort,
// ErrTooLarge, ErrBadLength, ErrBadSignature, ErrUnknownMID (*UnknownMIDError
// carries the MID), ErrBadValue and ErrMultipleMessages, for errors.Is.
//
// Parsers are strict about lengths (a count or size that points outside the
// message is an error) and lenient about values the spec says receivers MUST
// ignore or that Appendix A says Windows fills with garbage. Bytes after the
// last field of a fixed-size message are accepted as padding.
package mmsproto
