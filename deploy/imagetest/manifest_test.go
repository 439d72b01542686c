package imagetest

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestKubernetes checks deploy/kubernetes against the image (port, probes,
// data path, user, flags and variables the gateway knows), then runs the
// image as the Deployment's pod would: its args and env, its user and
// fsGroup, a read-only root with /tmp and an empty /data volume, probes on
// the container port, a clean exit on termination.
func TestKubernetes(t *testing.T) {
	objs, text := manifests(t)
	img := buildImage(t)
	flags, envs := helpFlags(t, img)

	dep := objs["Deployment/mmsgate"]
	if dep == nil {
		t.Fatal("no Deployment mmsgate")
	}
	pod := node(dep, "spec", "template", "spec")
	labels, _ := node(dep, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range node(dep, "spec", "selector", "matchLabels").(map[string]any) {
		if labels[k] != v {
			t.Errorf("selector %s=%v does not match the pod labels %v", k, v, labels)
		}
	}
	cs := list(pod, "containers")
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	c := cs[0]

	// The container port is the one the image exposes.
	ports := map[string]string{}
	for _, p := range list(c, "ports") {
		ports[str(p, "name")] = str(p, "containerPort")
	}
	exposed := strings.TrimSuffix(img.Config.Exposed[0], "/tcp")
	if ports["http"] != exposed {
		t.Fatalf("containerPort http=%q, the image exposes %s", ports["http"], exposed)
	}
	portOf := func(p string) string {
		if n, ok := ports[p]; ok {
			return n
		}
		return p
	}
	svc := objs["Service/mmsgate"]
	for k, v := range node(svc, "spec", "selector").(map[string]any) {
		if labels[k] != v {
			t.Errorf("Service selector %s=%v does not match the pod labels", k, v)
		}
	}
	for _, p := range list(svc, "spec", "ports") {
		if portOf(str(p, "targetPort")) != exposed {
			t.Errorf("Service targetPort %q is not the container port %s", str(p, "targetPort"), exposed)
		}
	}

	// Flags and variables exist in the gateway.
	var args []string
	for _, a := range list(c, "args") {
		s, _ := a.(string)
		args = append(args, s)
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
	var env []string
	for _, e := range list(c, "env") {
		v := str(e, "value")
		if ref := node(e, "valueFrom", "secretKeyRef"); ref != nil {
			v = secretValue(t, objs, ref)
		}
		env = append(env, str(e, "name")+"="+v)
	}

	// The data volume is where the image keeps its data, from a PVC that
	// the manifests define.
	data, _ := lookup(img.Config.Env, "MMSGATE_DATA")
	if v, ok := lookup(env, "MMSGATE_DATA"); ok {
		data = v
	}
	mounts := map[string]string{}
	for _, m := range list(c, "volumeMounts") {
		mounts[str(m, "mountPath")] = str(m, "name")
	}
	vols := map[string]any{}
	for _, v := range list(pod, "volumes") {
		vols[str(v, "name")] = v
	}
	dataVol := vols[mounts[data]]
	if dataVol == nil {
		t.Fatalf("no volume mounted at the data directory %s (mounts %v)", data, mounts)
	}
	claim := str(dataVol, "persistentVolumeClaim", "claimName")
	if objs["PersistentVolumeClaim/"+claim] == nil {
		t.Fatalf("data volume: no PersistentVolumeClaim %q in deploy/kubernetes", claim)
	}
	if !contains(img.Config.Volumes, data) {
		t.Errorf("the data directory %s is not a VOLUME of the image %v", data, img.Config.Volumes)
	}

	// The pod's user is the image's.
	u, err := lookupUser(img.Root, img.Config.User)
	if err != nil {
		t.Fatal(err)
	}
	runAs := str(pod, "securityContext", "runAsUser")
	if runAs != "" && runAs != strconv.Itoa(u.uid) {
		t.Fatalf("runAsUser %q, the image's user %s is %d", runAs, img.Config.User, u.uid)
	}
	fsGroup, err := strconv.Atoi(str(pod, "securityContext", "fsGroup"))
	if err != nil {
		t.Fatalf("fsGroup: %v", err)
	}
	if fsGroup != u.gid {
		t.Errorf("fsGroup %d is not the image user's group %d", fsGroup, u.gid)
	}
	if str(pod, "securityContext", "runAsNonRoot") == "true" && runAs == "" {
		// The kubelet checks the image's USER, which must be numeric.
		if n, err := strconv.Atoi(strings.Split(img.Config.User, ":")[0]); err != nil || n == 0 {
			t.Errorf("runAsNonRoot without runAsUser: the image's USER %q cannot pass", img.Config.User)
		}
	}

	// Run it as the kubelet would.
	opts := RunOptions{Args: args, Env: env, User: runAs, Groups: []int{fsGroup}, Publish: 8080, Output: &logFile{},
		ReadOnlyRoot: str(c, "securityContext", "readOnlyRootFilesystem") == "true",
		NoNewPrivs:   str(c, "securityContext", "allowPrivilegeEscalation") == "false", VolumeDir: t.TempDir()}
	pvc := filepath.Join(t.TempDir(), "pvc")
	// A new PVC is empty; fsGroup makes it group-owned and setgid.
	if err := os.Mkdir(pvc, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(pvc, 0, fsGroup); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pvc, 0o2775|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	for path, name := range mounts {
		v := vols[name]
		switch {
		case path == data:
			opts.Binds = append(opts.Binds, Bind{Src: pvc, Dst: path})
		case node(v, "emptyDir") != nil:
			opts.Tmpfs = append(opts.Tmpfs, path)
		default:
			t.Fatalf("volume %s: neither the data PVC nor an emptyDir", name)
		}
	}
	out := opts.Output.(*logFile)
	ct, err := img.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			ct.Kill()
		}
		if t.Failed() {
			t.Logf("--- container output (end) ---\n%s", out.tail(40))
		}
	})
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		h := node(c, probe, "httpGet")
		if portOf(str(h, "port")) != exposed {
			t.Fatalf("%s port %q is not the container port", probe, str(h, "port"))
		}
		url := "http://" + ct.Addr() + str(h, "path")
		eventually(t, probe+" "+str(h, "path"), 2*time.Minute, ct, func() string {
			if code, body := get(t, url); code != http.StatusOK {
				return fmt.Sprintf("%d %s", code, body)
			}
			return ""
		})
	}
	// The emulated kubelet did what the manifest says.
	st := procStatus(t, ct.Pid())
	if uid := strings.Fields(st["Uid"]); len(uid) == 0 || uid[0] != strconv.Itoa(u.uid) {
		t.Errorf("the process runs as uid %q", st["Uid"])
	}
	if !contains(strings.Fields(st["Groups"]), strconv.Itoa(fsGroup)) {
		t.Errorf("fsGroup %d is not among the process's groups %q", fsGroup, st["Groups"])
	}
	if opts.NoNewPrivs && st["NoNewPrivs"] != "1" {
		t.Errorf("allowPrivilegeEscalation false, NoNewPrivs %q", st["NoNewPrivs"])
	}
	if opts.ReadOnlyRoot && !rootReadOnly(t, ct.Pid()) {
		t.Error("readOnlyRootFilesystem, but / is writable")
	}
	if _, err := os.Stat(filepath.Join(pvc, "mmsgate.db")); err != nil {
		t.Fatalf("the SQLite database is not on the PVC: %v", err)
	}
	if tok, _ := lookup(env, "MMSGATE_API_TOKEN"); tok != "" {
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

	grace, err := strconv.Atoi(str(pod, "terminationGracePeriodSeconds"))
	if err != nil {
		grace = 30
	}
	sig, _ := ParseSignal(img.Config.StopSignal)
	if err := ct.Signal(sig); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(grace)*time.Second)
	defer cancel()
	code, err := ct.Wait(ctx)
	stopped = err == nil
	if err != nil || code != 0 {
		t.Fatalf("termination: exit %d, %v (grace %ds)", code, err, grace)
	}
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
