package kaggle

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	// DownloadFolder, inside Get's folder, holds the download until it is unpacked: the partial file
	// (NAME.zip.part), what the server said about it (NAME.zip.part.json), then the verified NAME.zip.
	DownloadFolder = ".download"
	// maxAttempts bounds the requests of one download: each attempt after the first continues from
	// where the previous one was cut (it must have brought bytes) or starts over when the server's
	// file changed.
	maxAttempts = 10
	// stallTimeout cuts a connection that brings no byte for this long (the next attempt resumes).
	stallTimeout = 2 * time.Minute
)

// download is the download of one dataset's zip into dir/.download.
type download struct {
	g                 *getter
	client            *http.Client
	url               string
	folder            string
	part, meta, final string
	// fresh is false once the file holds bytes from more than one response (or from an earlier run).
	fresh bool
}

// partMeta is what the server said about the file when its download began, kept next to the
// partial file so that a later run resumes the same file.
type partMeta struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	Total        int64  `json:"total,omitempty"` // 0: not announced.
	MD5          string `json:"md5,omitempty"`   // Base64, from x-goog-hash or Content-MD5.
}

// fetched is a downloaded, verified zip.
type fetched struct {
	path   string
	size   int64
	sha256 string
}

func (g *getter) newDownload() *download {
	folder := filepath.Join(g.dir, DownloadFolder)
	base := filepath.Join(folder, g.ds.Name+".zip")
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = stallTimeout
	return &download{
		g:      g,
		url:    DownloadURL(g.opts.apiBase(), g.ds),
		folder: folder,
		part:   base + ".part",
		meta:   base + ".part.json",
		final:  base,
		fresh:  true,
		client: &http.Client{Transport: transport, CheckRedirect: dropAuthOffHost},
	}
}

// dropAuthOffHost keeps the API token from any other host than the API's: Go's client already drops
// it on a redirect to another domain; this drops it on one to another port or scheme too.
func dropAuthOffHost(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
		req.Header.Del("Authorization")
	}
	return nil
}

// run downloads the zip, resuming what is there, verifies its length and MD5 (when the server gives
// them) and returns it. A zip already verified by an earlier run is returned as it is.
func (dl *download) run(ctx context.Context) (fetched, error) {
	if _, err := os.Stat(dl.final); err == nil {
		dl.fresh = false
		dl.g.log.printf("%s: using the zip downloaded before, %s\n", dl.g.ds, dl.final)
		return dl.hash(dl.final, "")
	}
	if err := os.MkdirAll(dl.folder, 0o755); err != nil {
		return fetched{}, fmt.Errorf("downloading %s: %w", dl.g.ds, err)
	}
	began := time.Now()
	var got int64
	for attempt := 1; ; attempt++ {
		n, err := dl.fetch(ctx)
		got += n
		if err == nil {
			break
		}
		var t *transientError
		if !errors.As(err, &t) {
			return fetched{}, dl.kept(err)
		}
		if ctx.Err() != nil || (n == 0 && !t.restart) || attempt == maxAttempts {
			return fetched{}, dl.kept(fmt.Errorf("downloading %s: %w", dl.g.ds, err))
		}
		if !t.restart {
			dl.g.log.printf("%s: the download was cut (%v): resuming\n", dl.g.ds, t)
		}
	}
	if got > 0 {
		secs := time.Since(began).Seconds()
		dl.g.log.printf("%s: downloaded %s in %s (%s/s)\n", dl.g.ds, formatBytes(got), formatDuration(time.Since(began)), formatBytes(int64(float64(got)/max(secs, 1e-3))))
	}
	meta := dl.readMeta()
	info, err := os.Stat(dl.part)
	if err != nil {
		return fetched{}, fmt.Errorf("downloading %s: %w", dl.g.ds, err)
	}
	if meta.Total > 0 && info.Size() != meta.Total {
		return fetched{}, &damagedError{path: dl.part, err: fmt.Errorf("it has %d bytes, the server announced %d", info.Size(), meta.Total)}
	}
	f, err := dl.hash(dl.part, meta.MD5)
	if err != nil {
		return fetched{}, err
	}
	if err := os.Rename(dl.part, dl.final); err != nil {
		return fetched{}, fmt.Errorf("downloading %s: %w", dl.g.ds, err)
	}
	os.Remove(dl.meta)
	f.path = dl.final
	return f, nil
}

