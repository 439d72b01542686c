package imagetest

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/store"
)

// node walks a parsed YAML value: maps by key, lists by index.
func node(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := node(v, path...).(string)
	return s
}

func list(v any, path ...any) []any {
	l, _ := node(v, path...).([]any)
	return l
}

// manifests reads every document of deploy/kubernetes by kind/name.
func manifests(t *testing.T) (map[string]any, string) {
	t.Helper()
	files, err := filepath.Glob("../kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	objs := map[string]any{}
	var text strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
		docs, err := ParseYAML(string(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, d := range docs {
			key := str(d, "kind") + "/" + str(d, "metadata", "name")
			if _, dup := objs[key]; dup {
				t.Fatalf("%s: %s twice", f, key)
			}
			objs[key] = d
		}
	}
	return objs, text.String()
}

// secretValue resolves a secretKeyRef from the Secrets in the manifests.
func secretValue(t *testing.T, objs map[string]any, ref any) string {
	t.Helper()
	name, key := str(ref, "name"), str(ref, "key")
	s := objs["Secret/"+name]
	if s == nil {
		t.Fatalf("secretKeyRef %s: no Secret %s in deploy/kubernetes", name, name)
	}
	v, ok := node(s, "stringData", key).(string)
	if !ok {
		t.Fatalf("secretKeyRef %s/%s: the Secret has no stringData key %s", name, key, key)
	}
	return v
}

// kubePod is the Deployment's pod as the tests read it.
type kubePod struct {
	pod, c    any
	args, env []string
	data      string            // the gateway's data directory
	mounts    map[string]string // mountPath -> volume name
	vols      map[string]any
	runAs     string
	fsGroup   int
	uid       int
	portOf    func(string) string // a named container port's number
	exposed   string
}

// readPod checks the Deployment against the image (port, probes' port,
// data path, user, flags and variables the gateway knows) and returns it.
func readPod(t *testing.T, objs map[string]any, text string, img *Image) *kubePod {
	t.Helper()
	flags, envs := helpFlags(t, img)
	dep := objs["Deployment/mmsgate"]
	if dep == nil {
		t.Fatal("no Deployment mmsgate")
	}
	p := &kubePod{pod: node(dep, "spec", "template", "spec"), mounts: map[string]string{}, vols: map[string]any{}}
	labels, _ := node(dep, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range node(dep, "spec", "selector", "matchLabels").(map[string]any) {
		if labels[k] != v {
			t.Errorf("selector %s=%v does not match the pod labels %v", k, v, labels)
		}
	}
	cs := list(p.pod, "containers")
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	p.c = cs[0]

	// The container port is the one the image exposes.
	ports := map[string]string{}
	for _, cp := range list(p.c, "ports") {
		ports[str(cp, "name")] = str(cp, "containerPort")
	}
	p.exposed = strings.TrimSuffix(img.Config.Exposed[0], "/tcp")
	if ports["http"] != p.exposed {
		t.Fatalf("containerPort http=%q, the image exposes %s", ports["http"], p.exposed)
	}
	p.portOf = func(name string) string {
		if n, ok := ports[name]; ok {
			return n
		}
		return name
	}
	svc := objs["Service/mmsgate"]
	for k, v := range node(svc, "spec", "selector").(map[string]any) {
		if labels[k] != v {
			t.Errorf("Service selector %s=%v does not match the pod labels", k, v)
		}
	}
	for _, sp := range list(svc, "spec", "ports") {
		if p.portOf(str(sp, "targetPort")) != p.exposed {
			t.Errorf("Service targetPort %q is not the container port %s", str(sp, "targetPort"), p.exposed)
		}
	}
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		if port := str(p.c, probe, "httpGet", "port"); p.portOf(port) != p.exposed {
			t.Errorf("%s port %q is not the container port", probe, port)
		}
	}

	// Flags and variables exist in the gateway.
	for _, a := range list(p.c, "args") {
		s, _ := a.(string)
		p.args = append(p.args, s)
		name, _, _ := strings.Cut(strings.TrimLeft(s, "-"), "=")
		if strings.HasPrefix(s, "-") && !flags[name] {
			t.Errorf("args: gateway has no flag %s", s)
		}
	}
	for _, m := range regexp.MustCompile(`MMSGATE_[A-Z0-9_]+`).FindAllString(text, -1) {
		if !envs[m] {
			t.Errorf("deploy/kubernetes names %s, which the gateway does not read", m)
		}
	}
	p.env = envOf(t, objs, list(p.c, "env"))

	// The data volume is where the image keeps its data.
	p.data, _ = lookup(img.Config.Env, "MMSGATE_DATA")
	if v, ok := lookup(p.env, "MMSGATE_DATA"); ok {
		p.data = v
	}
	for _, m := range list(p.c, "volumeMounts") {
		p.mounts[str(m, "mountPath")] = str(m, "name")
	}
	for _, v := range list(p.pod, "volumes") {
		p.vols[str(v, "name")] = v
	}
	if p.vols[p.mounts[p.data]] == nil {
		t.Fatalf("no volume mounted at the data directory %s (mounts %v)", p.data, p.mounts)
	}
	if !contains(img.Config.Volumes, p.data) {
		t.Errorf("the data directory %s is not a VOLUME of the image %v", p.data, img.Config.Volumes)
	}

	// The pod's user is the image's.
	u, err := lookupUser(img.Root, img.Config.User)
	if err != nil {
		t.Fatal(err)
	}
	p.uid = u.uid
	p.runAs = str(p.pod, "securityContext", "runAsUser")
	if p.runAs != "" && p.runAs != strconv.Itoa(u.uid) {
		t.Fatalf("runAsUser %q, the image's user %s is %d", p.runAs, img.Config.User, u.uid)
	}
	if p.fsGroup, err = strconv.Atoi(str(p.pod, "securityContext", "fsGroup")); err != nil {
		t.Fatalf("fsGroup: %v", err)
	}
	if p.fsGroup != u.gid {
		t.Errorf("fsGroup %d is not the image user's group %d", p.fsGroup, u.gid)
	}
	if str(p.pod, "securityContext", "runAsNonRoot") == "true" && p.runAs == "" {
		// The kubelet checks the image's USER, which must be numeric.
		if n, err := strconv.Atoi(strings.Split(img.Config.User, ":")[0]); err != nil || n == 0 {
			t.Errorf("runAsNonRoot without runAsUser: the image's USER %q cannot pass", img.Config.User)
		}
	}
	return p
}

// envOf resolves a container's env list, secretKeyRefs from the Secrets in
// the manifests.
func envOf(t *testing.T, objs map[string]any, entries []any) []string {
	t.Helper()
	var env []string
	for _, e := range entries {
		v := str(e, "value")
		if ref := node(e, "valueFrom", "secretKeyRef"); ref != nil {
			v = secretValue(t, objs, ref)
		}
		env = append(env, str(e, "name")+"="+v)
	}
	return env
}

// start runs the image as the kubelet would run the pod: args, env, user,
// fsGroup, read-only root, no privilege escalation, each volume mount
// (pvc is bound at the data directory when the data volume is a PVC;
// emptyDirs are tmpfs), probes on the container port until both pass.
func (p *kubePod) start(t *testing.T, img *Image, pvc string, forwardIn [][2]string) *Container {
	t.Helper()
	opts := RunOptions{Args: p.args, Env: p.env, User: p.runAs, Groups: []int{p.fsGroup}, Publish: 8080,
		Output: &logFile{}, VolumeDir: t.TempDir(), ForwardIn: forwardIn,
		ReadOnlyRoot: str(p.c, "securityContext", "readOnlyRootFilesystem") == "true",
		NoNewPrivs:   str(p.c, "securityContext", "allowPrivilegeEscalation") == "false"}
	for path, name := range p.mounts {
		v := p.vols[name]
		switch {
		case node(v, "persistentVolumeClaim") != nil && path == p.data && pvc != "":
			opts.Binds = append(opts.Binds, Bind{Src: pvc, Dst: path})
		case node(v, "emptyDir") != nil:
			opts.Tmpfs = append(opts.Tmpfs, path)
		default:
			t.Fatalf("volume %s at %s: neither the data PVC nor an emptyDir", name, path)
		}
	}
	out := opts.Output.(*logFile)
	ct, err := img.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-ct.Exited():
		default:
			ct.Kill()
		}
		if t.Failed() {
			t.Logf("--- container output (end) ---\n%s", out.tail(40))
		}
	})
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		path := str(p.c, probe, "httpGet", "path")
		url := "http://" + ct.Addr() + path
		eventually(t, probe+" "+path, 2*time.Minute, ct, func() string {
			if code, body := get(t, url); code != http.StatusOK {
				return fmt.Sprintf("%d %s", code, body)
			}
			return ""
		})
	}
	// The emulated kubelet did what the manifest says.
	st := procStatus(t, ct.Pid())
	if uid := strings.Fields(st["Uid"]); len(uid) == 0 || uid[0] != strconv.Itoa(p.uid) {
		t.Errorf("the process runs as uid %q", st["Uid"])
	}
	if !contains(strings.Fields(st["Groups"]), strconv.Itoa(p.fsGroup)) {
		t.Errorf("fsGroup %d is not among the process's groups %q", p.fsGroup, st["Groups"])
	}
	if opts.NoNewPrivs && st["NoNewPrivs"] != "1" {
		t.Errorf("allowPrivilegeEscalation false, NoNewPrivs %q", st["NoNewPrivs"])
	}
	if opts.ReadOnlyRoot && !rootReadOnly(t, ct.Pid()) {
		t.Error("readOnlyRootFilesystem, but / is writable")
	}
	return ct
}

