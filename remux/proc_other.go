//go:build !unix

package remux

import "os/exec"

func setProcGroup(*exec.Cmd) {}

func killProc(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
