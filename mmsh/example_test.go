package mmsh_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/mmsgate/mmsgate/mmsh"
)

// A client reads a stream to its end.
func ExampleDial() {
	ctx := context.Background()
	s, err := mmsh.Dial(ctx, "mmsh://media.example.com/live", mmsh.Options{
		MaxBandwidth: 500_000,
		AllowHost:    func(host string) error { return nil }, // the allow-list goes here
	})
	if err != nil {
		log.Print(err)
		return
	}
	defer s.Close()
	for {
		it, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Print(err)
			return
		}
		if it.Header != nil {
			fmt.Println("new playlist entry")
		}
		_ = it.Packet // a full-size ASF data packet
	}
}

// A server serves a directory, a looping broadcast and a playlist.
func ExampleHandler() {
	h := &mmsh.Handler{Dir: "/srv/media", Rate: 1}
	clip, err := mmsh.OpenFile("/srv/media/clip.wmv")
	if err != nil {
		log.Print(err)
		return
	}
	h.Add("live", mmsh.NewLiveFile(clip, 1))
	h.Add("list", mmsh.Playlist{clip, clip})
	srv := &http.Server{Addr: "127.0.0.1:8081", Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.ListenAndServe()
}

// A passthrough answers MS-WMSP clients from its own packets.
func ExampleStartPlay() {
	var header []byte    // ASF Header Object + Data Object header of the current entry
	var packets [][]byte // full-size ASF data packets
	http.HandleFunc("/asf/demo", func(w http.ResponseWriter, r *http.Request) {
		if !mmsh.IsRequest(r) {
			return // progressive ASF for plain HTTP clients
		}
		hdr, err := mmsh.BroadcastHeader(header)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if !mmsh.IsPlayRequest(r) {
			mmsh.WriteDescribe(w, r, hdr, true)
			return
		}
		wr := mmsh.StartPlay(w, r, true)
		if wr.WriteHeader(hdr) != nil {
			return
		}
		for _, p := range packets {
			if wr.WritePacket(p) != nil {
				return
			}
		}
		wr.End(mmsh.EndOK)
	})
}
