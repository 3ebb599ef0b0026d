// Package kaggletest runs a local stand-in for Kaggle's dataset download API, for tests: an API server
// that checks the basic-auth token and answers 302 to a second server, the storage, which serves the
// zip with range requests (and can cut its answers midway) and refuses any Authorization header.
package kaggletest

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is the API and the storage. Its settings may change between requests.
type Server struct {
	API, Storage *httptest.Server
	// Username and Key are the token the API accepts.
	Username, Key string

	mu       sync.Mutex
	datasets map[string][]byte // "owner/name" -> zip
	cuts     int               // Storage answers still to cut midway.
	cutAt    float64
	noRange  bool // Storage ignores Range: always 200.
	badMD5   bool // Storage announces a wrong MD5.
	noLength bool // Storage sends no Content-Length (chunked).
	log      []Request
}

// Request is one request either server received.
type Request struct {
	Server         string // "api" or "storage".
	Path           string
	Range          string
	IfRange        string
	AcceptEncoding string
	Authorization  bool // An Authorization header came.
	Status         int
}

// New starts the servers, accepting the token (username, key); Close stops them.
func New(username, key string) *Server {
	s := &Server{Username: username, Key: key, datasets: map[string][]byte{}}
	s.Storage = httptest.NewServer(http.HandlerFunc(s.storage))
	s.API = httptest.NewServer(http.HandlerFunc(s.api))
	return s
}

// Close stops the servers.
func (s *Server) Close() {
	s.API.Close()
	s.Storage.Close()
}

// BaseURL is the API base address to give kaggle.Options.API (or $VEGCLF_KAGGLE_API).
func (s *Server) BaseURL() string { return s.API.URL + "/api/v1" }

// Add serves zip as dataset owner/name.
func (s *Server) Add(owner, name string, zip []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.datasets[owner+"/"+name] = zip
}

// Cut makes the storage's next n answers stop after the fraction at of their body, the connection
// closed.
func (s *Server) Cut(n int, at float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cuts, s.cutAt = n, at
}

// IgnoreRange makes the storage answer every request with the whole file (200), as a server without
// range support does.
func (s *Server) IgnoreRange(on bool) { s.set(func() { s.noRange = on }) }

// WrongMD5 makes the storage announce a wrong MD5 in x-goog-hash.
func (s *Server) WrongMD5(on bool) { s.set(func() { s.badMD5 = on }) }

// NoLength makes the storage send no Content-Length.
func (s *Server) NoLength(on bool) { s.set(func() { s.noLength = on }) }

func (s *Server) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

func (s *Server) record(server string, r *http.Request, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, Request{Server: server, Path: r.URL.Path, Range: r.Header.Get("Range"), IfRange: r.Header.Get("If-Range"), AcceptEncoding: r.Header.Get("Accept-Encoding"),
		Authorization: r.Header.Get("Authorization") != "", Status: status})
}

