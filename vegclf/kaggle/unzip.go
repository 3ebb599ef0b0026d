package kaggle

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// MarkerFile, in Get's folder, records a finished Get: which dataset, the zip's size and SHA-256, and
// the entries unpacked.
const MarkerFile = ".vegclf-kaggle.json"

// unpackPrefix names the temporary folder a zip is unpacked into, inside Get's folder, before its
// entries are renamed into place.
const unpackPrefix = ".vegclf-unpack-"

// Record is a finished Get, as MarkerFile keeps it.
type Record struct {
	Dataset   string    `json:"dataset"`    // kaggle:OWNER/DATASET
	Source    string    `json:"source"`     // The API address it came from.
	ZipBytes  int64     `json:"zip_bytes"`  // The zip's size.
	ZipSHA256 string    `json:"zip_sha256"` // The zip's SHA-256, hex.
	Files     int       `json:"files"`      // Files unpacked.
	Bytes     int64     `json:"bytes"`      // Their size.
	Entries   []string  `json:"entries"`    // The folders and files unpacked at the top of the folder.
	Unpacked  time.Time `json:"unpacked"`
}

// unsafeEntryError is a zip entry that would write outside the folder, or is not a plain file or folder.
type unsafeEntryError struct {
	zip, name, why string
}

func (e *unsafeEntryError) Error() string {
	return fmt.Sprintf("unpacking %s: refused: entry %q is %s (nothing was unpacked)", e.zip, e.name, e.why)
}

// unpack checks every entry of the zip, then unpacks it into a temporary folder in g.dir, reading every
// entry to its end (which checks its CRC-32), and renames the entries into g.dir. On any error the
// temporary folder is removed: nothing half-unpacked is left.
func (g *getter) unpack(ctx context.Context, f fetched) (Record, error) {
	zr, err := zip.OpenReader(f.path)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // Insecure names are refused below, by name.
		return Record{}, &damagedError{path: f.path, err: notZip(f.path, err)}
	}
	defer zr.Close()

	// Every name is checked before anything is written.
	rec := Record{Dataset: g.ds.String(), ZipBytes: f.size, ZipSHA256: f.sha256}
	paths := make([]string, len(zr.File))
	tops := map[string]bool{}
	for i, zf := range zr.File {
		p, why := entryPath(zf.Name)
		mode := zf.Mode()
		switch {
		case why != "":
		case mode&fs.ModeSymlink != 0:
			why = "a symbolic link"
		case !mode.IsDir() && !mode.IsRegular():
			why = fmt.Sprintf("not a file or folder (mode %v)", mode)
		}
		if why != "" {
			return Record{}, &unsafeEntryError{zip: f.path, name: zf.Name, why: why}
		}
		if p == "." {
			continue
		}
		top, _, _ := strings.Cut(filepath.ToSlash(p), "/")
		if top == MarkerFile || top == DownloadFolder || strings.HasPrefix(top, unpackPrefix) {
			return Record{}, &unsafeEntryError{zip: f.path, name: zf.Name, why: "named as vegclf's own files"}
		}
		paths[i], tops[top] = p, true
		if !mode.IsDir() {
			rec.Files++
			rec.Bytes += int64(zf.UncompressedSize64)
		}
	}
	for top := range tops {
		rec.Entries = append(rec.Entries, top)
	}
	slices.Sort(rec.Entries)
	for _, top := range rec.Entries {
		if _, err := os.Lstat(filepath.Join(g.dir, top)); err == nil {
			return Record{}, fmt.Errorf("unpacking %s: %s is there already and was not unpacked by vegclf (no %s): move it away, or give another folder",
				g.ds, filepath.Join(g.dir, top), MarkerFile)
		}
	}

	tmp, err := os.MkdirTemp(g.dir, unpackPrefix)
	if err != nil {
		return Record{}, fmt.Errorf("unpacking %s: %w", g.ds, err)
	}
	defer os.RemoveAll(tmp) // Empty once the entries are in place.
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return Record{}, fmt.Errorf("unpacking %s: %w", g.ds, err)
	}
	defer root.Close()
	g.log.printf("unpacking %d files (%s) into %s\n", rec.Files, formatBytes(rec.Bytes), g.dir)
	began := time.Now()
	meter := g.log.meter(0, rec.Bytes)
	for i, zf := range zr.File {
		if paths[i] == "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			meter.finish()
			return Record{}, fmt.Errorf("unpacking %s: interrupted: %w", g.ds, err)
		}
		if err := extract(root, zf, paths[i], meter); err != nil {
			meter.finish()
			var d *damagedError
			if errors.As(err, &d) {
				d.path = f.path
				return Record{}, err
			}
			return Record{}, fmt.Errorf("unpacking %s into %s: %w", f.path, g.dir, err)
		}
	}
	meter.finish()

	// Into place, all or none.
	var moved []string
	for _, top := range rec.Entries {
		if err := os.Rename(filepath.Join(tmp, top), filepath.Join(g.dir, top)); err != nil {
			for _, m := range moved {
				os.Rename(filepath.Join(g.dir, m), filepath.Join(tmp, m))
			}
			return Record{}, fmt.Errorf("unpacking %s: %w", g.ds, err)
		}
		moved = append(moved, top)
	}
	rec.Unpacked = time.Now().UTC().Round(time.Second)
	g.log.printf("unpacked %s in %s\n", g.ds, formatDuration(time.Since(began)))
	return rec, nil
}

