package imagetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Bases emulates the base images that deploy/Dockerfile names, since no
// registry is reachable: both are a debootstrapped Debian bookworm.
//
//   - debian:bookworm-slim: debootstrap --variant=minbase, then what the
//     official image's build (debuerreotype) adds: its apt sources
//     (bookworm, -updates, -security), its apt and dpkg settings (no
//     recommends kept after autoremove, no translations, no docs, man pages
//     or locales installed), the updates applied, the apt lists emptied.
//   - golang:X.Y-bookworm: the same root plus the Debian packages of the
//     official image that a Go build uses (git, gcc, g++, libc6-dev, make,
//     pkg-config, ca-certificates, curl, netbase), with this machine's Go
//     mounted at /usr/local/go (its version must be X.Y) and the official
//     image's environment (GOPATH=/go, GOTOOLCHAIN=local, PATH, WORKDIR /go);
//     the module cache is the host's, the build cache (root's) one kept in
//     CacheDir.
//
// The roots are kept as tarballs in CacheDir, rebuilt after MaxAge.
type Bases struct {
	CacheDir   string
	Mirror     string        // Debian mirror, e.g. http://deb.debian.org/debian
	Security   string        // security mirror, e.g. http://deb.debian.org/debian-security
	GoRoot     string        // this machine's Go
	GoModCache string        // bound at /go/pkg/mod so that go mod download finds the modules; "" for none
	MaxAge     time.Duration // cached roots older than this are rebuilt
	Log        *slog.Logger
	Output     io.Writer
}

// cacheVersion names the recipe: change it when the recipe changes.
const cacheVersion = "v2"

// golangPackages are what the golang image has (from buildpack-deps:scm
// and its own install) that a Go build may use; left out: mercurial,
// subversion, openssh-client, gnupg, wget, procps.
var golangPackages = []string{"ca-certificates", "curl", "netbase", "git", "g++", "gcc", "libc6-dev", "make", "pkg-config"}

const debianPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var golangRef = regexp.MustCompile(`^golang:(\d+\.\d+)(\.\d+)?-bookworm$`)

// Root unpacks the base image ref into dir and returns it with the
// image's config.
func (b *Bases) Root(ctx context.Context, ref, dir string) (*Image, error) {
	switch m := golangRef.FindStringSubmatch(ref); {
	case ref == "debian:bookworm-slim":
		tar, err := b.cached(ctx, "debian-bookworm-slim", b.buildSlim)
		if err != nil {
			return nil, err
		}
		if err := untar(ctx, tar, dir); err != nil {
			return nil, err
		}
		b.Log.Info("base unpacked", "ref", ref, "from", tar)
		return &Image{Root: dir, Config: Config{Env: []string{"PATH=" + debianPath}, Cmd: []string{"bash"}}}, nil
	case m != nil:
		ver, err := b.goVersion(ctx)
		if err != nil {
			return nil, err
		}
		if want := m[1] + m[2]; ver != want && !strings.HasPrefix(ver, want+".") {
			return nil, fmt.Errorf("%s: this machine's Go is %s; the emulated image mounts it, so it must be %s", ref, ver, want)
		}
		tar, err := b.cached(ctx, "golang-bookworm", b.buildGolang)
		if err != nil {
			return nil, err
		}
		if err := untar(ctx, tar, dir); err != nil {
			return nil, err
		}
		img := &Image{Root: dir, Config: Config{
			Env: []string{"PATH=/go/bin:/usr/local/go/bin:" + debianPath, "GOLANG_VERSION=" + ver,
				"GOTOOLCHAIN=local", "GOPATH=/go"},
			WorkingDir: "/go", Cmd: []string{"bash"}}}
		img.binds = []Bind{{Src: b.GoRoot, Dst: "/usr/local/go", ReadOnly: true}}
		// Networks whose egress proxy re-signs TLS with a CA of their own
		// (ours do) need that CA for go mod download: the host's bundle is
		// mounted for the build stage's RUN steps and named by
		// SSL_CERT_FILE, outside the image's own files, as a BuildKit secret
		// mount would bring it. The final image is not built from this base.
		if ca := hostCABundle(); ca != "" {
			img.binds = append(img.binds, Bind{Src: ca, Dst: hostCAPath, ReadOnly: true})
			img.Config.Env = append(img.Config.Env, "SSL_CERT_FILE="+hostCAPath)
		}
		if b.GoModCache != "" {
			img.binds = append(img.binds, Bind{Src: b.GoModCache, Dst: "/go/pkg/mod"})
		}
		// Go's build cache, kept between runs as BuildKit's cache mounts
		// keep it: it is keyed by content, so the binary is the same.
		gocache := filepath.Join(b.CacheDir, "go-build")
		if err := os.MkdirAll(gocache, 0o755); err != nil {
			return nil, err
		}
		img.binds = append(img.binds, Bind{Src: gocache, Dst: "/root/.cache/go-build"})
		for _, d := range []string{"go/src", "go/bin"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o1777); err != nil {
				return nil, err
			}
		}
		return img, os.Chmod(filepath.Join(dir, "go"), 0o1777)
	}
	return nil, fmt.Errorf("base image %q is not emulated (known: debian:bookworm-slim, golang:X.Y-bookworm)", ref)
}

