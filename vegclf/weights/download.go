package weights

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/vegclf/vegclf/vegclf/internal/atomicfile"
)

// Download fetches the registry entry k into dir (created if needed) and returns the file's path. The
// file is written to a temporary name, its SHA-256 is checked against the published digest (or
// torchvision's prefix), and only then is it renamed into place: an interrupted or corrupt download never
// leaves a file under the final name. A file already there is kept without downloading. progress, when
// not nil, receives a line per 10% downloaded.
func Download(ctx context.Context, client *http.Client, k Known, dir string, progress io.Writer) (string, error) {
	final := filepath.Join(dir, k.File)
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("downloading %s: %w", k.Name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.URL, nil)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", k.Name, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("downloading %s from %s: %w", k.Name, k.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("downloading %s from %s: HTTP %s", k.Name, k.URL, resp.Status)
	}
	tmp, err := atomicfile.CreateTemp(dir, "."+k.File+".part")
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", k.Name, err)
	}
	defer os.Remove(tmp.Name()) // Fails harmlessly once renamed.
	hash := sha256.New()
	var body io.Reader = resp.Body
	if progress != nil && resp.ContentLength > 0 {
		body = &progressReader{r: body, total: resp.ContentLength, out: progress, name: k.Name}
	}
	n, err := io.Copy(io.MultiWriter(tmp, hash), body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("downloading %s from %s: %w", k.Name, k.URL, err)
	}
	if resp.ContentLength > 0 && n != resp.ContentLength {
		return "", fmt.Errorf("downloading %s: got %d of %d bytes", k.Name, n, resp.ContentLength)
	}
	sum := hex.EncodeToString(hash.Sum(nil))
	if err := k.verify(sum); err != nil {
		return "", fmt.Errorf("downloading %s from %s: %w; the file was discarded", k.Name, k.URL, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("downloading %s: %w", k.Name, err)
	}
	if k.SHA256 == "" && k.SHA256Prefix == "" {
		// No published digest: record the one seen, so later changes of the file can be noticed.
		_ = os.WriteFile(final+".sha256", []byte(sum+"  "+k.File+"\n"), 0o666)
	}
	return final, nil
}

// verify checks a hex SHA-256 against the entry's published digest or prefix.
func (k Known) verify(sum string) error {
	switch {
	case k.SHA256 != "" && !strings.EqualFold(sum, k.SHA256):
		return fmt.Errorf("checksum mismatch: SHA-256 %s, want %s", sum, k.SHA256)
	case k.SHA256Prefix != "" && !strings.HasPrefix(sum, strings.ToLower(k.SHA256Prefix)):
		return fmt.Errorf("checksum mismatch: SHA-256 %s does not start with %s", sum, k.SHA256Prefix)
	}
	return nil
}

type progressReader struct {
	r           io.Reader
	total, done int64
	lastTenth   int64
	out         io.Writer
	name        string
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if tenth := p.done * 10 / p.total; tenth > p.lastTenth {
		p.lastTenth = tenth
		fmt.Fprintf(p.out, "%s: %d%% (%.1f of %.1f MB)\n", p.name, tenth*10, float64(p.done)/1e6, float64(p.total)/1e6)
	}
	return n, err
}