// stop is the pod's termination: STOPSIGNAL, then exit 0 within
// terminationGracePeriodSeconds.
func (p *kubePod) stop(t *testing.T, img *Image, ct *Container) {
	t.Helper()
	grace, err := strconv.Atoi(str(p.pod, "terminationGracePeriodSeconds"))
	if err != nil {
		grace = 30
	}
	sig, _ := ParseSignal(img.Config.StopSignal)
	if err := ct.Signal(sig); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(grace)*time.Second)
	defer cancel()
	if code, err := ct.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("termination: exit %d, %v (grace %ds)", code, err, grace)
	}
}

// TestKubernetes checks deploy/kubernetes against the image, then runs
// the image as the Deployment's pod: SQLite on a new (empty) PVC.
func TestKubernetes(t *testing.T) {
	objs, text := manifests(t)
	img := buildImage(t)
	p := readPod(t, objs, text, img)
	claim := str(p.vols[p.mounts[p.data]], "persistentVolumeClaim", "claimName")
	if objs["PersistentVolumeClaim/"+claim] == nil {
		t.Fatalf("data volume: no PersistentVolumeClaim %q in deploy/kubernetes", claim)
	}
	// A new PVC is empty; fsGroup makes it group-owned and setgid.
	pvc := filepath.Join(t.TempDir(), "pvc")
	if err := os.Mkdir(pvc, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(pvc, 0, p.fsGroup); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pvc, 0o2775|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	ct := p.start(t, img, pvc, nil)
	if _, err := os.Stat(filepath.Join(pvc, "mmsgate.db")); err != nil {
		t.Fatalf("the SQLite database is not on the PVC: %v", err)
	}
	if tok, _ := lookup(p.env, "MMSGATE_API_TOKEN"); tok != "" {
		req, _ := http.NewRequest(http.MethodDelete, "http://"+ct.Addr()+"/api/v1/channels/none", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			t.Fatalf("the token from the Secret is refused: %s", resp.Status)
		}
	}
	p.stop(t, img, ct)
}

// TestKubernetesPostgres follows the instructions in postgres-secret.yaml:
// its commented env entry (read as YAML) added to the container, the data
// volume an emptyDir, the Secret's URL pointed at the test PostgreSQL
// (reached from inside the pod's network at the same address).
func TestKubernetesPostgres(t *testing.T) {
	objs, text := manifests(t)
	b, err := os.ReadFile("../kubernetes/postgres-secret.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var snippet strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "#   "); ok {
			snippet.WriteString(rest + "\n")
		}
	}
	docs, err := ParseYAML(snippet.String())
	if err != nil || len(docs) != 1 || len(list(docs[0])) != 1 {
		t.Fatalf("postgres-secret.yaml: the env entry in its comment: %v\n%s", err, snippet.String())
	}
	entry := list(docs[0])[0]
	if str(entry, "name") != "MMSGATE_DATABASE_URL" {
		t.Fatalf("postgres-secret.yaml tells to set %q", str(entry, "name"))
	}
	secretValue(t, objs, node(entry, "valueFrom", "secretKeyRef")) // the Secret and key exist

	base := os.Getenv("MMSGATE_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("MMSGATE_TEST_POSTGRES_URL is not set (.ci/run sets it after starting PostgreSQL)")
	}
	img := buildImage(t)
	dbURL := store.PostgresTestURL(t) // a schema of its own
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil {
		t.Fatalf("MMSGATE_TEST_POSTGRES_URL: host %q: want an IP address to forward", u.Hostname())
	}
	p := readPod(t, objs, text, img)
	p.env = append(p.env, "MMSGATE_DATABASE_URL="+dbURL)
	p.vols[p.mounts[p.data]] = map[string]any{"emptyDir": map[string]any{}}
	ct := p.start(t, img, "", [][2]string{{u.Host, u.Host}})

	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables == 0 {
		t.Fatal("the gateway made no tables in PostgreSQL")
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/root%s/mmsgate.db", ct.Pid(), p.data)); err == nil {
		t.Fatal("with MMSGATE_DATABASE_URL the gateway still made a SQLite file")
	}
	p.stop(t, img, ct)
}

