package kaggle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/kaggle/kaggletest"
)

const (
	owner = "misrakahmed"
	slug  = "vegetable-image-dataset"
	spec  = "kaggle:" + owner + "/" + slug
	top   = "Vegetable Images"
)

var classes = []string{"Bean", "Carrot", "Potato"}

// isolate keeps the user's own Kaggle token and settings out of a test: an empty HOME, no KAGGLE_*.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, v := range []string{UsernameEnv, KeyEnv, ConfigDirEnv, "XDG_CONFIG_HOME", APIEnv} {
		t.Setenv(v, "")
	}
	return home
}

// fakeKaggle starts a Kaggle stand-in serving the vegetable dataset's layout (3 classes, 3 images per
// class and split, 20 kB each: about 540 kB) and returns it, the zip, and options that reach it.
func fakeKaggle(t *testing.T) (*kaggletest.Server, []byte, Options, *bytes.Buffer) {
	t.Helper()
	isolate(t)
	srv := kaggletest.New("alice", "s3cret")
	t.Cleanup(srv.Close)
	zip := kaggletest.ImageFolderZip(top, classes, 3, 20000)
	srv.Add(owner, slug, zip)
	var progress bytes.Buffer
	return srv, zip, Options{API: srv.BaseURL(), Credentials: &Credentials{Username: "alice", Key: "s3cret", Source: "test"}, Progress: &progress}, &progress
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// umask reads the process's umask (Linux), or skips the permission checks.
func umask(t *testing.T) fs.FileMode {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
				if err == nil {
					return fs.FileMode(m)
				}
			}
		}
	}
	t.Skip("no umask to check permissions against")
	return 0
}

// files lists every file and folder under dir, relative, folders with a trailing slash.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var list []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			rel += "/"
		}
		list = append(list, filepath.ToSlash(rel))
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return list
}

// checkDone checks a finished Get: the split folders found, the record of the zip (the same bytes as
// the server's), the files unpacked as the zip has them, and nothing of the download left over.
func checkDone(t *testing.T, res *Result, dir string, zip []byte) {
	t.Helper()
	want := filepath.Join(dir, top)
	if res.DataDir != want {
		t.Errorf("DataDir %q, want %q", res.DataDir, want)
	}
	if len(res.Found) != 1 || !reflect.DeepEqual(res.Found[0].Classes, classes) ||
		!reflect.DeepEqual(res.Found[0].Images, map[string]int{"train": 9, "test": 9, "validation": 9}) {
		t.Errorf("found %+v", res.Found)
	}
	if res.Record.ZipSHA256 != sha(zip) || res.Record.ZipBytes != int64(len(zip)) {
		t.Errorf("record: zip %d bytes, SHA-256 %s; the server's: %d bytes, %s", res.Record.ZipBytes, res.Record.ZipSHA256, len(zip), sha(zip))
	}
	if res.Record.Files != 28 || !reflect.DeepEqual(res.Record.Entries, []string{"README.txt", top}) {
		t.Errorf("record: %d files, entries %q", res.Record.Files, res.Record.Entries)
	}
	var onDisk Record
	content, err := os.ReadFile(filepath.Join(dir, MarkerFile))
	if err != nil || json.Unmarshal(content, &onDisk) != nil || onDisk.ZipSHA256 != sha(zip) || onDisk.Dataset != spec {
		t.Errorf("%s: %v\n%s", MarkerFile, err, content)
	}
	got, err := os.ReadFile(filepath.Join(dir, top, "train", "Carrot", "0002.jpg"))
	if err != nil || len(got) != 20000 {
		t.Errorf("an image: %d bytes, %v", len(got), err)
	}
	for _, f := range files(t, dir) {
		if strings.HasPrefix(f, ".") && f != MarkerFile {
			t.Errorf("left over: %s", f)
		}
	}
}

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		spec, want, err string
	}{
		{spec, owner + "/" + slug, ""},
		{"kaggle:a/b.c_d-1", "a/b.c_d-1", ""},
		{owner + "/" + slug, "", "want kaggle:OWNER/DATASET"},
		{"kaggle:" + owner, "", "want kaggle:OWNER/DATASET"},
		{"kaggle:a/b/c", "", "want kaggle:OWNER/DATASET"},
		{"kaggle:a/..", "", "want kaggle:OWNER/DATASET"},
		{"kaggle:/b", "", "want kaggle:OWNER/DATASET"},
		{"kaggle:a/b c", "", "want kaggle:OWNER/DATASET"},
		{"https://www.kaggle.com/datasets/" + owner + "/" + slug, "", "want " + spec},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			d, err := ParseSpec(tc.spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil || d.Owner+"/"+d.Name != tc.want || d.String() != tc.spec {
				t.Errorf("%+v, %v; want %s", d, err, tc.want)
			}
		})
	}
}

