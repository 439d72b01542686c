package imagetest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"unsafe"
)

// helperEnv carries a process spec to the re-executed test binary, which
// sets up the container's mounts inside its new namespaces, enters the
// root and execs the command (see MaybeHelper).
const helperEnv = "MMSGATE_IMAGETEST_HELPER"

// prSetNoNewPrivs is PR_SET_NO_NEW_PRIVS, missing from package syscall.
const prSetNoNewPrivs = 38

// hostname is every container's (Docker uses the container ID).
const hostname = "imagetest"

// Bind is a bind mount from the host into the root.
type Bind struct {
	Src, Dst string
	ReadOnly bool
}

// procSpec is one process in a container: a RUN or the entrypoint.
type procSpec struct {
	Root         string
	Binds        []Bind
	Tmpfs        []string // mounted empty (a Kubernetes emptyDir)
	ReadOnlyRoot bool
	Net          bool // own network namespace: bring lo up
	NoNewPrivs   bool // Kubernetes allowPrivilegeEscalation: false
	Gate         bool // wait for a byte on fd 3 before exec
	UID, GID     int
	Groups       []int
	Dir          string
	Env          []string
	Argv         []string
}

// command returns the re-executed test binary that runs spec in new mount
// and PID namespaces (and a network namespace when spec.Net), as Docker
// runs a RUN or a container. The mounts vanish with the namespace when its
// last process ends, whatever happens to the test.
func command(spec procSpec) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperEnv+"="+string(b))
	flags := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC)
	if spec.Net {
		flags |= syscall.CLONE_NEWNET
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
	return cmd, nil
}

// start starts cmd from a goroutine locked to its thread until cmd ends:
// the parent-death signal follows the thread that forked, and the Go
// runtime ends threads whose goroutine exits locked (see Container.dial).
// The channel yields Wait's result.
func start(cmd *exec.Cmd) (<-chan error, error) {
	started, done := make(chan error, 1), make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return done, nil
}

// MaybeHelper turns the process into a container process when it was
// started by command; call it first in TestMain. It returns only when the
// process is not a helper.
func MaybeHelper() {
	s := os.Getenv(helperEnv)
	if s == "" {
		return
	}
	var spec procSpec
	if err := json.Unmarshal([]byte(s), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "imagetest helper:", err)
		os.Exit(125)
	}
	err := enter(spec)
	// enter returns only on failure; 125-127 as docker run uses them.
	fmt.Fprintln(os.Stderr, "imagetest helper:", err)
	os.Exit(125)
}

func enter(s procSpec) error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := syscall.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if s.Net {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	r := s.Root
	// The root as a mount of its own, so that it can be made read-only.
	if err := syscall.Mount(r, r, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind root: %w", err)
	}
	if err := mountAt(r, "/proc", "proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return err
	}
	if err := mountAt(r, "/sys", "sysfs", "sysfs", syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return err
	}
	if err := mountDev(r); err != nil {
		return err
	}
	for _, t := range s.Tmpfs {
		if err := mountAt(r, t, "tmpfs", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777"); err != nil {
			return err
		}
	}
	for _, b := range s.Binds {
		if err := bindAt(r, b); err != nil {
			return err
		}
	}
	if s.ReadOnlyRoot {
		if err := syscall.Mount("", r, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only root: %w", err)
		}
	}
	if err := syscall.Chroot(r); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := syscall.Chdir("/"); err != nil {
		return err
	}
	if err := syscall.Setgroups(s.Groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(s.GID); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(s.UID); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	// A change of uid clears the parent-death signal; set it again so that
	// a killed test leaves no container behind.
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); e != 0 {
		return fmt.Errorf("pdeathsig: %w", e)
	}
	if s.NoNewPrivs {
		if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
			return fmt.Errorf("no_new_privs: %w", e)
		}
	}
	if err := syscall.Chdir(s.Dir); err != nil {
		return fmt.Errorf("workdir %s: %w", s.Dir, err)
	}
	bin, err := lookPath(s.Argv[0], s.Env)
	if err != nil {
		return err
	}
	if s.Gate {
		gate := os.NewFile(3, "gate")
		if n, err := gate.Read(make([]byte, 1)); n != 1 {
			return fmt.Errorf("gate: %v", err)
		}
		gate.Close()
	}
	return fmt.Errorf("exec %s: %w", bin, syscall.Exec(bin, s.Argv, s.Env))
}

// lookPath finds name in the container's PATH, as Docker does for
// ENTRYPOINT and exec-form RUN.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	p, _ := lookup(env, "PATH")
	for _, d := range filepath.SplitList(p) {
		f := path.Join(d, name)
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return f, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH %q", name, p)
}

func mountAt(root, dst, src, fstype string, flags uintptr, data string) error {
	p, err := resolveIn(root, dst)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return err
	}
	if err := syscall.Mount(src, p, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, dst, err)
	}
	return nil
}

func bindAt(root string, b Bind) error {
	st, err := os.Stat(b.Src)
	if err != nil {
		return err
	}
	p, err := resolveIn(root, b.Dst)
	if err != nil {
		return err
	}
	if st.IsDir() {
		err = os.MkdirAll(p, 0o755)
	} else if _, err = os.Lstat(p); os.IsNotExist(err) {
		err = os.WriteFile(p, nil, 0o644)
	}
	if err != nil {
		return fmt.Errorf("bind target %s: %w", b.Dst, err)
	}
	if err := syscall.Mount(b.Src, p, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", b.Src, b.Dst, err)
	}
	if b.ReadOnly {
		if err := syscall.Mount("", p, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", b.Dst, err)
		}
	}
	return nil
}

// mountDev builds /dev as Docker does: a tmpfs with the standard nodes,
// a private devpts, /dev/shm and the fd links.
func mountDev(root string) error {
	if err := mountAt(root, "/dev", "tmpfs", "tmpfs", syscall.MS_NOSUID, "mode=755,size=65536k"); err != nil {
		return err
	}
	dev := filepath.Join(root, "dev")
	nodes := []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}
	for _, n := range nodes {
		p := filepath.Join(dev, n.name)
		d := int(n.major<<8 | n.minor)
		if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, d); err != nil {
			// Without CAP_MKNOD: the host's node, bound.
			if err := bindAt(root, Bind{Src: "/dev/" + n.name, Dst: "/dev/" + n.name}); err != nil {
				return err
			}
			continue
		}
		if err := os.Chmod(p, 0o666); err != nil {
			return err
		}
	}
	if err := mountAt(root, "/dev/pts", "devpts", "devpts", syscall.MS_NOSUID|syscall.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	if err := mountAt(root, "/dev/shm", "shm", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	for name, target := range map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd",
		"stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	return nil
}

// loopbackUp sets IFF_UP on lo, which a new network namespace has down.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	defer syscall.Close(fd)
	var ifr struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(ifr.name[:], "lo")
	ifr.flags = syscall.IFF_UP | syscall.IFF_RUNNING
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr))); e != 0 {
		return fmt.Errorf("lo up: %w", e)
	}
	return nil
}
