// The load-test client the load tests below drive a real server with: test code only, so that the
// server package offers no client.

package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// testImage is an image to send: its name and encoded content.
type testImage struct {
	Name    string
	Content []byte
}

// loadResult is what a load test measured.
type loadResult struct {
	Clients         int
	Requests        int // Sent.
	Failed          int // Not answered 200, or refused by the check.
	FirstError      error
	Elapsed         time.Duration
	ImagesPerSecond float64
	P50MS, P99MS    float64 // Latency percentiles of the requests answered.
}

// loadTest sends requests POST /predict requests from clients concurrent clients to the server at baseURL,
// one image each, the uploads in turn, and checks each answer with check (given the image's index; nil
// checks nothing). It is bounded in count and time: it stops after requests requests or maxTime, whichever
// comes first. Only servers on this machine are targets: baseURL's host must be a loopback address.
func loadTest(ctx context.Context, baseURL string, uploads []testImage, clients, requests int, maxTime time.Duration,
	check func(image int, p Prediction) error) (loadResult, error) {
	res := loadResult{Clients: clients}
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme != "http" {
		return res, fmt.Errorf("load test: %q is not an http:// address", baseURL)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return res, fmt.Errorf("load test: %s is not a loopback address: load tests target a server on this machine only", u.Hostname())
	}
	if len(uploads) == 0 || clients < 1 || requests < 1 {
		return res, fmt.Errorf("load test: need images, clients and requests")
	}
	ctx, cancel := context.WithTimeout(ctx, maxTime)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range requests {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var mu sync.Mutex
	var latencies []float64
	fail := func(err error) {
		mu.Lock()
		res.Failed++
		if res.FirstError == nil {
			res.FirstError = err
		}
		mu.Unlock()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := range next {
				k := i % len(uploads)
				sent := time.Now()
				p, err := predictOne(ctx, client, baseURL, uploads[k])
				took := time.Since(sent)
				mu.Lock()
				res.Requests++
				mu.Unlock()
				if err == nil && check != nil {
					err = check(k, p)
				}
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				latencies = append(latencies, float64(took.Microseconds())/1000)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.ImagesPerSecond = float64(len(latencies)) / res.Elapsed.Seconds()
	if len(latencies) > 0 {
		slices.Sort(latencies)
		res.P50MS = latencies[len(latencies)/2]
		res.P99MS = latencies[min(len(latencies)-1, len(latencies)*99/100)]
	}
	return res, nil
}

// predictOne sends one image and returns its prediction.
func predictOne(ctx context.Context, client *http.Client, baseURL string, up testImage) (Prediction, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/predict?name="+url.QueryEscape(up.Name), bytes.NewReader(up.Content))
	if err != nil {
		return Prediction{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		return Prediction{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Prediction{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Prediction{}, fmt.Errorf("%s: %s: %s", up.Name, resp.Status, bytes.TrimSpace(body))
	}
	var r Response
	if err := json.Unmarshal(body, &r); err != nil || len(r.Predictions) != 1 {
		return Prediction{}, fmt.Errorf("%s: unexpected answer %s", up.Name, body)
	}
	return r.Predictions[0], nil
}