// TestFindCredentials: the environment's token first, else kaggle.json as Kaggle's client finds it; a
// missing token names both ways; a token file other users can read is refused with the chmod to run.
func TestFindCredentials(t *testing.T) {
	token := `{"username":"bob","key":"k3y"}`
	for _, tc := range []struct {
		name      string
		env       map[string]string
		file      string // Under HOME, or "CONFIG/" for $KAGGLE_CONFIG_DIR.
		content   string
		mode      fs.FileMode
		wantUser  string
		wantKey   string
		wantErr   []string
		wantNoTok bool
	}{
		{name: "environment", env: map[string]string{UsernameEnv: "eve", KeyEnv: "ek"}, file: ".kaggle/kaggle.json", content: token, mode: 0o600, wantUser: "eve", wantKey: "ek"},
		{name: "file", file: ".kaggle/kaggle.json", content: token, mode: 0o600, wantUser: "bob", wantKey: "k3y"},
		{name: "file, username from the environment", env: map[string]string{UsernameEnv: "eve"}, file: ".kaggle/kaggle.json", content: token, mode: 0o600, wantUser: "eve", wantKey: "k3y"},
		{name: "KAGGLE_CONFIG_DIR", file: "CONFIG/kaggle.json", content: token, mode: 0o400, wantUser: "bob", wantKey: "k3y"},
		{name: "XDG", env: map[string]string{"XDG_CONFIG_HOME": "HOME/xdg"}, file: "xdg/kaggle/kaggle.json", content: token, mode: 0o600, wantUser: "bob", wantKey: "k3y"},
		{name: "none", wantNoTok: true, wantErr: []string{"KAGGLE_USERNAME", "KAGGLE_KEY", "HOME/.kaggle/kaggle.json", "chmod 600"}},
		{name: "key alone", env: map[string]string{KeyEnv: "ek"}, wantNoTok: true, wantErr: []string{"KAGGLE_KEY is set, KAGGLE_USERNAME is not", "HOME/.kaggle/kaggle.json"}},
		{name: "readable by all", file: ".kaggle/kaggle.json", content: token, mode: 0o644, wantErr: []string{"can be read by other users (mode 0644): run chmod 600 HOME/.kaggle/kaggle.json"}},
		{name: "readable by the group", file: ".kaggle/kaggle.json", content: token, mode: 0o640, wantErr: []string{"run chmod 600 HOME/.kaggle/kaggle.json"}},
		{name: "not JSON", file: ".kaggle/kaggle.json", content: "bob:k3y", mode: 0o600, wantErr: []string{"HOME/.kaggle/kaggle.json", `want {"username"`}},
		{name: "no key", file: ".kaggle/kaggle.json", content: `{"username":"bob"}`, mode: 0o600, wantErr: []string{`want both "username" and "key"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := isolate(t)
			config := filepath.Join(t.TempDir(), "config")
			expand := func(s string) string {
				return strings.NewReplacer("HOME", home, "CONFIG", config).Replace(s)
			}
			if strings.HasPrefix(tc.file, "CONFIG/") {
				t.Setenv(ConfigDirEnv, config)
			}
			for k, v := range tc.env {
				t.Setenv(k, expand(v))
			}
			if tc.file != "" {
				path := filepath.Join(home, tc.file)
				if strings.HasPrefix(tc.file, "CONFIG/") {
					path = expand(tc.file)
				}
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			c, err := FindCredentials()
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("got %+v, want an error", c)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), expand(w)) {
						t.Errorf("error %q does not say %q", err, expand(w))
					}
				}
				if tc.wantNoTok != errors.Is(err, ErrNoCredentials) {
					t.Errorf("errors.Is(err, ErrNoCredentials) = %v", !tc.wantNoTok)
				}
				return
			}
			if err != nil || c.Username != tc.wantUser || c.Key != tc.wantKey {
				t.Errorf("got %+v, %v; want %s, %s", c, err, tc.wantUser, tc.wantKey)
			}
		})
	}
}

// TestGet downloads through the API's redirect, with the token sent to the API and not to the storage,
// unpacks, finds the split folders and records the zip; a second Get downloads nothing, needs no
// token, and says so.
func TestGet(t *testing.T) {
	srv, zip, opts, progress := fakeKaggle(t)
	dir := filepath.Join(t.TempDir(), "data", slug)
	res, err := Get(context.Background(), spec, dir, opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress)
	}
	checkDone(t, res, dir, zip)
	if !res.Downloaded {
		t.Error("Downloaded false")
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].Server != "api" || !reqs[0].Authorization || reqs[0].Status != 302 ||
		reqs[1].Server != "storage" || reqs[1].Authorization || reqs[1].Status != 200 || reqs[1].Range != "" || reqs[1].AcceptEncoding != "identity" {
		t.Errorf("requests: %+v", reqs)
	}
	for _, want := range []string{"downloading " + spec + " (", "from " + srv.BaseURL() + "/datasets/download/" + owner + "/" + slug, "(100%)", "downloaded ", "unpacking 28 files", "unpacked " + spec} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress does not say %q:\n%s", want, progress)
		}
	}
	if strings.Contains(progress.String(), "X-Goog-Signature") {
		t.Errorf("progress shows the signed address:\n%s", progress)
	}

	// Files as any the user makes (0666 and 0777 less the umask), not private ones.
	mask := umask(t)
	for _, p := range []string{filepath.Join(dir, top, "test", "Bean", "0001.jpg"), filepath.Join(dir, "README.txt"), filepath.Join(dir, MarkerFile)} {
		if info, err := os.Stat(p); err != nil || info.Mode().Perm() != 0o666&^mask {
			t.Errorf("%s: mode %v, %v; want %v", p, info.Mode().Perm(), err, 0o666&^mask)
		}
	}
	for _, p := range []string{dir, filepath.Join(dir, top), filepath.Join(dir, top, "validation", "Potato")} {
		if info, err := os.Stat(p); err != nil || info.Mode().Perm() != 0o755&^mask {
			t.Errorf("%s: mode %v, %v; want %v", p, info.Mode().Perm(), err, 0o755&^mask)
		}
	}

	// Again: nothing downloaded, no token needed.
	progress.Reset()
	opts.Credentials = nil
	again, err := Get(context.Background(), spec, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkDone(t, again, dir, zip)
	if again.Downloaded || len(srv.Requests()) != 2 {
		t.Errorf("second Get: Downloaded %v, %d requests", again.Downloaded, len(srv.Requests()))
	}
	if !strings.Contains(progress.String(), "is already in "+dir) || !strings.Contains(progress.String(), "nothing to download") {
		t.Errorf("second Get says:\n%s", progress)
	}

	// Another dataset into the same folder is refused.
	if _, err := Get(context.Background(), "kaggle:someone/else", dir, opts); err == nil || !strings.Contains(err.Error(), "holds "+spec) {
		t.Errorf("another dataset: %v", err)
	}
}

// TestResume: downloads cut midway, or left by an earlier run, continue with a range request and end
// identical to the server's zip (its SHA-256, recorded from the file downloaded); where the server or
// its file do not allow it, the download starts over.
func TestResume(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup prepares the server and what an earlier run left in DIR/.download.
		setup func(srv *kaggletest.Server, zip []byte, part, meta string)
		// want are the storage's answers, in order (206 with its Range's start > 0).
		want []int
		// firstRange is the Range of the storage's first request ("" for none).
		firstRange func(zip []byte) string
		say        string
	}{
		{name: "cut once", setup: func(srv *kaggletest.Server, _ []byte, _, _ string) { srv.Cut(1, 0.5) }, want: []int{200, 206}, say: "was cut"},
		{name: "cut three times", setup: func(srv *kaggletest.Server, _ []byte, _, _ string) { srv.Cut(3, 0.3) }, want: []int{200, 206, 206, 206}},
		{name: "cut, no Content-Length", setup: func(srv *kaggletest.Server, _ []byte, _, _ string) { srv.NoLength(true); srv.Cut(1, 0.5) }, want: []int{200, 206}},
		{name: "left by a killed run", setup: func(_ *kaggletest.Server, zip []byte, part, _ string) { write(part, zip[:len(zip)*2/5]) },
			want: []int{206}, firstRange: func(zip []byte) string { return "bytes=" + strconv.Itoa(len(zip)*2/5) + "-" }, say: "resuming " + spec},
		{name: "complete, not verified", setup: func(_ *kaggletest.Server, zip []byte, part, meta string) {
			write(part, zip)
			write(meta, []byte(`{"total":`+strconv.Itoa(len(zip))+`}`))
		}, want: nil, say: "is complete"},
		{name: "complete, size unknown", setup: func(_ *kaggletest.Server, zip []byte, part, _ string) { write(part, zip) }, want: []int{416}, say: "is complete"},
		{name: "range ignored", setup: func(srv *kaggletest.Server, _ []byte, _, _ string) { srv.IgnoreRange(true); srv.Cut(1, 0.5) }, want: []int{200, 200}, say: "starting over"},
		{name: "file changed", setup: func(srv *kaggletest.Server, zip []byte, part, meta string) {
			old := bytes.Repeat([]byte{'x'}, len(zip)/2)
			write(part, old)
			write(meta, []byte(`{"etag":"\"0123\"","total":`+strconv.Itoa(len(zip)+7)+`}`))
		}, want: []int{200}, firstRange: func(zip []byte) string { return "bytes=" + strconv.Itoa(len(zip)/2) + "-" }},
		{name: "damaged partial file", setup: func(_ *kaggletest.Server, zip []byte, part, _ string) {
			write(part, bytes.Repeat([]byte{'x'}, len(zip)/2))
		}, want: []int{206, 200}, say: "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, zip, opts, progress := fakeKaggle(t)
			dir := filepath.Join(t.TempDir(), "out")
			base := filepath.Join(dir, DownloadFolder, slug+".zip")
			if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
				t.Fatal(err)
			}
			tc.setup(srv, zip, base+".part", base+".part.json")
			res, err := Get(context.Background(), spec, dir, opts)
			if err != nil {
				t.Fatalf("%v\n%s", err, progress)
			}
			checkDone(t, res, dir, zip)
			var statuses []int
			var storage []kaggletest.Request
			for _, r := range srv.Requests() {
				if r.Server == "storage" {
					statuses = append(statuses, r.Status)
					storage = append(storage, r)
				}
			}
			if !reflect.DeepEqual(statuses, tc.want) {
				t.Errorf("storage answered %v, want %v\n%+v\n%s", statuses, tc.want, srv.Requests(), progress)
			}
			for i, r := range storage {
				if r.Status == 206 && (r.Range == "" || r.Range == "bytes=0-") {
					t.Errorf("request %d: 206 to Range %q", i, r.Range)
				}
				if r.Status == 206 && i > 0 && r.IfRange == "" {
					t.Errorf("request %d resumes without If-Range", i)
				}
			}
			if tc.firstRange != nil && (len(storage) == 0 || storage[0].Range != tc.firstRange(zip)) {
				t.Errorf("first storage request %+v, want Range %q", storage, tc.firstRange(zip))
			}
			if !strings.Contains(progress.String(), tc.say) {
				t.Errorf("progress does not say %q:\n%s", tc.say, progress)
			}
		})
	}
}

func write(path string, content []byte) {
	if err := os.WriteFile(path, content, 0o644); err != nil {
		panic(err)
	}
}

// TestInterruptedResumes: a download cancelled midway keeps its partial file and says so; the next Get
// resumes it.
func TestInterruptedResumes(t *testing.T) {
	srv, zip, opts, _ := fakeKaggle(t)
	dir := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts.Progress = cancelAfter{cancel: cancel, w: io.Discard, after: " of "} // At the first progress line.
	_, err := Get(ctx, spec, dir, opts)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "run again to resume") {
		t.Fatalf("cancelled Get: %v", err)
	}
	part, err := os.Stat(filepath.Join(dir, DownloadFolder, slug+".zip.part"))
	if err != nil || part.Size() == 0 || part.Size() >= int64(len(zip)) {
		t.Fatalf("partial file: %v, %v", part, err)
	}
	opts.Progress = nil
	res, err := Get(context.Background(), spec, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkDone(t, res, dir, zip)
	reqs := srv.Requests()
	if last := reqs[len(reqs)-1]; last.Status != 206 || last.Range != "bytes="+strconv.FormatInt(part.Size(), 10)+"-" {
		t.Errorf("the second Get's request: %+v", last)
	}
}

// TestCutTooOften: a download cut at each attempt stops after maxAttempts, keeping what it got and
// saying so; the next Get resumes it.
func TestCutTooOften(t *testing.T) {
	srv, zip, opts, _ := fakeKaggle(t)
	dir := filepath.Join(t.TempDir(), "out")
	srv.Cut(1000, 0.2)
	_, err := Get(context.Background(), spec, dir, opts)
	if err == nil || !strings.Contains(err.Error(), "unexpected EOF") || !strings.Contains(err.Error(), "kB of "+formatBytes(int64(len(zip)))+" downloaded are kept") ||
		!strings.Contains(err.Error(), "run again to resume") {
		t.Fatalf("error %v", err)
	}
	if n := len(srv.Requests()); n != 2*maxAttempts {
		t.Errorf("%d requests, want %d", n, 2*maxAttempts)
	}
	srv.Cut(0, 0)
	res, err := Get(context.Background(), spec, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkDone(t, res, dir, zip)
}

// cancelAfter cancels when what is written says after.
type cancelAfter struct {
	cancel context.CancelFunc
	w      io.Writer
	after  string
}

func (c cancelAfter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.after) {
		c.cancel()
	}
	return c.w.Write(p)
}

// TestUnsafeZips: a zip with an entry that would land outside the folder (.., an absolute path, a
// drive, a symbolic link) is refused whole: nothing is written, in the folder or outside it, and the
// download is removed.
func TestUnsafeZips(t *testing.T) {
	ok := kaggletest.Entry{Name: top + "/train/Bean/0001.jpg", Body: "fine"}
	for _, tc := range []struct {
		name    string
		entries func(base string) []kaggletest.Entry
		bad     string
		why     string
	}{
		{"dot dot", func(string) []kaggletest.Entry { return []kaggletest.Entry{ok, {Name: "../evil.txt", Body: "x"}} }, "../evil.txt", "out of the folder"},
		{"dot dot inside", func(string) []kaggletest.Entry { return []kaggletest.Entry{ok, {Name: "a/../../evil.txt", Body: "x"}} }, "a/../../evil.txt", "out of the folder"},
		{"backslashes", func(string) []kaggletest.Entry { return []kaggletest.Entry{ok, {Name: `..\evil.txt`, Body: "x"}} }, `..\\evil.txt`, "out of the folder"},
		{"absolute", func(base string) []kaggletest.Entry {
			return []kaggletest.Entry{ok, {Name: filepath.ToSlash(filepath.Join(base, "evil.txt")), Body: "x"}}
		}, "/evil.txt", "an absolute path"},
		{"drive", func(string) []kaggletest.Entry { return []kaggletest.Entry{ok, {Name: "C:/evil.txt", Body: "x"}} }, "C:/evil.txt", "a path on a drive"},
		{"symlink out", func(base string) []kaggletest.Entry {
			return []kaggletest.Entry{ok, {Name: "link", Link: base}, {Name: "link/evil.txt", Body: "x"}}
		}, `"link"`, "a symbolic link"},
		{"relative symlink", func(string) []kaggletest.Entry {
			return []kaggletest.Entry{{Name: "link", Link: "../.."}, ok, {Name: "link/evil.txt", Body: "x"}}
		}, `"link"`, "a symbolic link"},
		{"our own names", func(string) []kaggletest.Entry { return []kaggletest.Entry{ok, {Name: MarkerFile, Body: "{}"}} }, MarkerFile, "vegclf's own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, opts, progress := fakeKaggle(t)
			base := t.TempDir()
			srv.Add(owner, slug, kaggletest.Zip(tc.entries(base)...))
			dir := filepath.Join(base, "out")
			_, err := Get(context.Background(), spec, dir, opts)
			if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), tc.bad) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %v; want refused, %s, %s\n%s", err, tc.bad, tc.why, progress)
			}
			if left := files(t, base); len(left) > 0 {
				t.Errorf("left in and around the folder: %q", left)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(base), "evil.txt")); err == nil {
				t.Error("evil.txt written outside")
			}
		})
	}
}

// TestDamagedZip: a download that does not verify (the storage's MD5, a CRC, not a zip at all) is
// removed, with nothing unpacked, and the error says what is wrong.
func TestDamagedZip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(srv *kaggletest.Server, zip []byte)
		want  []string
	}{
		{"wrong MD5", func(srv *kaggletest.Server, _ []byte) { srv.WrongMD5(true) }, []string{"is damaged", "its MD5 is", "run again"}},
		{"CRC", func(srv *kaggletest.Server, zip []byte) {
			bad := bytes.Clone(zip)
			i := bytes.Index(bad, []byte("0002.jpg")) + len("0002.jpg") + 100 // Inside the second file's data (stored uncompressed: random).
			bad[i] ^= 0xff
			srv.Add(owner, slug, bad)
		}, []string{"is damaged", "0002.jpg", "checksum"}},
		{"not a zip", func(srv *kaggletest.Server, _ []byte) {
			srv.Add(owner, slug, []byte("<html><body>Please sign in</body></html>"))
		}, []string{"is damaged", "not a zip archive", `starts with "<html>`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, zip, opts, _ := fakeKaggle(t)
			tc.setup(srv, zip)
			base := t.TempDir()
			dir := filepath.Join(base, "out")
			_, err := Get(context.Background(), spec, dir, opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if left := files(t, base); len(left) > 0 {
				t.Errorf("left: %q", left)
			}
		})
	}
}

// TestHTTPErrors: a refused token, an unknown dataset, a missing or unsafe token give messages that say
// what to check, and download nothing.
func TestHTTPErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, opts *Options, home string)
		spec  string
		want  []string
	}{
		{"wrong key", func(_ *testing.T, o *Options, _ string) {
			o.Credentials = &Credentials{Username: "alice", Key: "nope", Source: "$KAGGLE_USERNAME and $KAGGLE_KEY"}
		}, spec,
			[]string{"401 Unauthorized", `user "alice" from $KAGGLE_USERNAME and $KAGGLE_KEY`, "check the user name and key", "Unauthenticated", "https://www.kaggle.com/settings"}},
		{"unknown dataset", nil, "kaggle:" + owner + "/no-such-set",
			[]string{"404 Not Found", "no such dataset", "check the owner and the dataset's name", "https://www.kaggle.com/datasets/" + owner + "/no-such-set"}},
		{"no token", func(_ *testing.T, o *Options, _ string) { o.Credentials = nil }, spec,
			[]string{"no Kaggle API token", "KAGGLE_USERNAME and KAGGLE_KEY", "HOME/.kaggle/kaggle.json"}},
		{"token readable by others", func(t *testing.T, o *Options, home string) {
			o.Credentials = nil
			if err := os.MkdirAll(filepath.Join(home, ".kaggle"), 0o755); err != nil {
				t.Fatal(err)
			}
			write(filepath.Join(home, ".kaggle", "kaggle.json"), []byte(`{"username":"alice","key":"s3cret"}`))
		}, spec, []string{"can be read by other users", "chmod 600 HOME/.kaggle/kaggle.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, opts, _ := fakeKaggle(t)
			home := os.Getenv("HOME")
			if tc.setup != nil {
				tc.setup(t, &opts, home)
			}
			base := t.TempDir()
			_, err := Get(context.Background(), tc.spec, filepath.Join(base, "data", "out"), opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "HOME", home); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, r := range srv.Requests() {
				if r.Server == "storage" {
					t.Errorf("the storage was asked: %+v", r)
				}
			}
			if left := files(t, base); len(left) > 0 {
				t.Errorf("left: %q", left)
			}
		})
	}
}

