package mmsclient_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/mmsclient"
)

// Download a stream into an ASF file: the header as received, then every
// packet at full size.
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := mmsclient.Dial(ctx, "mms://example.com/live", mmsclient.Options{
		Transport: mmsclient.TransportAuto, // UDP, then TCP after 3 s of silence
		OnEvent:   func(e event.Event) { fmt.Fprintln(os.Stderr, e.Kind, e.Message) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer s.Close() // StopPlaying, CLIENT_LOG, CloseFile
	f, err := os.Create("out.asf")
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(s.HeaderBytes())
	for {
		it, err := s.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		if it.Header != nil {
			break // a new server-side playlist entry: a new file would start here
		}
		f.Write(it.Packet)
	}
	st := s.Stats()
	fmt.Fprintf(os.Stderr, "%d packets over %s, %d lost, %d recovered\n", st.PacketsReceived, st.Transport, st.Lost, st.Recovered)
}
