package mmsclient

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsproto"
	"github.com/mmsgate/mmsgate/mmsserver"
)

// fakeServer accepts connections and hands each to serve. Hostile servers
// are written with it.
func fakeServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				serve(c)
			}()
		}
	}()
	return "mmst://" + ln.Addr().String() + "/x.asf"
}

// verdict tells scripted what to do after answer saw a message.
type verdict int

const (
	answerDefault verdict = iota // answer like a well-behaved server
	handled                      // answer already did what it wanted
	hangUp                       // close the connection
)

// scripted answers the handshake like a well-behaved server, letting answer
// see every message first; answer may write anything itself.
func scripted(answer func(c net.Conn, m mmsproto.Message) verdict) func(c net.Conn) {
	return func(c net.Conn) {
		r := &tcpReader{r: c, maxSize: 1 << 16}
		var seq uint16
		send := func(m mmsproto.Message) {
			_, _ = c.Write(mmsproto.Marshal(m, seq, 0))
			seq++
		}
		for {
			it, err := r.next()
			if err != nil || it.msg == nil {
				return
			}
			switch answer(c, it.msg) {
			case hangUp:
				return
			case handled:
				continue
			}
			switch m := it.msg.(type) {
			case *mmsproto.LinkViewerToMacConnect:
				send(&mmsproto.LinkMacToViewerReportConnectedEX{PlayIncarnation: mmsproto.MMSDisablePacketPair,
					MacToViewerProtocolRevision: mmsproto.MacToViewerProtocolRevision, ViewerToMacProtocolRevision: mmsproto.ViewerToMacProtocolRevision,
					ServerVersionInfo: "9.1.1.3814"})
			case *mmsproto.LinkViewerToMacFunnelInfo:
				send(mmsproto.NewReportFunnelInfo(mmsproto.MMSDisablePacketPair, 7, nil))
			case *mmsproto.LinkViewerToMacConnectFunnel:
				send(&mmsproto.LinkMacToViewerReportConnectedFunnel{FunnelName: mmsproto.FunnelOfTheGods})
			case *mmsproto.LinkViewerToMacOpenFile:
				send(&mmsproto.LinkMacToViewerReportOpenFile{PlayIncarnation: m.PlayIncarnation, OpenFileID: 1,
					FilePacketSize: 3200, FileBitRate: 100000, FileHeaderSize: 5000})
			case *mmsproto.LinkViewerToMacReadBlock:
				send(&mmsproto.LinkMacToViewerReportReadBlock{PlayIncarnation: m.PlayIncarnation})
			}
		}
	}
}

