// Command cputime runs a command and prints the CPU time (user + system,
// from the kernel's rusage, microsecond resolution) that it and its
// children used, in seconds. bench/ingest uses it instead of /usr/bin/time,
// whose output has 10 ms resolution.
//
//	cputime CMD [ARGS...]
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cputime CMD [ARGS...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "cputime:", err)
		os.Exit(1)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "cputime: no rusage on this system")
		os.Exit(1)
	}
	secs := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	fmt.Fprintf(os.Stderr, "cputime: %.6f\n", secs(ru.Utime)+secs(ru.Stime))
	if err != nil {
		os.Exit(1)
	}
}
