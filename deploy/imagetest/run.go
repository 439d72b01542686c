package imagetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RunOptions are the docker run options that the tests use.
type RunOptions struct {
	Args         []string    // replace CMD (arguments after the image name)
	Env          []string    // -e K=V
	ReadOnlyRoot bool        // --read-only (Kubernetes readOnlyRootFilesystem)
	NoNewPrivs   bool        // --security-opt no-new-privileges (allowPrivilegeEscalation: false)
	Tmpfs        []string    // --tmpfs (Kubernetes emptyDir)
	User         string      // --user; "" keeps the image's USER
	Binds        []Bind      // -v host:container; a VOLUME under one gets no anonymous volume
	Groups       []int       // --group-add (Kubernetes fsGroup)
	Publish      int         // container port published on a host loopback port (-p)
	ForwardIn    [][2]string // {container address, host address}: a host service reachable inside
	VolumeDir    string      // where the anonymous volumes of VOLUME live
	Output       io.Writer
}

// Container is a running image: its entrypoint as PID 1 of its own PID,
// mount and network namespaces.
type Container struct {
	cmd       *exec.Cmd
	done      chan struct{}
	err       error
	netns     *os.File
	ln        net.Listener      // the published port
	listeners []net.Listener    // every forwarder
	Volumes   map[string]string // VOLUME path -> host directory
	wg        sync.WaitGroup
}

// Start runs the image as docker run does: ENTRYPOINT + CMD (or
// opts.Args), the image's env plus opts.Env, its USER and WORKDIR, every
// VOLUME as a fresh volume initialised from the image's content there.
func (img *Image) Start(opts RunOptions) (*Container, error) {
	argv := append(append([]string(nil), img.Config.Entrypoint...), img.Config.Cmd...)
	if opts.Args != nil {
		argv = append(append([]string(nil), img.Config.Entrypoint...), opts.Args...)
	}
	if len(argv) == 0 {
		return nil, errors.New("no ENTRYPOINT or CMD")
	}
	cfgImg := *img
	if opts.User != "" {
		cfgImg.Config.User = opts.User
	}
	cfgImg.binds = nil // the base image emulation's mounts belong to the build only
	spec, err := cfgImg.procSpec(argv)
	if err != nil {
		return nil, err
	}
	for _, kv := range opts.Env {
		k, v, _ := strings.Cut(kv, "=")
		spec.Env = setEnv(spec.Env, k, v)
	}
	if _, ok := lookup(spec.Env, "HOSTNAME"); !ok {
		spec.Env = append(spec.Env, "HOSTNAME="+hostname) // as Docker sets it
	}
	spec.Net, spec.ReadOnlyRoot, spec.Tmpfs, spec.NoNewPrivs = true, opts.ReadOnlyRoot, opts.Tmpfs, opts.NoNewPrivs
	spec.Binds = append(spec.Binds, Bind{Src: "/etc/resolv.conf", Dst: "/etc/resolv.conf", ReadOnly: true})
	c := &Container{done: make(chan struct{}), Volumes: map[string]string{}}
	spec.Groups = append(spec.Groups, opts.Groups...)
	spec.Binds = append(spec.Binds, opts.Binds...)
	for i, v := range img.Config.Volumes {
		if boundAt(opts.Binds, v) {
			continue
		}
		dir := filepath.Join(opts.VolumeDir, "vol"+strconv.Itoa(i))
		src, err := resolveIn(img.Root, v)
		if err != nil {
			return nil, err
		}
		if _, serr := os.Stat(src); serr == nil {
			err = copyTree(src, dir, -1, -1, nil)
		} else {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v, err)
		}
		c.Volumes[v] = dir
		spec.Binds = append(spec.Binds, Bind{Src: dir, Dst: v})
	}
	spec.Gate = true
	cmd, err := command(spec)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = opts.Output, opts.Output
	// The entrypoint waits at the gate until the ports are forwarded.
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer gateW.Close()
	cmd.ExtraFiles = []*os.File{gateR}
	done, err := start(cmd)
	gateR.Close()
	if err != nil {
		return nil, err
	}
	c.cmd = cmd
	go func() {
		c.err = <-done
		close(c.done)
	}()
	if c.netns, err = os.Open(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)); err != nil {
		c.Kill()
		return nil, err
	}
	if opts.Publish != 0 {
		if err := c.publish(opts.Publish); err != nil {
			c.Kill()
			return nil, err
		}
	}
	for _, f := range opts.ForwardIn {
		if err := c.forwardIn(f[0], f[1]); err != nil {
			c.Kill()
			return nil, err
		}
	}
	if _, err := gateW.Write([]byte{1}); err != nil {
		c.Kill()
		return nil, fmt.Errorf("starting the entrypoint: %w", err)
	}
	return c, nil
}

