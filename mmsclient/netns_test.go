package mmsclient

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
)

// These tests put the server and the client in a network namespace of their
// own where iptables drops UDP for real, in the kernel. The parent test makes
// the namespace and re-runs this test binary inside it with
// MMSCLIENT_NETNS_CHILD set to the scenario.

const netnsEnv = "MMSCLIENT_NETNS_CHILD"

// inNetns runs the child test named child inside a fresh namespace whose
// INPUT chain gets the iptables rule.
func inNetns(t *testing.T, child string, rule ...string) {
	t.Helper()
	if os.Getenv(netnsEnv) != "" {
		t.Skip("already inside a namespace")
	}
	ns := fmt.Sprintf("mmsc-%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("network namespaces unavailable (ip netns add: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput(); err != nil {
			t.Skipf("cannot set up the namespace (%s: %v: %s)", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	run("ip", "link", "set", "lo", "up")
	run(append([]string{"iptables", "-A", "INPUT"}, rule...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run", "^"+child+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsEnv+"="+child)
	out, err := cmd.CombinedOutput()
	t.Logf("child output:\n%s", out)
	if err != nil {
		t.Fatalf("child test %s failed: %v", child, err)
	}
	if !strings.Contains(string(out), "--- PASS: "+child) {
		t.Fatalf("child test %s did not run", child)
	}
}

func childOnly(t *testing.T) {
	if os.Getenv(netnsEnv) != t.Name() {
		t.Skip("runs inside the namespace made by its parent test")
	}
}

func TestKernelLossUDP(t *testing.T) {
	inNetns(t, "TestChildKernelLoss", "-p", "udp", "-m", "statistic", "--mode", "random", "--probability", "0.1", "-j", "DROP")
}

func TestChildKernelLoss(t *testing.T) {
	childOnly(t)
	spec := fixture.WMV2()
	spec.Duration = 30 * time.Second
	src := clip(t, spec)
	_, base := serveDir(t, dirWith(t, map[string]string{"a.wmv": src}), func(s *mmsserver.Server) { s.Rate = 10 })
	// 10% of the header parts and of the resend requests are lost too: the
	// header timer's retries (3.1.6.1) and repeated requests deal with it.
	s, err := Dial(context.Background(), base+"a.wmv", Options{Transport: "udp"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, want := sourcePackets(t, src)
	_, got := readAll(t, s)
	wantObj, gotObj := mediaObjects(t, want), mediaObjects(t, got)
	missing := 0
	for k := range wantObj {
		if !gotObj[k] {
			missing++
		}
	}
	st := s.Stats()
	t.Logf("%d/%d packets, %d of %d media objects missing; lost net %d, requests %d, recovered %d, lost %d",
		len(got), len(want), missing, len(wantObj), st.PacketsLostNet, st.ResendRequests, st.Recovered, st.Lost)
	if float64(len(wantObj)-missing) < 0.999*float64(len(wantObj)) {
		t.Errorf("only %d of %d media objects arrived", len(wantObj)-missing, len(wantObj))
	}
	if st.PacketsLostNet == 0 || st.Recovered == 0 {
		t.Errorf("the kernel dropped nothing? %+v", st)
	}
}

func TestUDPBlockedFallsBack(t *testing.T) {
	inNetns(t, "TestChildUDPBlocked", "-p", "udp", "-j", "DROP")
}

func TestChildUDPBlocked(t *testing.T) {
	childOnly(t)
	src := clip(t, fixture.AudioOnly())
	_, base := serveDir(t, dirWith(t, map[string]string{"a.wma": src}), func(s *mmsserver.Server) { s.Rate = 20 })
	var evs eventLog
	start := time.Now()
	s := playAndCompare(t, base+"a.wma", src, Options{Transport: "auto", UDPTimeout: 2 * time.Second, OnEvent: evs.add})
	st := s.Stats()
	if s.Transport() != "tcp" || len(st.Attempts) != 2 || st.Attempts[0].Transport != "udp" ||
		st.Attempts[0].Outcome != "failed" || st.Attempts[1].Outcome != "ok" {
		t.Fatalf("attempts %+v", st.Attempts)
	}
	if d := st.Attempts[0].Duration; d < 2*time.Second || d > 20*time.Second {
		t.Errorf("UDP attempt took %v with a 2 s deadline", d)
	}
	if len(evs.kinds("attempt")) < 4 {
		t.Errorf("attempt events: %d", len(evs.kinds("attempt")))
	}
	t.Logf("played over TCP after %v", time.Since(start))
}
