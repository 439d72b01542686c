package asf

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fixtureDir is a temporary directory for the whole test binary.
var fixtureDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "asf-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ffmpegFixtures are the clips of issue 3, made once per test binary.
var ffmpegFixtures = []struct {
	name string
	args []string
}{
	{"wmv2_wmav2.asf", []string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i",
		"sine=frequency=440:sample_rate=44100", "-t", "3", "-c:v", "wmv2", "-b:v", "300k", "-c:a", "wmav2", "-b:a", "64k"}},
	{"msmpeg4_wmav1.asf", []string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i",
		"sine=frequency=440:sample_rate=44100", "-t", "3", "-c:v", "msmpeg4", "-b:v", "300k", "-c:a", "wmav1", "-b:a", "64k"}},
	{"wmav2.asf", []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "3",
		"-c:a", "wmav2", "-b:a", "64k"}},
	{"h264_aac.asf", []string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i",
		"sine=frequency=440:sample_rate=44100", "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25",
		"-b:v", "300k", "-c:a", "aac", "-b:a", "64k"}},
}

// microsoftFiles are real files made by Microsoft's tools (testdata/media).
var microsoftFiles = []string{"glass.wmv", "jeanne.wma", "Sire.wma", "laure_multi.wma"}

var genOnce struct {
	sync.Once
	paths []string
	err   error
}

// generatedFiles returns the ffmpeg-made fixtures, generating them on first use.
func generatedFiles(t testing.TB) []string {
	t.Helper()
	genOnce.Do(func() {
		if _, err := exec.LookPath("ffmpeg"); err != nil {
			genOnce.err = fmt.Errorf("ffmpeg not installed: %w", err)
			return
		}
		for _, f := range ffmpegFixtures {
			p := filepath.Join(fixtureDir, f.name)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			args := append([]string{"-v", "error", "-y"}, f.args...)
			args = append(args, "-f", "asf", p)
			out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput()
			cancel()
			if err != nil {
				genOnce.err = fmt.Errorf("ffmpeg %s: %w: %s", f.name, err, out)
				return
			}
			genOnce.paths = append(genOnce.paths, p)
		}
	})
	if genOnce.err != nil {
		t.Fatal(genOnce.err)
	}
	return genOnce.paths
}

// allFiles returns the generated fixtures and the Microsoft-made files.
func allFiles(t testing.TB) []string {
	files := append([]string(nil), generatedFiles(t)...)
	for _, f := range microsoftFiles {
		files = append(files, filepath.Join("testdata", "media", f))
	}
	return files
}

func openTestFile(t testing.TB, path string) (*File, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f, b
}

// probePacket is one packet of `ffprobe -show_packets -show_data_hash md5`.
type probePacket struct {
	StreamIndex int    `json:"stream_index"`
	PTS         *int64 `json:"pts"`
	DTS         *int64 `json:"dts"`
	Size        string `json:"size"`
	Flags       string `json:"flags"`
	DataHash    string `json:"data_hash"`
	Pos         string `json:"pos"`
}

type probeStream struct {
	Index       int    `json:"index"`
	CodecName   string `json:"codec_name"`
	CodecType   string `json:"codec_type"`
	Disposition struct {
		AttachedPic int `json:"attached_pic"`
	} `json:"disposition"`
}

type probeResult struct {
	Streams []probeStream `json:"streams"`
	Packets []probePacket `json:"packets"`
}

func ffprobe(t testing.TB, path string, args ...string) probeResult {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Fatalf("ffprobe not installed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append([]string{"-v", "error", "-of", "json"}, args...)
	args = append(args, path)
	out, err := exec.CommandContext(ctx, "ffprobe", args...).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var r probeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return r
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func atoi(t testing.TB, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

func runJSON(t testing.TB, v any, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func readFileBytes(path string) ([]byte, error) { return os.ReadFile(path) }
