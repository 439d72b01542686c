package mmsproto_test

import (
	"bytes"
	"fmt"

	"github.com/mmsgate/mmsgate/mmsproto"
)

func Example() {
	// A server answers Connect and then streams a Data packet on the same
	// TCP connection (here a buffer).
	var conn bytes.Buffer
	conn.Write(mmsproto.Marshal(mmsproto.NewReportConnectedEX(mmsproto.MMSDisablePacketPair, "9.1.1.3814", ""), 0, 0))
	conn.Write(mmsproto.Marshal(&mmsproto.DataPacket{LocationID: 0, PlayIncarnation: 4, AFFlags: 0, Payload: []byte("asf packet")}, 0, 0))

	rd := mmsproto.NewReader(&conn, mmsproto.DefaultMaxSize)
	for {
		m, err := rd.Next()
		if err != nil {
			fmt.Println(err)
			return
		}
		switch m := m.(type) {
		case *mmsproto.LinkMacToViewerReportConnectedEX:
			fmt.Printf("server %s\n", m.ServerVersionInfo)
		case *mmsproto.DataPacket:
			fmt.Printf("data packet %d: %q\n", m.LocationID, m.Payload)
		}
	}
	// Output:
	// server 9.1.1.3814
	// data packet 0: "asf packet"
	// EOF
}

func ExampleSeqTracker() {
	var tr mmsproto.SeqTracker
	for _, af := range []uint8{254, 255, 0, 1, 3} { // 2 was lost
		fmt.Print(tr.Next(af), " ")
	}
	// Output: 254 255 256 257 259
}
