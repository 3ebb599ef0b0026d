package recipe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"gopkg.in/yaml.v3"
)

// ReadFile reads settings from a YAML or JSON file with config.json's keys (a run's config.json is
// one) over base: keys the file leaves out keep base's values. An unknown key is an error naming it and
// the nearest known one; so is a value of the wrong type.
func ReadFile(path string, base Config) (Config, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return base, fmt.Errorf("reading config: %w", err)
	}
	var settings map[string]any
	if err := yaml.Unmarshal(content, &settings); err != nil {
		return base, fmt.Errorf("reading config %s: %w", path, err)
	}
	known := Keys()
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if !slices.Contains(known, k) {
			return base, fmt.Errorf("reading config %s: unknown setting %q (did you mean %q?)", path, k, nearest(k, known))
		}
	}
	// Through JSON, so that values take Config's types and its JSON names, as config.json does.
	asJSON, err := json.Marshal(settings)
	if err != nil {
		return base, fmt.Errorf("reading config %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(asJSON))
	dec.DisallowUnknownFields()
	cfg := base
	if err := dec.Decode(&cfg); err != nil {
		return base, fmt.Errorf("reading config %s: %w", path, err)
	}
	return cfg, nil
}

// nearest returns the candidate closest to s in edit distance.
func nearest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		if d := EditDistance(s, c); bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b, in bytes (setting keys, flag and command
// names are ASCII): what suggests the nearest name for a mistyped one.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Settings returns the configuration as config.json holds it: its keys and their JSON values.
func (c Config) Settings() (map[string]any, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// AllSettings returns every setting of c by its config.json key with its JSON value: Settings, and those
// config.json leaves out at their zero value ("omitempty") too, so that a table of runs shows 0 or "none".
func (c Config) AllSettings() (map[string]any, error) {
	m := make(map[string]any, len(settings))
	for _, s := range settings {
		raw, err := json.Marshal(s.value(&c))
		if err != nil {
			return nil, fmt.Errorf("setting %s: %w", s.key, err)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("setting %s: %w", s.key, err)
		}
		m[s.key] = v
	}
	return m, nil
}
