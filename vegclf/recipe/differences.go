package recipe

import (
	"encoding/json"
	"reflect"
	"strings"
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
	sv, gv := reflect.ValueOf(saved), reflect.ValueOf(given)
	for i := range sv.NumField() {
		if reflect.DeepEqual(sv.Field(i).Interface(), gv.Field(i).Interface()) {
			continue
		}
		key, _, _ := strings.Cut(sv.Type().Field(i).Tag.Get("json"), ",")
		s, _ := json.Marshal(sv.Field(i).Interface())
		g, _ := json.Marshal(gv.Field(i).Interface())
		diffs = append(diffs, Difference{Key: key, Saved: string(s), Given: string(g)})
	}
	return diffs
}