// kept adds to a download's error what was kept of the file, for the next run to resume.
func (dl *download) kept(err error) error {
	info, statErr := os.Stat(dl.part)
	if statErr != nil || info.Size() == 0 {
		return err
	}
	of := ""
	if total := dl.readMeta().Total; total > 0 {
		of = " of " + formatBytes(total)
	}
	return fmt.Errorf("%w (%s%s downloaded are kept in %s: run again to resume)", err, formatBytes(info.Size()), of, dl.folder)
}

// hash returns the file's SHA-256, checking its MD5 against wantMD5 (base64) when not empty.
func (dl *download) hash(path, wantMD5 string) (fetched, error) {
	file, err := os.Open(path)
	if err != nil {
		return fetched{}, fmt.Errorf("verifying %s: %w", path, err)
	}
	defer file.Close()
	sha, sum5 := sha256.New(), md5.New()
	hashes := []io.Writer{sha}
	if wantMD5 != "" {
		hashes = append(hashes, sum5)
	}
	n, err := io.Copy(io.MultiWriter(hashes...), file)
	if err != nil {
		return fetched{}, fmt.Errorf("verifying %s: %w", path, err)
	}
	if wantMD5 != "" {
		if got := base64.StdEncoding.EncodeToString(sum5.Sum(nil)); got != wantMD5 {
			return fetched{}, &damagedError{path: path, err: fmt.Errorf("its MD5 is %s, the storage server gave %s", got, wantMD5)}
		}
	}
	return fetched{path: path, size: n, sha256: hex.EncodeToString(sha.Sum(nil))}, nil
}

