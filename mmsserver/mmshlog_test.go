package mmsserver

import (
	"fmt"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsh"
)

// An MMSH client's Log request (MS-WMSP 2.2.2.4) lands where MMS clients'
// LinkViewerToMacLogging does: ClientLogs and OnClientLog, with the
// packets the client played.
func TestMMSHClientLogs(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	video := shortClip(t, fixture.WMV2(), dir, "clip.wmv")
	wv := filePackets(t, video)
	got := make(chan ClientLog, 4)
	srv := &Server{Dir: dir, Unpaced: true, OnClientLog: func(l ClientLog) { got <- l }}
	serve(t, srv)
	addr := serveHTTP(t, srv)
	for i, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			s := mmshDial(t, "mmsh://"+addr+"/clip.wmv", mmsh.Options{Pipelined: pipelined})
			_, packets := readToEnd(t, s)
			equalPackets(t, wv, packets)
			s.Close()
			var l ClientLog
			select {
			case l = <-got:
			case <-time.After(30 * time.Second):
				t.Fatal("no client log")
			}
			logs := srv.ClientLogs()
			if len(logs) != i+1 || logs[i].Path != l.Path {
				t.Fatalf("ClientLogs %+v", logs)
			}
			if l.Path != "clip.wmv" || l.Log.Proto != "http" || l.Log.Transport != "TCP" ||
				int(l.Log.Info.PacketsReceived) != len(wv) || l.Log.Info.Played < 2000 || l.Remote == "" {
				t.Errorf("log %+v", l)
			}
		})
	}
}
