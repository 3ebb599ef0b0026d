package recipe

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// FlagName returns the flag (RegisterFlags) of a setting given by its config.json key: "image-size" for
// "image_size", "normalize" for "normalization".
func FlagName(key string) string {
	if s, ok := lookup(key); ok {
		return s.flagName()
	}
	return strings.ReplaceAll(key, "_", "-")
}

// KeyOfFlag returns the config.json key of the setting a flag gives the value of ("normalization" for
// "normalize"); false for a flag that is no setting's, or that gives its opposite ("no-feature-cache").
func KeyOfFlag(name string) (string, bool) {
	for _, s := range settings {
		if s.flagName() == name && !s.negated {
			return s.key, true
		}
	}
	return "", false
}

// RegisterFlags defines on fs a flag for every setting (settings), bound to c's field and with c's value as
// its default. The CLI's train command and the notebooks (GoNB's "%% --lr=1e-3", or the environment through
// SetFromEnv) parse settings with them, so a bad value is an error naming the flag, whichever way it came.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	for _, s := range settings {
		s.register(fs, c)
	}
}

// negatedBool is a boolean flag that sets its setting to the opposite: --no-feature-cache.
type negatedBool struct{ v *bool }

func (b negatedBool) String() string {
	if b.v == nil {
		return "false"
	}
	return strconv.FormatBool(!*b.v)
}

func (b negatedBool) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*b.v = !on
	return nil
}

func (b negatedBool) IsBoolFlag() bool { return true }

// EnvName is the environment variable SetFromEnv reads for a flag: prefix and the flag's name in upper
// case with '_' for '-' (VEGCLF_FINETUNE_LR for "finetune-lr" with prefix "VEGCLF_").
func EnvName(prefix, flagName string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// SetFromEnv sets each of fs's flags that its command line left unset from the environment variable
// EnvName(prefix, flag) where there is one, through the flag's own parser: the environment sits between
// the defaults and the command line. A bad value is an error naming the variable.
func SetFromEnv(fs *flag.FlagSet, prefix string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := EnvName(prefix, f.Name)
		value, ok := os.LookupEnv(name)
		if !ok || given[f.Name] || err != nil {
			return
		}
		if setErr := fs.Set(f.Name, value); setErr != nil {
			err = fmt.Errorf("%s=%q: %w", name, value, setErr)
		}
	})
	return err
}

// Given returns whether a setting, by its config.json key, was given on fs (on its command line or
// through SetFromEnv), for FromScratch's keep.
func Given(fs *flag.FlagSet) func(key string) bool {
	return func(key string) bool {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == FlagName(key) })
		return given
	}
}