// extract writes one entry under root, reading it to its end: archive/zip checks the CRC-32 there.
func extract(root *os.Root, zf *zip.File, p string, progress io.Writer) error {
	if zf.Mode().IsDir() {
		return root.MkdirAll(p, 0o755)
	}
	if dir := filepath.Dir(p); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	out, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("entry %q is in the zip twice", zf.Name)
	}
	if err != nil {
		return err
	}
	in, err := zf.Open()
	if err != nil {
		out.Close()
		return &damagedError{err: fmt.Errorf("entry %q: %w", zf.Name, err)}
	}
	defer in.Close()
	_, err = io.Copy(io.MultiWriter(out, progress), readErrors{in})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	var re readError
	if errors.As(err, &re) {
		return &damagedError{err: fmt.Errorf("entry %q: %w", zf.Name, re.err)}
	}
	if err != nil {
		return err
	}
	if !zf.Modified.IsZero() {
		_ = root.Chtimes(p, zf.Modified, zf.Modified) // A date is a nicety.
	}
	return nil
}

// readErrors marks the errors of reading the zip (damage), apart from those of writing (the disk).
type readErrors struct{ r io.Reader }

type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }

func (r readErrors) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = readError{err}
	}
	return n, err
}

// entryPath returns the local path of a zip entry's name ("." for the top folder itself), or why the
// name is refused: an absolute path, a drive or a ".." (backslashes count as separators, as on
// Windows, where such a zip may come from).
func entryPath(name string) (p, why string) {
	n := strings.ReplaceAll(name, `\`, "/")
	switch {
	case n == "":
		return "", "an empty name"
	case strings.HasPrefix(n, "/"):
		return "", "an absolute path"
	case len(n) >= 2 && n[1] == ':':
		return "", "a path on a drive"
	case strings.ContainsRune(n, 0):
		return "", "a name with a NUL byte"
	}
	if slices.Contains(strings.Split(n, "/"), "..") {
		return "", "a path out of the folder (..)"
	}
	clean := path.Clean(n)
	if clean == "." {
		return ".", ""
	}
	if !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", "a path out of the folder"
	}
	return filepath.FromSlash(clean), ""
}

// notZip explains a file that is not a zip archive, showing how it starts when it looks like text
// (a server's error page).
func notZip(path string, err error) error {
	head := make([]byte, 64)
	if f, ferr := os.Open(path); ferr == nil {
		n, _ := io.ReadFull(f, head)
		head = head[:n]
		f.Close()
	}
	if len(head) > 0 && !bytes.HasPrefix(head, []byte("PK")) && isText(head) {
		return fmt.Errorf("not a zip archive (%v): it starts with %q", err, head)
	}
	return fmt.Errorf("not a readable zip archive: %w", err)
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x09 || (c > 0x0d && c < 0x20) {
			return false
		}
	}
	return true
}

// readRecord reads dir's MarkerFile. It reports whether dataset d is in place: recorded, with every
// entry there. A folder recording another dataset is an error, as is one with some entries missing.
func readRecord(dir string, d Dataset) (Record, bool, error) {
	path := filepath.Join(dir, MarkerFile)
	content, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("getting %s: %w", d, err)
	}
	var rec Record
	if err := json.Unmarshal(content, &rec); err != nil {
		return Record{}, false, fmt.Errorf("getting %s: %s is damaged (%v): remove it to download again", d, path, err)
	}
	if rec.Dataset != d.String() {
		return Record{}, false, fmt.Errorf("getting %s: %s holds %s (see %s): give another folder", d, dir, rec.Dataset, path)
	}
	var missing []string
	for _, e := range rec.Entries {
		if _, err := os.Lstat(filepath.Join(dir, e)); err != nil {
			missing = append(missing, e)
		}
	}
	switch {
	case len(missing) == 0:
		return rec, true, nil
	case len(missing) == len(rec.Entries):
		// All gone: download again.
		if err := os.Remove(path); err != nil {
			return Record{}, false, fmt.Errorf("getting %s: %w", d, err)
		}
		return Record{}, false, nil
	}
	return Record{}, false, fmt.Errorf("getting %s: %s was unpacked into %s but %q is missing now: remove the folder's other entries %q and %s to download it again",
		d, d, dir, missing, slices.DeleteFunc(slices.Clone(rec.Entries), func(e string) bool { return slices.Contains(missing, e) }), path)
}

// writeRecord writes dir's MarkerFile.
func writeRecord(dir string, rec Record) error {
	content, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, MarkerFile), append(content, '\n')); err != nil {
		return fmt.Errorf("recording %s: %w", rec.Dataset, err)
	}
	return nil
}

// removeStaleUnpacks removes the temporary folders of unpackings killed midway.
func removeStaleUnpacks(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), unpackPrefix) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}
