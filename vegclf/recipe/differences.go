package recipe

import (
	"encoding/json"
	"reflect"
)

// Difference is a setting in which a configuration differs from a run's saved one.
type Difference struct {
	Key          string // The setting's name in config.json ("data", "image_size").
	Saved, Given string // Its values, as JSON.
	Why          string // Why it cannot change, where more can be said than that it changes the run.
}

// Differences lists, by config.json key and in field order, the settings in which given differs
// from saved.
func Differences(saved, given Config) []Difference {
	var diffs []Difference
	for _, s := range settings {
		sv, gv := s.value(&saved), s.value(&given)
		if reflect.DeepEqual(sv, gv) {
			continue
		}
		sj, _ := json.Marshal(sv)
		gj, _ := json.Marshal(gv)
		diffs = append(diffs, Difference{Key: s.key, Saved: string(sj), Given: string(gj)})
	}
	return diffs
}