// hostCAPath is where the build stage sees the host's CA bundle.
const hostCAPath = "/run/imagetest-host-ca.crt"

// hostCABundle returns this machine's CA bundle, "" when it has none.
func hostCABundle() string {
	for _, p := range []string{os.Getenv("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

func (b *Bases) goVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(b.GoRoot, "bin", "go"), "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go version: %w", err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "go"), nil
}

// cached returns the tarball name, building it with build when missing or
// older than MaxAge. build fills a root directory.
func (b *Bases) cached(ctx context.Context, name string, build func(ctx context.Context, root string) error) (string, error) {
	tar := filepath.Join(b.CacheDir, name+"-"+cacheVersion+".tar")
	if st, err := os.Stat(tar); err == nil && (b.MaxAge == 0 || time.Since(st.ModTime()) < b.MaxAge) {
		return tar, nil
	}
	if err := os.MkdirAll(b.CacheDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(b.CacheDir, name+".build-")
	if err != nil {
		return "", err
	}
	defer func() {
		if err := removeRoot(tmp); err != nil {
			b.Log.Warn("base build directory kept", "error", err)
		}
	}()
	root := filepath.Join(tmp, "root")
	start := time.Now()
	b.Log.Info("building base root", "name", name, "dir", root)
	// A second try on failure: a mirror that drops a download now and then
	// must not fail the test.
	for try := 1; ; try++ {
		err := build(ctx, root)
		if err == nil {
			break
		}
		if try == 2 || ctx.Err() != nil {
			return "", fmt.Errorf("base %s: %w", name, err)
		}
		b.Log.Warn("base root build failed, trying again", "name", name, "error", err)
		if err := removeRoot(root); err != nil {
			return "", err
		}
	}
	part := filepath.Join(tmp, "root.tar")
	if err := runQuiet(ctx, "tar", "--numeric-owner", "--xattrs", "-C", root, "-cpf", part, "."); err != nil {
		return "", err
	}
	if err := os.Rename(part, tar); err != nil {
		return "", err
	}
	b.Log.Info("base root cached", "name", name, "tar", tar, "took", time.Since(start).Round(time.Second))
	return tar, nil
}

func untar(ctx context.Context, tar, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return runQuiet(ctx, "tar", "--numeric-owner", "--xattrs", "-C", dir, "-xpf", tar)
}

// slimConfig are the files that the official image's build adds to a
// minbase root (debuerreotype's minimizing config and slimify).
var slimConfig = map[string]string{
	"etc/apt/sources.list.d/debian.sources": `Types: deb
URIs: {{mirror}}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {{security}}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`,
	"etc/apt/apt.conf.d/docker-autoremove-suggests": "Apt::AutoRemove::SuggestsImportant \"false\";\n",
	"etc/apt/apt.conf.d/docker-clean": `DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
`,
	"etc/apt/apt.conf.d/docker-no-languages": "Acquire::Languages \"none\";\n",
	"etc/apt/apt.conf.d/docker-gzip-indexes": "Acquire::GzipIndexes \"true\";\n",
	"etc/dpkg/dpkg.cfg.d/docker-apt-speedup": "force-unsafe-io\n",
	"etc/dpkg/dpkg.cfg.d/docker": `path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
`,
}

func (b *Bases) buildSlim(ctx context.Context, root string) error {
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "bookworm", root, b.Mirror)
	cmd.Stdout, cmd.Stderr = b.Output, b.Output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("debootstrap: %w", err)
	}
	os.Remove(filepath.Join(root, "etc/apt/sources.list"))
	for name, content := range slimConfig {
		content = strings.ReplaceAll(content, "{{mirror}}", b.Mirror)
		content = strings.ReplaceAll(content, "{{security}}", b.Security)
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	// What slimify removes from the packages already installed, then the
	// updates, then empty lists and caches as in the official image.
	script := `set -e
find /usr/share/doc -mindepth 2 -not -name copyright -not -type d -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/groff/* /usr/share/info/* /usr/share/lintian/* /usr/share/linda/* /usr/share/locale/*
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get -y -qq upgrade
apt-get clean
rm -rf /var/lib/apt/lists/*
`
	if err := b.rootRun(ctx, root, script); err != nil {
		return err
	}
	// debootstrap copied the host's; Docker mounts its own at run time.
	return os.Remove(filepath.Join(root, "etc/resolv.conf"))
}

func (b *Bases) buildGolang(ctx context.Context, root string) error {
	slim, err := b.cached(ctx, "debian-bookworm-slim", b.buildSlim)
	if err != nil {
		return err
	}
	if err := untar(ctx, slim, root); err != nil {
		return err
	}
	// The golang image is not slim: its packages come with their docs.
	os.Remove(filepath.Join(root, "etc/dpkg/dpkg.cfg.d/docker"))
	script := `set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends ` + strings.Join(golangPackages, " ") + `
rm -rf /var/lib/apt/lists/*
`
	return b.rootRun(ctx, root, script)
}

// rootRun runs a shell script as root in root, with the host's network.
func (b *Bases) rootRun(ctx context.Context, root, script string) error {
	img := &Image{Root: root, Config: Config{Env: []string{"PATH=" + debianPath}}}
	bl := &Builder{Output: b.Output, Log: b.Log}
	return bl.run(ctx, img, []string{"/bin/sh", "-c", script})
}