func hostileDial(t *testing.T, url string) error {
	t.Helper()
	checkNoLeak(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	// The MMSH rung of the rollover goes to a closed port, not to whatever
	// may listen on port 80 here.
	s, err := Dial(ctx, url, Options{StepTimeout: time.Second, IdleTimeout: 2 * time.Second, MaxHeaderSize: 1 << 20,
		HTTPPort: closedPort(t)})
	if err == nil {
		// Some servers only misbehave once playing.
		for err == nil {
			_, err = s.Next(ctx)
		}
		s.Close()
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %v to fail", d)
	}
	if err == nil {
		t.Fatal("no error")
	}
	t.Logf("error: %v", err)
	return err
}

func TestHostileServers(t *testing.T) {
	t.Run("garbage", func(t *testing.T) {
		url := fakeServer(t, func(c net.Conn) {
			b := make([]byte, 4096)
			_, _ = rand.Read(b)
			_, _ = c.Write(b)
			_, _ = c.Read(b)
		})
		err := hostileDial(t, url)
		if !errors.Is(err, ErrProtocol) && !errors.Is(err, mmsproto.ErrBadSignature) && !errors.Is(err, mmsproto.ErrBadLength) {
			t.Errorf("want a protocol error, got %v", err)
		}
	})
	t.Run("lying length", func(t *testing.T) {
		url := fakeServer(t, func(c net.Conn) {
			h := mmsproto.TcpMessageHeader{Rep: 1, SessionID: mmsproto.SessionID, MessageLength: 0x7FFFFFF0, Seal: mmsproto.Seal, ChunkCount: 0x7FFFFFF0 / 8}
			_, _ = c.Write(h.Append(nil))
			b := make([]byte, 64)
			_, _ = c.Read(b)
		})
		if err := hostileDial(t, url); !errors.Is(err, mmsproto.ErrTooLarge) {
			t.Errorf("want ErrTooLarge, got %v", err)
		}
	})
	t.Run("lying chunkLen", func(t *testing.T) {
		url := fakeServer(t, func(c net.Conn) {
			b := mmsproto.Marshal(&mmsproto.LinkMacToViewerPing{}, 0, 0)
			binary.LittleEndian.PutUint32(b[mmsproto.HeaderSize:], 1000) // chunkLen beyond the packet
			_, _ = c.Write(b)
			_, _ = c.Read(b)
		})
		if err := hostileDial(t, url); !errors.Is(err, mmsproto.ErrBadLength) {
			t.Errorf("want ErrBadLength, got %v", err)
		}
	})
	t.Run("endless pings", func(t *testing.T) {
		url := fakeServer(t, func(c net.Conn) {
			for i := uint16(0); ; i++ {
				if _, err := c.Write(mmsproto.Marshal(&mmsproto.LinkMacToViewerPing{}, i, 0)); err != nil {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
		if err := hostileDial(t, url); !errors.Is(err, ErrTimeout) {
			t.Errorf("want ErrTimeout, got %v", err)
		}
	})
	t.Run("stall", func(t *testing.T) {
		url := fakeServer(t, scripted(func(c net.Conn, m mmsproto.Message) verdict {
			if _, ok := m.(*mmsproto.LinkViewerToMacOpenFile); ok {
				time.Sleep(2500 * time.Millisecond) // never answers in time
				return hangUp
			}
			return answerDefault
		}))
		if err := hostileDial(t, url); !errors.Is(err, ErrTimeout) {
			t.Errorf("want ErrTimeout, got %v", err)
		}
	})
	t.Run("endless header", func(t *testing.T) {
		url := fakeServer(t, scripted(func(c net.Conn, m mmsproto.Message) verdict {
			if rb, ok := m.(*mmsproto.LinkViewerToMacReadBlock); ok {
				_, _ = c.Write(mmsproto.Marshal(&mmsproto.LinkMacToViewerReportReadBlock{PlayIncarnation: rb.PlayIncarnation}, 9, 0))
				part := make([]byte, 3000)
				for loc := uint32(0); ; loc++ {
					d := &mmsproto.DataPacket{LocationID: loc, PlayIncarnation: uint8(rb.PlayIncarnation), AFFlags: 0x04, Payload: part}
					if _, err := c.Write(d.Marshal()); err != nil {
						return hangUp
					}
				}
			}
			return answerDefault
		}))
		if err := hostileDial(t, url); !errors.Is(err, ErrProtocol) {
			t.Errorf("want ErrProtocol (header too large), got %v", err)
		}
	})
	t.Run("redirect loop", func(t *testing.T) {
		var url string
		url = fakeServer(t, scripted(func(c net.Conn, m mmsproto.Message) verdict {
			if _, ok := m.(*mmsproto.LinkViewerToMacOpenFile); ok {
				_, _ = c.Write(mmsproto.Marshal(&mmsproto.LinkMacToViewerReportRedirect{RedirectType: mmsproto.RedirectURL, Location: url}, 5, 0))
				return hangUp
			}
			return answerDefault
		}))
		if err := hostileDial(t, url); !errors.Is(err, ErrRedirects) {
			t.Errorf("want ErrRedirects, got %v", err)
		}
	})
	t.Run("garbage header", func(t *testing.T) {
		url := fakeServer(t, scripted(func(c net.Conn, m mmsproto.Message) verdict {
			if rb, ok := m.(*mmsproto.LinkViewerToMacReadBlock); ok {
				_, _ = c.Write(mmsproto.Marshal(&mmsproto.LinkMacToViewerReportReadBlock{PlayIncarnation: rb.PlayIncarnation}, 9, 0))
				part := make([]byte, 500)
				_, _ = rand.Read(part)
				d := &mmsproto.DataPacket{PlayIncarnation: uint8(rb.PlayIncarnation), AFFlags: 0x0C, Payload: part}
				_, _ = c.Write(d.Marshal())
				return hangUp
			}
			return answerDefault
		}))
		if err := hostileDial(t, url); !errors.Is(err, ErrProtocol) {
			t.Errorf("want ErrProtocol, got %v", err)
		}
	})
}

// TestRedirectFollowed: a server that redirects (2.2.4.9, then closes the
// connection as 3.2.5.6 says) to a relative location on our mmsserver; the
// client follows, vetting every host with AllowHost.
func TestRedirectFollowed(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	_, target := serveDir(t, dirWith(t, map[string]string{"a.wma": src}), func(s *mmsserver.Server) { s.Rate = 20 })
	redirector := fakeServer(t, scripted(func(c net.Conn, m mmsproto.Message) verdict {
		if _, ok := m.(*mmsproto.LinkViewerToMacOpenFile); ok {
			_, _ = c.Write(mmsproto.Marshal(&mmsproto.LinkMacToViewerReportRedirect{RedirectType: mmsproto.RedirectURL, Location: target + "a.wma"}, 5, 0))
			return hangUp
		}
		return answerDefault
	}))
	var hosts []string
	var evs eventLog
	s := playAndCompare(t, redirector, src, Options{OnEvent: evs.add, AllowHost: func(h string) error {
		hosts = append(hosts, h)
		return nil
	}})
	st := s.Stats()
	if len(st.Redirects) != 1 || st.Redirects[0] != target+"a.wma" || len(hosts) != 2 {
		t.Errorf("redirects %v, hosts vetted %v", st.Redirects, hosts)
	}
	if len(evs.kinds("redirect")) != 1 || st.Attempts[0].Outcome != "redirected" {
		t.Errorf("redirect events %d, attempts %+v", len(evs.kinds("redirect")), st.Attempts)
	}
	// The caller vetoes the redirect's host.
	calls := 0
	_, err := Dial(context.Background(), redirector, Options{AllowHost: func(h string) error {
		if calls++; calls == 2 {
			return errors.New("not on the allow-list")
		}
		return nil
	}})
	if !errors.Is(err, ErrRedirects) || calls != 2 {
		t.Fatalf("vetoed redirect: %v after %d calls", err, calls)
	}
}

// TestRedirectCredentials: credentials follow a redirect to the same host
// and are not sent to another one.
func TestRedirectCredentials(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	_, target := serveDir(t, dirWith(t, map[string]string{"a.wma": src}), func(s *mmsserver.Server) {
		s.Rate = 20
		s.Auth = &mmsserver.Auth{Scheme: "basic", Username: "alice", Password: "s3cret"}
	})
	redirectTo := func(loc string) string {
		return fakeServer(t, scripted(func(c net.Conn, m mmsproto.Message) verdict {
			if _, ok := m.(*mmsproto.LinkViewerToMacOpenFile); ok {
				_, _ = c.Write(mmsproto.Marshal(&mmsproto.LinkMacToViewerReportRedirect{RedirectType: mmsproto.RedirectURL, Location: loc}, 5, 0))
				return hangUp
			}
			return answerDefault
		}))
	}
	opts := Options{Transport: "tcp", Username: "alice", Password: "s3cret"}
	// Same host (127.0.0.1): the credentials go along.
	playAndCompare(t, redirectTo(target+"a.wma"), src, opts)
	// Another host name for the same server: no credentials are sent.
	other := strings.Replace(target, "127.0.0.1", "localhost", 1)
	_, err := Dial(context.Background(), redirectTo(other+"a.wma"), opts)
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "none were given") {
		t.Fatalf("cross-host redirect: %v", err)
	}
	// Unless the redirect's URL carries its own.
	withCreds := strings.Replace(other, "mms://", "mms://alice:s3cret@", 1)
	playAndCompare(t, redirectTo(withCreds+"a.wma"), src, Options{Transport: "tcp"})
}
