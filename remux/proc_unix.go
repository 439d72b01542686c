//go:build unix

package remux

import (
	"os/exec"
	"syscall"
)

// setProcGroup puts ffmpeg in a process group of its own, so that a signal
// meant for the gateway's terminal does not reach it and a kill reaches
// anything it might have started.
func setProcGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProc kills ffmpeg's whole process group.
func killProc(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}
