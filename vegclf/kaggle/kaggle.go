// Package kaggle gets a Kaggle dataset ready to train on, in one call: it downloads the dataset's zip
// with the user's API token (found as Kaggle's own client finds it), resumes a cut download with HTTP
// range requests, verifies the file (its length, the storage server's MD5 where given, and every entry's
// CRC-32), unpacks it safely (no entry may leave the folder; nothing half-unpacked is left behind) and
// finds the ImageFolder dataset folders inside: the value to give vegclf's --data.
//
// A finished download is recorded in the folder (MarkerFile): getting the same dataset into the same
// folder again downloads nothing, needs no token, and gives the same result.
package kaggle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// DefaultAPI is the base address of Kaggle's public API.
const DefaultAPI = "https://www.kaggle.com/api/v1"

// APIEnv names the environment variable that points the API elsewhere (Options.API, when empty, reads
// it): a mirror, a proxy, or a local server in tests.
const APIEnv = "VEGCLF_KAGGLE_API"

// SpecPrefix starts a dataset spec: kaggle:OWNER/DATASET.
const SpecPrefix = "kaggle:"

// Dataset names a Kaggle dataset: its owner's user name and its slug, as in the dataset's page,
// https://www.kaggle.com/datasets/OWNER/DATASET.
type Dataset struct {
	Owner, Name string
}

// String returns the dataset's spec, kaggle:OWNER/DATASET.
func (d Dataset) String() string { return SpecPrefix + d.Owner + "/" + d.Name }

// Page returns the dataset's page on Kaggle.
func (d Dataset) Page() string { return "https://www.kaggle.com/datasets/" + d.Owner + "/" + d.Name }

// namePattern is what Kaggle allows in user names and dataset slugs (and what keeps the slug safe as a
// file name: no separators, no leading dot).
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ParseSpec parses kaggle:OWNER/DATASET. Given the dataset's page address instead, the error says which
// spec it means.
func ParseSpec(spec string) (Dataset, error) {
	if rest, ok := strings.CutPrefix(spec, "https://www.kaggle.com/datasets/"); ok {
		if owner, name, ok := strings.Cut(strings.TrimSuffix(rest, "/"), "/"); ok && namePattern.MatchString(owner) && namePattern.MatchString(name) {
			return Dataset{}, fmt.Errorf("dataset %q: want %s (the page's address names it)", spec, Dataset{owner, name})
		}
	}
	rest, ok := strings.CutPrefix(spec, SpecPrefix)
	if !ok {
		return Dataset{}, fmt.Errorf("dataset %q: want kaggle:OWNER/DATASET, as in the dataset's page https://www.kaggle.com/datasets/OWNER/DATASET", spec)
	}
	owner, name, ok := strings.Cut(rest, "/")
	if !ok || !namePattern.MatchString(owner) || !namePattern.MatchString(name) {
		return Dataset{}, fmt.Errorf("dataset %q: want kaggle:OWNER/DATASET (letters, digits, '-', '_' and '.'), as in the dataset's page https://www.kaggle.com/datasets/OWNER/DATASET", spec)
	}
	return Dataset{Owner: owner, Name: name}, nil
}

// Options tune Get. The zero value downloads from Kaggle (or $VEGCLF_KAGGLE_API) with the token
// FindCredentials finds, silently.
type Options struct {
	// API is the API's base address; empty: $VEGCLF_KAGGLE_API, else DefaultAPI.
	API string
	// Credentials, when not nil, are used instead of FindCredentials' (which are only looked for when
	// something must be downloaded).
	Credentials *Credentials
	// Progress, when not nil, receives what is happening: the download's start, progress (a line
	// rewritten in place on a terminal, else a line per 10%) and end, and the unpacking.
	Progress io.Writer
}

// apiBase returns the API base address to use, without a trailing slash.
func (o Options) apiBase() string {
	api := o.API
	if api == "" {
		api = os.Getenv(APIEnv)
	}
	if api == "" {
		api = DefaultAPI
	}
	return strings.TrimRight(api, "/")
}

// DownloadURL returns the address of the dataset's zip in the API at base (DefaultAPI when empty).
func DownloadURL(base string, d Dataset) string {
	if base == "" {
		base = DefaultAPI
	}
	return strings.TrimRight(base, "/") + "/datasets/download/" + url.PathEscape(d.Owner) + "/" + url.PathEscape(d.Name)
}

