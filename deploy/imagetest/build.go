package imagetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config is the part of an image's configuration that docker run uses.
type Config struct {
	Env        []string
	User       string // "" is root
	WorkingDir string
	Entrypoint []string
	Cmd        []string
	Exposed    []string // "8080/tcp"
	Volumes    []string
	StopSignal string
}

// Image is a built stage: its root filesystem on the host and its config.
type Image struct {
	Root   string
	Config Config
	binds  []Bind // mounted into every RUN of the stage (emulated base image content)
}

// Builder executes a Dockerfile. Base images are emulated by Bases.
type Builder struct {
	Context string // build context (the repository root)
	Dir     string // work directory: one root per stage
	Bases   *Bases
	Log     *slog.Logger
	Output  io.Writer // RUN output
}

// Build runs every stage and returns the last one.
func (b *Builder) Build(ctx context.Context, stages []Stage) (*Image, error) {
	ign, err := b.ignore()
	if err != nil {
		return nil, err
	}
	built := map[string]*Image{}
	var last *Image
	for i, st := range stages {
		root := filepath.Join(b.Dir, fmt.Sprintf("stage%d", i))
		if _, ok := built[strings.ToLower(st.Base)]; ok {
			return nil, fmt.Errorf("stage %d: FROM %s: an earlier stage as base is not supported", i, st.Base)
		}
		img, err := b.Bases.Root(ctx, st.Base, root)
		if err != nil {
			return nil, fmt.Errorf("stage %d (FROM %s): %w", i, st.Base, err)
		}
		b.Log.Info("stage", "index", i, "from", st.Base, "as", st.Name)
		for _, in := range st.Instructions {
			start := time.Now()
			if err := b.step(ctx, img, in, built, ign); err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", in.Line, in.Cmd, err)
			}
			b.Log.Info("step", "line", in.Line, "cmd", in.Cmd, "args", in.Args, "took", time.Since(start).Round(time.Millisecond))
		}
		built[strconv.Itoa(i)] = img
		if st.Name != "" {
			built[st.Name] = img
		}
		last = img
	}
	return last, nil
}

