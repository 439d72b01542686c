package remux

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// newPipeReader returns a reader of a non-blocking pipe (os/exec's
// StdoutPipe) that reads with a raw read(2) and waits for data on Go's
// netpoller.
//
// ffmpeg writes every PES at once (-flush_packets 1), about 75 small writes
// per second of media, and each wakes the reader. os.File.Read enters the
// scheduler's syscall state for every read(2), and in an otherwise idle
// process that wakes the runtime's sysmon thread each time; that cost about
// a third of the transcoder's own CPU. A read of a non-blocking pipe never
// blocks, so it needs no syscall state.
//
// Anything but an *os.File in non-blocking mode is returned as it is.
func newPipeReader(r io.Reader) io.Reader {
	rc, ok := rawPipe(r)
	if !ok {
		return r
	}
	return &pipeReader{rc: rc}
}

// rawPipe returns the RawConn of x if it is an *os.File in non-blocking mode
// (os/exec's pipes are): a raw read or write of it never blocks the thread.
func rawPipe(x any) (syscall.RawConn, bool) {
	f, ok := x.(*os.File)
	if !ok {
		return nil, false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, false
	}
	nonblock := false
	if err := rc.Control(func(fd uintptr) {
		flags, _, errno := syscall.RawSyscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		nonblock = errno == 0 && flags&syscall.O_NONBLOCK != 0
	}); err != nil || !nonblock {
		return nil, false
	}
	return rc, true
}

type pipeReader struct {
	rc syscall.RawConn
}

func (r *pipeReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n uintptr
	var errno syscall.Errno
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			n, _, errno = syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			if errno != syscall.EINTR {
				return errno != syscall.EAGAIN // false: wait on the netpoller, then call again
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &os.PathError{Op: "read", Path: "pipe", Err: errno}
	case n == 0:
		return 0, io.EOF
	}
	return int(n), nil
}

// newPipeWriter is newPipeReader's counterpart for ffmpeg's stdin: a raw
// write(2) into a non-blocking pipe, waiting on the netpoller while the pipe
// is full.
func newPipeWriter(w io.Writer) io.Writer {
	rc, ok := rawPipe(w)
	if !ok {
		return w
	}
	return &pipeWriter{rc: rc}
}

type pipeWriter struct {
	rc syscall.RawConn
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		var n uintptr
		var errno syscall.Errno
		err := w.rc.Write(func(fd uintptr) bool {
			for {
				n, _, errno = syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[done])), uintptr(len(p)-done))
				if errno != syscall.EINTR {
					return errno != syscall.EAGAIN
				}
			}
		})
		switch {
		case err != nil:
			return done, err
		case errno != 0:
			return done, &os.PathError{Op: "write", Path: "pipe", Err: errno}
		}
		done += int(n)
	}
	return done, nil
}
