package kaggle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Credentials are a Kaggle API token: the account's user name and its key.
type Credentials struct {
	Username, Key string
	// Source says where they were found, for messages: the environment variables or the file.
	Source string
}

// Environment variables and the token file, as Kaggle's client names them.
const (
	UsernameEnv  = "KAGGLE_USERNAME"
	KeyEnv       = "KAGGLE_KEY"
	ConfigDirEnv = "KAGGLE_CONFIG_DIR"
	TokenFile    = "kaggle.json"
)

// ErrNoCredentials is returned (wrapped) by FindCredentials when no token is set or saved.
var ErrNoCredentials = errors.New("no Kaggle API token")

// FindCredentials finds the user's Kaggle API token as Kaggle's client does: KAGGLE_USERNAME and
// KAGGLE_KEY when both are set, else kaggle.json in $KAGGLE_CONFIG_DIR, else in ~/.kaggle (or, where
// that folder does not exist, $XDG_CONFIG_HOME/kaggle). A token file that other users can read is
// refused, with the chmod that fixes it (Kaggle's client warns about it).
func FindCredentials() (Credentials, error) {
	user, key := os.Getenv(UsernameEnv), os.Getenv(KeyEnv)
	if user != "" && key != "" {
		return Credentials{Username: user, Key: key, Source: "$" + UsernameEnv + " and $" + KeyEnv}, nil
	}
	path, err := TokenPath()
	if err != nil {
		return Credentials{}, err
	}
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		half := ""
		switch {
		case user != "":
			half = fmt.Sprintf(" (%s is set, %s is not)", UsernameEnv, KeyEnv)
		case key != "":
			half = fmt.Sprintf(" (%s is set, %s is not)", KeyEnv, UsernameEnv)
		}
		return Credentials{}, fmt.Errorf("%w: set %s and %s%s, or save the token (https://www.kaggle.com/settings, API, Create New Token) as %s, then chmod 600 %s",
			ErrNoCredentials, UsernameEnv, KeyEnv, half, path, path)
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("reading the Kaggle API token: %w", err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o044 != 0 {
		return Credentials{}, fmt.Errorf("the Kaggle API token %s can be read by other users (mode %04o): run chmod 600 %s", path, info.Mode().Perm(), path)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("reading the Kaggle API token: %w", err)
	}
	var tok struct {
		Username string `json:"username"`
		Key      string `json:"key"`
	}
	if err := json.Unmarshal(content, &tok); err != nil {
		return Credentials{}, fmt.Errorf("reading the Kaggle API token %s: %w (want {\"username\":\"...\",\"key\":\"...\"})", path, err)
	}
	if tok.Username == "" || tok.Key == "" {
		return Credentials{}, fmt.Errorf("reading the Kaggle API token %s: want both \"username\" and \"key\"", path)
	}
	// The environment's half, when set, wins, as in Kaggle's client.
	if user != "" {
		tok.Username = user
	}
	if key != "" {
		tok.Key = key
	}
	return Credentials{Username: tok.Username, Key: tok.Key, Source: path}, nil
}

// TokenPath returns where FindCredentials looks for kaggle.json: in $KAGGLE_CONFIG_DIR, else in
// ~/.kaggle, else (where ~/.kaggle does not exist and $XDG_CONFIG_HOME/kaggle does) there.
func TokenPath() (string, error) {
	if dir := os.Getenv(ConfigDirEnv); dir != "" {
		return filepath.Join(dir, TokenFile), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the Kaggle API token: %w (set %s and %s, or %s)", err, UsernameEnv, KeyEnv, ConfigDirEnv)
	}
	dir := filepath.Join(home, ".kaggle")
	if _, err := os.Stat(dir); err != nil {
		xdg := os.Getenv("XDG_CONFIG_HOME")
		if xdg == "" {
			xdg = filepath.Join(home, ".config")
		}
		if info, err := os.Stat(filepath.Join(xdg, "kaggle")); err == nil && info.IsDir() {
			return filepath.Join(xdg, "kaggle", TokenFile), nil
		}
	}
	return filepath.Join(dir, TokenFile), nil
}