// TestSystemdUnit checks deploy/systemd/mmsgate.service against the
// gateway: the flags of ExecStart, the variables it sets or names, the
// stop signal.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("../systemd/mmsgate.service")
	if err != nil {
		t.Fatal(err)
	}
	img := buildImage(t)
	flags, envs := helpFlags(t, img)
	service := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("[Service] line %q", line)
			}
			service[k] = append(service[k], v)
		}
	}
	if len(service["ExecStart"]) != 1 {
		t.Fatalf("ExecStart %q", service["ExecStart"])
	}
	words := strings.Fields(service["ExecStart"][0])
	if !strings.HasPrefix(words[0], "/") {
		t.Fatalf("ExecStart %q: want an absolute path", words[0])
	}
	for _, w := range words[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
		if strings.HasPrefix(w, "-") && !flags[name] {
			t.Errorf("ExecStart: gateway has no flag %s", w)
		}
	}
	for _, e := range service["Environment"] {
		k, _, _ := strings.Cut(strings.Trim(e, `"`), "=")
		if !envs[k] {
			t.Errorf("Environment=%s: the gateway does not read %s", e, k)
		}
	}
	for _, m := range regexp.MustCompile(`MMSGATE_[A-Z0-9_]+`).FindAllString(string(b), -1) {
		if !envs[m] {
			t.Errorf("the unit names %s, which the gateway does not read", m)
		}
	}
	// systemd's own reading of the unit, with the image's gateway as the
	// binary (verify checks that ExecStart is executable).
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze is not installed: the unit's directives are not verified by systemd")
	} else {
		bin, err := resolveIn(img.Root, img.Config.Entrypoint[0])
		if err != nil {
			t.Fatal(err)
		}
		unit := strings.Replace(string(b), "ExecStart="+words[0], "ExecStart="+bin, 1)
		p := filepath.Join(t.TempDir(), "mmsgate.service")
		if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("systemd-analyze", "verify", p).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}
	want, _ := ParseSignal(img.Config.StopSignal)
	if ks := service["KillSignal"]; len(ks) == 1 {
		if sig, err := ParseSignal(ks[0]); err != nil || sig != want {
			t.Errorf("KillSignal=%s, the image stops with %s", ks[0], img.Config.StopSignal)
		}
	}
	if dir := service["StateDirectory"]; len(dir) == 1 {
		if data := service["Environment"]; !contains(data, "MMSGATE_DATA=/var/lib/"+dir[0]) {
			t.Errorf("StateDirectory=%s but MMSGATE_DATA is not /var/lib/%s: %q", dir[0], dir[0], data)
		}
	}
}

// procStatus reads /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// rootReadOnly reports whether the process's / is mounted read-only.
func rootReadOnly(t *testing.T, pid int) bool {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		// id parent major:minor root mountpoint options ...
		if f := strings.Fields(line); len(f) > 5 && f[4] == "/" {
			return contains(strings.Split(f[5], ","), "ro")
		}
	}
	return false
}
