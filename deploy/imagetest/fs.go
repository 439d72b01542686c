package imagetest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// resolveIn returns the host path of p inside root, following symlinks as
// the kernel would after chroot(root): an absolute link target starts again
// at root, ".." stops at root. The last element is resolved too when it
// exists. Nothing that a file in the image says can lead outside root.
func resolveIn(root, p string) (string, error) {
	rest := strings.Split(path.Clean("/"+p), "/")
	cur := "/"
	links := 0
	for len(rest) > 0 {
		e := rest[0]
		rest = rest[1:]
		switch e {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, e)
		st, err := os.Lstat(filepath.Join(root, next))
		if err != nil || st.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("%s: too many symlinks", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return filepath.Join(root, cur), nil
}

// copyTree copies src (a file, symlink or directory) to dst on the host,
// keeping modes and symlinks, owned by uid:gid, skipping what skip says
// (rel is the path below src, "" for src itself). uid < 0 keeps the owners.
func copyTree(src, dst string, uid, gid int, skip func(rel string, dir bool) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			rel = ""
		}
		if rel != "" && skip != nil && skip(filepath.ToSlash(rel), d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(target, info.Mode().Perm()|info.Mode()&(fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return err
			}
		case info.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			os.Remove(target)
			if err := os.Symlink(l, target); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if err := copyFile(p, target, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: cannot copy a %v", p, info.Mode().Type())
		}
		u, g := uid, gid
		if u < 0 {
			st, ok := info.Sys().(*syscall.Stat_t)
			if !ok {
				return fmt.Errorf("%s: no owner", p)
			}
			u, g = int(st.Uid), int(st.Gid)
		}
		return os.Lchown(target, u, g)
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if st, err := os.Lstat(dst); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a directory", dst)
	}
	os.Remove(dst)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// owner returns the uid and gid of a file.
func owner(p string) (uid, gid int, err error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, 0, err
	}
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fmt.Errorf("%s: no owner", p)
	}
	return int(s.Uid), int(s.Gid), nil
}

// removeRoot removes a root directory that a failed debootstrap may have
// left with file systems mounted inside (/proc, /sys, bound device nodes):
// those are detached first, deepest first, and if any stays mounted the
// directory is left alone, so that a removal never reaches into a mounted
// file system (a bound /dev would lose the host's device nodes).
func removeRoot(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	mounted := func() []string {
		b, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return nil
		}
		var in []string
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			// mountinfo escapes spaces as \040; our paths have none.
			if len(f) > 4 && (f[4] == abs || strings.HasPrefix(f[4], abs+"/")) {
				in = append(in, f[4])
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(in)))
		return in
	}
	for _, mp := range mounted() {
		_ = syscall.Unmount(mp, syscall.MNT_DETACH)
	}
	if left := mounted(); len(left) > 0 {
		return fmt.Errorf("%s: still mounted inside: %v; not removed", dir, left)
	}
	return os.RemoveAll(dir)
}