// TestEntryThere: an entry of the zip that is in the folder already, not unpacked by vegclf, is not
// overwritten; the verified zip is kept, and the next run, once it is moved away, does not download
// again.
func TestEntryThere(t *testing.T) {
	srv, zip, opts, _ := fakeKaggle(t)
	dir := filepath.Join(t.TempDir(), "out")
	mine := filepath.Join(dir, top, "mine.txt")
	if err := os.MkdirAll(filepath.Dir(mine), 0o755); err != nil {
		t.Fatal(err)
	}
	write(mine, []byte("mine"))
	_, err := Get(context.Background(), spec, dir, opts)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, top)+" is there already") {
		t.Fatalf("error %v", err)
	}
	if got := files(t, dir); !reflect.DeepEqual(got, []string{".download/", ".download/" + slug + ".zip", top + "/", top + "/mine.txt"}) {
		t.Errorf("folder: %q", got)
	}
	if err := os.Rename(filepath.Join(dir, top), filepath.Join(t.TempDir(), "moved")); err != nil {
		t.Fatal(err)
	}
	n := len(srv.Requests())
	res, err := Get(context.Background(), spec, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkDone(t, res, dir, zip)
	if len(srv.Requests()) != n {
		t.Errorf("downloaded again: %+v", srv.Requests()[n:])
	}
}

// TestFindData finds ImageFolder datasets at any depth, the shallowest first, and nothing where there is
// none.
func TestFindData(t *testing.T) {
	mk := func(root string, paths ...string) {
		for _, p := range paths {
			path := filepath.Join(root, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			write(path, []byte("x"))
		}
	}
	for _, tc := range []struct {
		name  string
		files []string
		want  []string
	}{
		{"at the top", []string{"train/a/1.jpg", "train/b/1.jpg", "test/a/1.jpg", "test/b/1.jpg"}, []string{"."}},
		{"nested, val", []string{"x/y/Some Data/train/a/1.png", "x/y/Some Data/val/a/2.png", "README.md"}, []string{"x/y/Some Data"}},
		{"two, shallowest first", []string{"z/train/a/1.jpg", "a/b/train/c/1.jpg"}, []string{"z", "a/b"}},
		{"none", []string{"data.csv", "images/1.jpg"}, nil},
		{"hidden skipped", []string{".download/train/a/1.jpg"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			mk(root, tc.files...)
			found, err := FindData(root)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range found {
				rel, _ := filepath.Rel(root, f.Dir)
				got = append(got, filepath.ToSlash(rel))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("found %q, want %q", got, tc.want)
			}
		})
	}
}