func (b *Builder) ignore() (Ignore, error) {
	f, err := os.Open(filepath.Join(b.Context, ".dockerignore"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseIgnore(f)
}

func (b *Builder) step(ctx context.Context, img *Image, in Instruction, built map[string]*Image, ign Ignore) error {
	c := &img.Config
	args := in.Args
	if in.Cmd != "RUN" && in.Cmd != "ENTRYPOINT" && in.Cmd != "CMD" && in.Cmd != "ENV" {
		var err error
		if args, err = expand(args, c.Env); err != nil {
			return err
		}
	}
	switch in.Cmd {
	case "WORKDIR":
		if path.IsAbs(args) {
			c.WorkingDir = path.Clean(args)
		} else {
			c.WorkingDir = path.Join("/", c.WorkingDir, args)
		}
		p, err := resolveIn(img.Root, c.WorkingDir)
		if err != nil {
			return err
		}
		return os.MkdirAll(p, 0o755)
	case "ENV":
		pairs, err := envPairs(args)
		if err != nil {
			return err
		}
		env := c.Env
		for _, kv := range pairs {
			v, err := expand(kv[1], c.Env) // values see the ENV before this line
			if err != nil {
				return err
			}
			env = setEnv(env, kv[0], v)
		}
		c.Env = env
	case "USER":
		c.User = args
	case "EXPOSE":
		for _, p := range strings.Fields(args) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			if _, err := strconv.ParseUint(strings.Split(p, "/")[0], 10, 16); err != nil {
				return fmt.Errorf("port %q: %w", p, err)
			}
			c.Exposed = append(c.Exposed, p)
		}
	case "VOLUME":
		vols, ok, err := execForm(args)
		if err != nil {
			return err
		}
		if !ok {
			vols = strings.Fields(args)
		}
		c.Volumes = append(c.Volumes, vols...)
	case "STOPSIGNAL":
		if _, err := ParseSignal(args); err != nil {
			return err
		}
		c.StopSignal = args
	case "ENTRYPOINT":
		argv, err := commandArgs(args)
		if err != nil {
			return err
		}
		c.Entrypoint = argv
		c.Cmd = nil // Docker: a new ENTRYPOINT drops the base image's CMD
	case "CMD":
		argv, err := commandArgs(args)
		if err != nil {
			return err
		}
		c.Cmd = argv
	case "RUN":
		argv, err := commandArgs(args)
		if err != nil {
			return err
		}
		return b.run(ctx, img, argv)
	case "COPY":
		return b.copy(img, in, args, built, ign)
	default:
		return fmt.Errorf("not supported")
	}
	return nil
}

// run executes one RUN in the stage's root: own mount and PID namespaces,
// the host's network (as docker build's default), the stage's user, env and
// workdir.
func (b *Builder) run(ctx context.Context, img *Image, argv []string) error {
	spec, err := img.procSpec(argv)
	if err != nil {
		return err
	}
	spec.Binds = append(spec.Binds, Bind{Src: "/etc/resolv.conf", Dst: "/etc/resolv.conf", ReadOnly: true})
	cmd, err := command(spec)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = b.Output, b.Output
	done, err := start(cmd)
	if err != nil {
		return err
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("%q: %w", argv, err)
	}
	return nil
}

// procSpec is a process of the image as the image's config says: user,
// groups, workdir, env (with HOME from the user's passwd entry when the
// image does not set it, as Docker does).
func (img *Image) procSpec(argv []string) (procSpec, error) {
	c := img.Config
	u, err := lookupUser(img.Root, c.User)
	if err != nil {
		return procSpec{}, err
	}
	env := append([]string(nil), c.Env...)
	if _, ok := lookup(env, "HOME"); !ok {
		env = append(env, "HOME="+u.home)
	}
	if _, ok := lookup(env, "PATH"); !ok {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	dir := c.WorkingDir
	if dir == "" {
		dir = "/"
	}
	return procSpec{Root: img.Root, Binds: append([]Bind(nil), img.binds...), UID: u.uid, GID: u.gid,
		Groups: u.groups, Dir: dir, Env: env, Argv: argv}, nil
}

// copy is COPY: from the build context (minus .dockerignore) or, with
// --from, from an earlier stage's root. Files get uid and gid 0 as Docker
// gives them without --chown; modes are kept.
func (b *Builder) copy(img *Image, in Instruction, args string, built map[string]*Image, ign Ignore) error {
	words, ok, err := execForm(args)
	if err != nil {
		return err
	}
	if !ok {
		words = strings.Fields(args)
	}
	if len(words) < 2 {
		return fmt.Errorf("want SRC... DEST")
	}
	srcs, dest := words[:len(words)-1], words[len(words)-1]
	if !path.IsAbs(dest) {
		wd := img.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		keepSlash := strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.")
		dest = path.Join(wd, dest)
		if keepSlash {
			dest += "/"
		}
	}
	srcRoot, from := b.Context, in.Flags["from"]
	var skip func(string, bool) bool
	if from != "" {
		s, ok := built[strings.ToLower(from)]
		if !ok {
			return fmt.Errorf("--from=%s: no such stage (images as --from are not supported)", from)
		}
		srcRoot = s.Root
	} else {
		hasExcept := false
		for _, r := range ign {
			hasExcept = hasExcept || r.except
		}
		skip = func(rel string, dir bool) bool {
			return ign.Excluded(rel) && !(dir && hasExcept)
		}
	}
	var files []string
	for _, s := range srcs {
		var matches []string
		if from != "" {
			p, err := resolveIn(srcRoot, s)
			if err != nil {
				return err
			}
			matches = []string{p}
		} else {
			if m, err := filepath.Glob(filepath.Join(srcRoot, filepath.Clean("/"+s))); err == nil {
				matches = m
			}
		}
		for _, m := range matches {
			if _, err := os.Lstat(m); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
			if from == "" {
				rel, err := filepath.Rel(srcRoot, m)
				if err != nil {
					return err
				}
				if rel != "." && ign.Excluded(filepath.ToSlash(rel)) {
					continue
				}
			}
			files = append(files, m)
		}
		if len(matches) == 0 {
			return fmt.Errorf("%s: no such file in the %s", s, map[bool]string{true: "stage", false: "build context"}[from != ""])
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("%v: every source is excluded by .dockerignore", srcs)
	}
	destDir := strings.HasSuffix(dest, "/") || len(files) > 1
	hostDest, err := resolveIn(img.Root, dest)
	if err != nil {
		return err
	}
	if st, err := os.Stat(hostDest); err == nil && st.IsDir() {
		destDir = true
	}
	for _, f := range files {
		st, err := os.Lstat(f)
		if err != nil {
			return err
		}
		target := hostDest
		if st.IsDir() {
			// A directory's contents are copied, not the directory.
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		} else {
			if destDir {
				target = filepath.Join(hostDest, filepath.Base(f))
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
		}
		var relSkip func(string, bool) bool
		if skip != nil {
			base, err := filepath.Rel(srcRoot, f)
			if err != nil {
				return err
			}
			relSkip = func(rel string, dir bool) bool { return skip(path.Join(filepath.ToSlash(base), rel), dir) }
		}
		if err := copyTree(f, target, 0, 0, relSkip); err != nil {
			return err
		}
	}
	return nil
}

// user is a passwd entry of the image.
type user struct {
	uid, gid int
	groups   []int
	home     string
}

// lookupUser resolves USER (name or uid, optional :group) in the image's
// /etc/passwd and /etc/group, as Docker does at RUN and at docker run.
func lookupUser(root, spec string) (user, error) {
	if spec == "" {
		spec = "root"
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	u := user{home: "/"}
	found := false
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	for _, line := range strings.Split(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 || (f[0] != name && f[2] != name) {
			continue
		}
		u.uid, _ = strconv.Atoi(f[2])
		u.gid, _ = strconv.Atoi(f[3])
		u.home, found = f[5], true
		name = f[0]
		break
	}
	if !found {
		n, err := strconv.Atoi(name)
		if err != nil {
			return u, fmt.Errorf("user %q: not in the image's /etc/passwd", name)
		}
		u.uid, u.gid = n, n
	}
	groups, _ := os.ReadFile(filepath.Join(root, "etc/group"))
	u.groups = []int{u.gid}
	for _, line := range strings.Split(string(groups), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 {
			continue
		}
		gid, _ := strconv.Atoi(f[2])
		if hasGroup && (f[0] == group || f[2] == group) {
			u.gid = gid
			u.groups = []int{gid}
		}
		if !hasGroup && found && gid != u.gid && contains(strings.Split(f[3], ","), name) {
			u.groups = append(u.groups, gid)
		}
	}
	if hasGroup && u.groups[0] != u.gid {
		n, err := strconv.Atoi(group)
		if err != nil {
			return u, fmt.Errorf("group %q: not in the image's /etc/group", group)
		}
		u.gid, u.groups = n, []int{n}
	}
	return u, nil
}

// ParseSignal reads STOPSIGNAL: a name (SIGTERM or TERM) or a number.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	names := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
		"KILL": syscall.SIGKILL, "HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2}
	if sig, ok := names[strings.TrimPrefix(strings.ToUpper(s), "SIG")]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("STOPSIGNAL %q: unknown signal", s)
}

// runQuiet runs a host command, returning its output in the error.
func runQuiet(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