// api answers GET /api/v1/datasets/download/OWNER/NAME as Kaggle does.
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		s.record("api", r, status)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"code":%d,"message":%q}`, status, msg)
	}
	ref, ok := strings.CutPrefix(r.URL.Path, "/api/v1/datasets/download/")
	if !ok || r.Method != http.MethodGet {
		fail(http.StatusNotFound, "Not found")
		return
	}
	if user, key, ok := r.BasicAuth(); !ok || user != s.Username || key != s.Key {
		fail(http.StatusUnauthorized, "Unauthenticated")
		return
	}
	s.mu.Lock()
	_, found := s.datasets[ref]
	s.mu.Unlock()
	if !found {
		fail(http.StatusNotFound, "Not found")
		return
	}
	s.record("api", r, http.StatusFound)
	// A signed address, as Google Cloud Storage's.
	http.Redirect(w, r, fmt.Sprintf("%s/datasets/%s/archive.zip?X-Goog-Expires=3600&X-Goog-Signature=%d", s.Storage.URL, ref, time.Now().UnixNano()), http.StatusFound)
}

// storage serves the zips, honouring Range (bytes=N-) unless told not to.
func (s *Server) storage(w http.ResponseWriter, r *http.Request) {
	ref, ok := strings.CutPrefix(r.URL.Path, "/datasets/")
	ref, ok2 := strings.CutSuffix(ref, "/archive.zip")
	s.mu.Lock()
	content, found := s.datasets[ref]
	noRange, badMD5, noLength := s.noRange, s.badMD5, s.noLength
	cut := s.cuts > 0
	if cut {
		s.cuts--
	}
	cutAt := s.cutAt
	s.mu.Unlock()
	switch {
	case r.Header.Get("Authorization") != "":
		s.record("storage", r, http.StatusBadRequest)
		http.Error(w, "the storage got the API token", http.StatusBadRequest)
		return
	case !ok || !ok2 || !found || r.URL.Query().Get("X-Goog-Signature") == "":
		s.record("storage", r, http.StatusForbidden)
		http.Error(w, "<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>", http.StatusForbidden)
		return
	}
	sha := sha256.Sum256(content)
	etag := `"` + hex.EncodeToString(sha[:8]) + `"`
	sum := md5.Sum(content)
	if badMD5 {
		sum[0] ^= 1
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("X-Goog-Hash", "crc32c=AAAAAA==, md5="+base64.StdEncoding.EncodeToString(sum[:]))
	w.Header().Set("Content-Type", "application/zip")
	start := 0
	status := http.StatusOK
	if rng := r.Header.Get("Range"); rng != "" && !noRange && (r.Header.Get("If-Range") == "" || r.Header.Get("If-Range") == etag) {
		first, okRange := strings.CutPrefix(rng, "bytes=")
		first, okRange2 := strings.CutSuffix(first, "-")
		n, err := strconv.Atoi(first)
		if !okRange || !okRange2 || err != nil {
			s.record("storage", r, http.StatusBadRequest)
			http.Error(w, "only bytes=N- ranges here", http.StatusBadRequest)
			return
		}
		if n >= len(content) {
			s.record("storage", r, http.StatusRequestedRangeNotSatisfiable)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(content)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start, status = n, http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(content)-1, len(content)))
	}
	body := content[start:]
	if !noLength {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	s.record("storage", r, status)
	w.WriteHeader(status)
	if cut {
		w.Write(body[:int(float64(len(body))*cutAt)])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // Closes the connection midway.
	}
	w.Write(body)
}

// Entry is a zip entry to make: a file (Body), a folder (a Name ending in "/") or a symbolic link
// (Link, its target).
type Entry struct {
	Name, Body, Link string
}

// Zip returns a zip of the entries, in order. Names are written as given, even unsafe ones.
func Zip(entries ...Entry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: time.Date(2021, 5, 1, 12, 0, 0, 0, time.UTC)}
		body := e.Body
		switch {
		case e.Link != "":
			h.SetMode(fs.ModeSymlink | 0o777)
			h.Method, body = zip.Store, e.Link
		case strings.HasSuffix(e.Name, "/"):
			h.SetMode(fs.ModeDir | 0o755)
		default:
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			panic(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// ImageFolderZip returns a zip laid out as the Vegetable Image Dataset's: under top (e.g. "Vegetable
// Images"), train/, test/ and validation/ folders of one folder per class, each with perClass ".jpg"
// files (not real images: seeded random bytes, which do not compress), and a README.txt beside top.
func ImageFolderZip(top string, classes []string, perClass, fileBytes int) []byte {
	entries := []Entry{{Name: "README.txt", Body: "the dataset\n"}}
	seed := uint32(1)
	for _, split := range []string{"test", "train", "validation"} {
		for _, class := range classes {
			for i := range perClass {
				b := make([]byte, fileBytes)
				for j := range b {
					seed = seed*1664525 + 1013904223
					b[j] = byte(seed >> 24)
				}
				entries = append(entries, Entry{Name: fmt.Sprintf("%s/%s/%s/%04d.jpg", top, split, class, i+1), Body: string(b)})
			}
		}
	}
	return Zip(entries...)
}