// transientError is a failed attempt the next one may mend: a body cut midway, or a file to start
// over (restart). Its message does not name the dataset.
type transientError struct {
	err     error
	restart bool
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// errStalled cuts a connection that brings nothing for stallTimeout.
var errStalled = fmt.Errorf("no data for %s", stallTimeout)

// fetch makes one request, continuing the partial file where it ends, and returns how many bytes it
// wrote.
func (dl *download) fetch(ctx context.Context) (int64, error) {
	var offset int64
	if info, err := os.Stat(dl.part); err == nil {
		offset = info.Size()
	}
	meta := dl.readMeta()
	if offset > 0 && meta.Total > 0 && offset >= meta.Total {
		if offset == meta.Total {
			dl.fresh = false // Complete: an earlier run was stopped before verifying it.
			dl.g.log.printf("%s: the download in %s is complete (%s)\n", dl.g.ds, dl.folder, formatBytes(offset))
			return 0, nil
		}
		return 0, dl.startOver("the partial file is longer than the server's")
	}
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, dl.url, nil)
	if err != nil {
		return 0, fmt.Errorf("downloading %s: %w", dl.g.ds, err)
	}
	creds := dl.g.opts.Credentials
	req.SetBasicAuth(creds.Username, creds.Key)
	req.Header.Set("User-Agent", "vegclf")
	// The file's own bytes, never compressed on the way: ranges count them, and Go's transport would
	// otherwise ask for gzip on a first request (not on a range request) and undo it unseen.
	req.Header.Set("Accept-Encoding", "identity")
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		if v := meta.validator(); v != "" {
			req.Header.Set("If-Range", v)
		}
	}
	resp, err := dl.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s %s: %w", ue.Op, redactString(ue.URL), ue.Err)
		}
		return 0, fmt.Errorf("downloading %s: %w", dl.g.ds, err)
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	switch resp.StatusCode {
	case http.StatusOK:
		if offset > 0 {
			dl.g.log.printf("%s: the server sent the whole file, not the rest: starting over\n", dl.g.ds)
		}
		offset, flags = 0, flags|os.O_TRUNC
		meta = partMeta{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), MD5: md5Header(resp.Header)}
		if resp.ContentLength > 0 {
			meta.Total = resp.ContentLength
		}
		if err := dl.writeMeta(meta); err != nil {
			return 0, err
		}
		dl.fresh = true
		dl.g.log.printf("downloading %s (%s) from %s into %s\n", dl.g.ds, sizeOrUnknown(meta.Total), redactString(dl.url), dl.folder)
	case http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		switch {
		case !ok || start != offset:
			return 0, dl.startOver(fmt.Sprintf("the server answered range %q to %q", resp.Header.Get("Content-Range"), req.Header.Get("Range")))
		case meta.Total > 0 && total > 0 && total != meta.Total:
			return 0, dl.startOver(fmt.Sprintf("the file on the server has changed (%d bytes, were %d)", total, meta.Total))
		case meta.ETag != "" && resp.Header.Get("ETag") != "" && resp.Header.Get("ETag") != meta.ETag:
			return 0, dl.startOver("the file on the server has changed (its ETag)")
		}
		if meta.Total == 0 && total > 0 {
			meta.Total = total
			if err := dl.writeMeta(meta); err != nil {
				return 0, err
			}
		}
		dl.fresh = false
		dl.g.log.printf("resuming %s at %s of %s from %s\n", dl.g.ds, formatBytes(offset), sizeOrUnknown(meta.Total), redactString(dl.url))
	case http.StatusRequestedRangeNotSatisfiable:
		if _, total, _ := parseContentRange(resp.Header.Get("Content-Range")); total == offset {
			dl.fresh = false // The partial file was complete.
			dl.g.log.printf("%s: the download in %s is complete (%s)\n", dl.g.ds, dl.folder, formatBytes(offset))
			return 0, nil
		}
		return 0, dl.startOver("the server has no bytes past the partial file's end")
	default:
		return 0, dl.statusError(resp)
	}

	file, err := os.OpenFile(dl.part, flags, 0o666)
	if err != nil {
		return 0, fmt.Errorf("downloading %s: %w", dl.g.ds, err)
	}
	if _, err := file.Seek(offset, io.SeekStart); err != nil {
		file.Close()
		return 0, fmt.Errorf("downloading %s: %w", dl.g.ds, err)
	}
	meter := dl.g.log.meter(offset, meta.Total)
	timer := time.AfterFunc(stallTimeout, func() { cancel(errStalled) })
	n, err := io.Copy(io.MultiWriter(file, meter), &stallGuard{ctx: ctx, r: resp.Body, timer: timer})
	timer.Stop()
	meter.finish()
	if cerr := file.Close(); err == nil && cerr != nil {
		return n, fmt.Errorf("downloading %s: %w", dl.g.ds, cerr)
	}
	if err == nil && resp.ContentLength >= 0 && n < resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		if context.Cause(reqCtx) == errStalled {
			err = errStalled
		}
		if ctx.Err() != nil {
			return n, fmt.Errorf("downloading %s: interrupted: %w", dl.g.ds, ctx.Err())
		}
		return n, &transientError{err: fmt.Errorf("%w at %s, from %s", err, formatBytes(offset+n), redact(resp.Request.URL))}
	}
	return n, nil
}

// startOver removes the partial file, for the next attempt to download it all.
func (dl *download) startOver(why string) error {
	dl.g.log.printf("%s: %s: starting over\n", dl.g.ds, why)
	if err := os.Remove(dl.part); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("downloading %s: %w", dl.g.ds, err)
	}
	os.Remove(dl.meta)
	return &transientError{err: errors.New(why), restart: true}
}

// discard removes the download: the partial file, what the server said of it and the zip.
func (dl *download) discard() {
	os.Remove(dl.part)
	os.Remove(dl.meta)
	os.Remove(dl.final)
	os.Remove(dl.folder) // Only when empty.
}

func (dl *download) readMeta() partMeta {
	var m partMeta
	if content, err := os.ReadFile(dl.meta); err == nil {
		_ = json.Unmarshal(content, &m) // A damaged one is as none: the download starts over.
	}
	return m
}

