package mmsserver

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// FuzzSession feeds arbitrary bytes to one session of a real server over a
// pipe: whatever the client sends, the session ends without a panic once
// the client goes away.
func FuzzSession(f *testing.F) {
	dir := f.TempDir()
	spec := fixture.AudioOnly()
	spec.Duration = time.Second
	p, err := fixture.Generate(context.Background(), fixture.CacheDir(), spec)
	if err != nil {
		f.Skip(err)
	}
	copyFile(f, p, filepath.Join(dir, "a.wma"))

	var seq uint16
	msgs := func(ms ...mmsproto.Message) []byte {
		var out []byte
		for _, m := range ms {
			out = mmsproto.AppendMarshal(out, m, seq, 0)
			seq++
		}
		return out
	}
	connect := &mmsproto.LinkViewerToMacConnect{SubscriberName: "Spooooon!"}
	f.Add(msgs(connect))
	f.Add(msgs(connect, &mmsproto.LinkViewerToMacFunnelInfo{PlayIncarnation: mmsproto.MMSPacketPairTCPHighEntropy},
		&mmsproto.LinkViewerToMacConnectFunnel{FunnelName: `\\1.2.3.4\TCP\1`},
		&mmsproto.LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: "a.wma"},
		&mmsproto.LinkViewerToMacReadBlock{OpenFileID: 1, PlayIncarnation: 2},
		&mmsproto.LinkViewerToMacStreamSwitch{Entries: all(1, 2, 0xFFFF)},
		&mmsproto.LinkViewerToMacStartPlaying{OpenFileID: 1, LocationID: 3, PlayIncarnation: 3},
		&mmsproto.LinkViewerToMacStartStriding{OpenFileID: 1, PlayIncarnation: 4, Rate: -2},
		&mmsproto.LinkViewerToMacStopPlaying{OpenFileID: 1, PlayIncarnation: 4},
		&mmsproto.LinkViewerToMacLogging{},
		&mmsproto.LinkViewerToMacCloseFile{OpenFileID: 1}))
	f.Add(msgs(connect, &mmsproto.LinkViewerToMacConnectFunnel{FunnelName: `\\1.2.3.4\UDP\7000`},
		&mmsproto.LinkViewerToMacSecurityResponse{Token: []byte{0, 0, 1}}))
	f.Add([]byte("\x01\x00\x00\x00\xce\xfa\x0b\xb0garbage"))

	srv := &Server{Dir: dir, Unpaced: true, HandshakeTimeout: 100 * time.Millisecond,
		WriteTimeout: 100 * time.Millisecond, Logger: testLogger(nil)}
	srv.init()
	f.Fuzz(func(t *testing.T, in []byte) {
		c1, c2 := net.Pipe()
		ss := newSession(srv, c1, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() { ss.run(ctx); close(done) }()
		go io.Copy(io.Discard, c2)
		c2.SetWriteDeadline(time.Now().Add(time.Second))
		c2.Write(in)
		c2.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end after the client left")
		}
	})
}