// Addr is the host address of the published port.
func (c *Container) Addr() string { return c.ln.Addr().String() }

// publish forwards a host loopback port to port in the container, as
// docker-proxy does for -p.
func (c *Container) publish(port int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c.ln = ln
	c.listeners = append(c.listeners, ln)
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c.serve(ln, func() (net.Conn, error) { return c.dial(target) })
	return nil
}

// dial connects to addr in the container's network namespace.
func (c *Container) dial(addr string) (net.Conn, error) {
	var conn net.Conn
	err := c.inNetns(func() (err error) {
		conn, err = net.DialTimeout("tcp", addr, 10*time.Second)
		return err
	})
	return conn, err
}

// inNetns runs f on a thread that entered the container's network
// namespace: the sockets f makes belong to it.
func (c *Container) inNetns(f func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- err
			return
		}
		defer self.Close()
		if _, _, e := syscall.RawSyscall(sysSetns, c.netns.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
			ch <- fmt.Errorf("setns: %w", e)
			return
		}
		ch <- f()
		// Back to the host's namespace, and the thread to the runtime;
		// should that fail, the goroutine ends locked and the runtime ends
		// the thread.
		if _, _, e := syscall.RawSyscall(sysSetns, self.Fd(), syscall.CLONE_NEWNET, 0); e == 0 {
			runtime.UnlockOSThread()
		}
	}()
	return <-ch
}

// forwardIn makes addr in the container reach hostAddr: a service of the
// host (PostgreSQL, say) seen from inside at an address of its own.
func (c *Container) forwardIn(addr, hostAddr string) error {
	var ln net.Listener
	if err := c.inNetns(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		return fmt.Errorf("forward %s: %w", addr, err)
	}
	c.listeners = append(c.listeners, ln)
	c.serve(ln, func() (net.Conn, error) { return net.DialTimeout("tcp", hostAddr, 10*time.Second) })
	return nil
}

// serve accepts on ln and joins each connection to one from dial.
func (c *Container) serve(ln net.Listener, dial func() (net.Conn, error)) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				defer in.Close()
				out, err := dial()
				if err != nil {
					return
				}
				defer out.Close()
				go func() {
					io.Copy(out, in)
					out.(*net.TCPConn).CloseWrite()
				}()
				io.Copy(in, out)
			}()
		}
	}()
}

// Pid is the host PID of the container's PID 1.
func (c *Container) Pid() int { return c.cmd.Process.Pid }

// Signal sends sig to the container's PID 1.
func (c *Container) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// Wait waits until the container exits or ctx ends and returns its exit
// code (128+n when killed by signal n, as docker reports it).
func (c *Container) Wait(ctx context.Context) (int, error) {
	select {
	case <-c.done:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	c.close()
	if c.err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return -1, c.err
}

// Exited is closed when the container has exited.
func (c *Container) Exited() <-chan struct{} { return c.done }

// Kill ends the container at once (PID 1 killed: the kernel kills the rest
// of its PID namespace) and stops the port forwarding.
func (c *Container) Kill() {
	c.cmd.Process.Kill()
	<-c.done
	c.close()
}

func (c *Container) close() {
	for _, ln := range c.listeners {
		ln.Close()
	}
	c.wg.Wait()
	if c.netns != nil {
		c.netns.Close()
	}
}

func boundAt(binds []Bind, p string) bool {
	for _, b := range binds {
		if b.Dst == p {
			return true
		}
	}
	return false
}
