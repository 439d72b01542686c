//go:build !linux

package remux

import "io"

// newPipeReader returns f: the raw read of pipe_linux.go is Linux only.
func newPipeReader(r io.Reader) io.Reader { return r }

// newPipeWriter returns f: the raw write of pipe_linux.go is Linux only.
func newPipeWriter(w io.Writer) io.Writer { return w }
