package imagetest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRemoveRoot: a root with a file system mounted inside (as a failed
// debootstrap may leave /proc or bound devices) is detached first, so the
// removal never reaches into the mounted file system.
func TestRemoveRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	root := filepath.Join(t.TempDir(), "root")
	mp := filepath.Join(root, "dev")
	if err := os.MkdirAll(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	// A bind mount of a directory that must survive, as /dev would be.
	keep := t.TempDir()
	if err := os.WriteFile(filepath.Join(keep, "null"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(keep, mp, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("bind mount not permitted here: %v", err)
	}
	if err := removeRoot(root); err != nil {
		_ = syscall.Unmount(mp, syscall.MNT_DETACH)
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("root still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(keep, "null")); err != nil {
		t.Errorf("the bound directory lost its file: %v", err)
	}
}