func (dl *download) writeMeta(m partMeta) error {
	content, _ := json.Marshal(m)
	if err := writeFile(dl.meta, content); err != nil {
		return fmt.Errorf("downloading %s: %w", dl.g.ds, err)
	}
	return nil
}

// validator returns the If-Range value that keeps a resumed download on the same file: the strong
// ETag, else the Last-Modified date.
func (m partMeta) validator() string {
	if m.ETag != "" && !strings.HasPrefix(m.ETag, "W/") {
		return m.ETag
	}
	return m.LastModified
}

// statusError explains an HTTP status other than the file, saying what to check.
func (dl *download) statusError(resp *http.Response) error {
	msg := ""
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var apiErr struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &apiErr) == nil && apiErr.Message != "" {
		msg = ": " + apiErr.Message
	} else if line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n"); line != "" && len(line) <= 200 && !bytes.ContainsAny(body[:min(len(body), 64)], "<") {
		msg = ": " + line
	}
	ds, creds := dl.g.ds, dl.g.opts.Credentials
	from := redact(resp.Request.URL)
	api, _ := url.Parse(dl.url)
	if api == nil || resp.Request.URL.Host != api.Host {
		// The storage server the API sent us to: its signed address may have expired.
		return fmt.Errorf("downloading %s: the storage server %s answered %s%s: run again (a new run gets a new address)", ds, from, resp.Status, msg)
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("downloading %s: Kaggle refused the API token of user %q from %s (%s from %s%s): check the user name and key there, or create a new token at https://www.kaggle.com/settings (API, Create New Token)",
			ds, creds.Username, creds.Source, resp.Status, from, msg)
	case http.StatusForbidden:
		return fmt.Errorf("downloading %s: Kaggle refused user %q (%s from %s%s): if the dataset has rules to accept, accept them on %s; else check that this account can see it",
			ds, creds.Username, resp.Status, from, msg, ds.Page())
	case http.StatusNotFound:
		return fmt.Errorf("downloading %s: Kaggle has no such dataset (%s from %s%s): check the owner and the dataset's name against its page, %s (and, for a private dataset, that user %q can see it)",
			ds, resp.Status, from, msg, ds.Page(), creds.Username)
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return fmt.Errorf("downloading %s: Kaggle answered %s (from %s%s): try again later", ds, resp.Status, from, msg)
	}
	return fmt.Errorf("downloading %s: Kaggle answered %s (from %s%s)", ds, resp.Status, from, msg)
}

// md5Header returns the file's MD5 (base64) from Google Cloud Storage's x-goog-hash or Content-MD5.
func md5Header(h http.Header) string {
	for _, v := range h.Values("X-Goog-Hash") {
		for _, part := range strings.Split(v, ",") {
			if sum, ok := strings.CutPrefix(strings.TrimSpace(part), "md5="); ok {
				return sum
			}
		}
	}
	return h.Get("Content-MD5")
}

// parseContentRange parses "bytes START-END/TOTAL" or "bytes */TOTAL"; total is -1 when "*".
func parseContentRange(v string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, size, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	total = -1
	if size != "*" {
		var err error
		if total, err = strconv.ParseInt(size, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	if rng == "*" {
		return 0, total, true
	}
	first, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	return start, total, err == nil
}

// redact returns an address without its query: a signed storage address's signature stays out of
// messages.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.RawQuery, c.Fragment, c.User = "", "", nil
	return c.String()
}

func redactString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return redact(u)
}

// stallGuard pushes the stall timer back at each byte read, and stops reading once ctx is done (the
// body may have more buffered).
type stallGuard struct {
	ctx   context.Context
	r     io.Reader
	timer *time.Timer
}

func (s *stallGuard) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(stallTimeout)
	}
	return n, err
}

// damagedError is a downloaded file that does not verify.
type damagedError struct {
	path string
	err  error
}

func (e *damagedError) Error() string {
	return fmt.Sprintf("the download %s is damaged: %v", e.path, e.err)
}
func (e *damagedError) Unwrap() error { return e.err }

// writeFile writes a small file atomically (a temporary name renamed into place), with the
// permissions of any file the user makes (0666 less the umask).
func writeFile(path string, content []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