// Result says what Get did and where the data is.
type Result struct {
	Dataset Dataset
	// Dir is the folder the dataset's zip was unpacked into.
	Dir string
	// DataDir is the ImageFolder dataset to train on (the value of vegclf's --data): Found's first, or
	// empty when the dataset has no train/ folder of class folders.
	DataDir string
	// Found lists every ImageFolder dataset folder in Dir, the shallowest first.
	Found []DataFolder
	// Downloaded is false when the dataset was already in Dir and nothing was fetched.
	Downloaded bool
	// Record is what MarkerFile holds: the zip's size and SHA-256, the unpacked entries.
	Record Record
}

// Get makes dataset spec (kaggle:OWNER/DATASET) ready in dir: unless a finished earlier Get of the
// same dataset is recorded there, it downloads the dataset's zip to dir/.download (resuming what an
// interrupted run left), verifies it, unpacks it into dir and removes the zip; then it finds the
// ImageFolder dataset folders in dir. An interrupted or failed download leaves only its partial file in
// dir/.download, for the next run to resume; a failed unpacking leaves nothing. dir is created if needed.
func Get(ctx context.Context, spec, dir string, opts Options) (*Result, error) {
	d, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	g := &getter{ds: d, dir: dir, opts: opts, log: newReporter(opts.Progress)}
	return g.get(ctx)
}

// getter is one Get call.
type getter struct {
	ds   Dataset
	dir  string
	opts Options
	log  *reporter
}

func (g *getter) get(ctx context.Context) (*Result, error) {
	res := &Result{Dataset: g.ds, Dir: g.dir}
	rec, inPlace, err := readRecord(g.dir, g.ds)
	if err != nil {
		return nil, err
	}
	if inPlace {
		g.log.printf("%s is already in %s (unpacked %s, %d files from a %s zip): nothing to download\n",
			g.ds, g.dir, rec.Unpacked.Local().Format(time.DateTime), rec.Files, formatBytes(rec.ZipBytes))
		res.Record = rec
		return res, res.find()
	}
	if g.opts.Credentials == nil {
		creds, err := FindCredentials()
		if err != nil {
			return nil, err
		}
		g.opts.Credentials = &creds
	}
	created := outermostMissing(g.dir)
	if err := os.MkdirAll(g.dir, 0o755); err != nil {
		return nil, fmt.Errorf("getting %s: %w", g.ds, err)
	}
	removeStaleUnpacks(g.dir)
	rec, err = g.fetchAndUnpack(ctx)
	if err != nil {
		// Only folders left empty go: a partial download stays for the next run.
		os.Remove(filepath.Join(g.dir, DownloadFolder))
		removeEmpty(g.dir, created)
		return nil, err
	}
	res.Record, res.Downloaded = rec, true
	return res, res.find()
}

// outermostMissing returns the outermost folder of path's that does not exist (path itself, or one
// of its parents), or "" when path exists.
func outermostMissing(path string) string {
	missing := ""
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			return missing
		}
		missing = p
		if filepath.Dir(p) == p {
			return missing
		}
	}
}

// removeEmpty removes dir, then its parents up to top, as long as they are empty; nothing when top is "".
func removeEmpty(dir, top string) {
	for p := filepath.Clean(dir); top != ""; p = filepath.Dir(p) {
		if os.Remove(p) != nil || p == top {
			return
		}
	}
}

// find fills in the dataset folders found in the result's Dir.
func (r *Result) find() error {
	found, err := FindData(r.Dir)
	if err != nil {
		return err
	}
	r.Found = found
	if len(found) > 0 {
		r.DataDir = found[0].Dir
	}
	return nil
}

// fetchAndUnpack downloads and unpacks the dataset and records it. A download that does not verify is
// removed; when it was pieced together from several responses (or runs), it is downloaded again from the
// start, once.
func (g *getter) fetchAndUnpack(ctx context.Context) (Record, error) {
	dl := g.newDownload()
	for again := false; ; again = true {
		f, err := dl.run(ctx)
		var rec Record
		if err == nil {
			rec, err = g.unpack(ctx, f)
		}
		if err == nil {
			rec.Source = redactString(dl.url)
			if err := writeRecord(g.dir, rec); err != nil {
				return Record{}, err
			}
			dl.discard()
			return rec, nil
		}
		var damaged *damagedError
		if !errors.As(err, &damaged) {
			var unsafe *unsafeEntryError
			if errors.As(err, &unsafe) {
				dl.discard() // It never will unpack.
			}
			return Record{}, err
		}
		dl.discard()
		if dl.fresh || again {
			return Record{}, fmt.Errorf("%w; it was removed: run again to download it again", err)
		}
		g.log.printf("%s: the download, pieced together, does not verify (%v): downloading it again from the start\n", g.ds, damaged.err)
		dl.fresh = true
	}
}
