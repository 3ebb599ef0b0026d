package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

func runWeights(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("weights", "list | download NAME...", stderr)
	cacheFlag := fs.String("cache", "", "weights cache folder (default $VEGCLF_CACHE, $XDG_CACHE_HOME/vegclf or ~/.cache/vegclf)")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usagef("want a subcommand: list or download NAME...")
	}
	cache := *cacheFlag
	if cache == "" {
		if cache, err = weights.CacheDir(); err != nil {
			return err
		}
	}
	switch rest[0] {
	case "list":
		fmt.Fprintf(stdout, "%-22s %-10s %-6s %-7s %s\n", "NAME", "ARCH", "TOP-1", "CACHED", "ABOUT")
		for _, k := range zoo.AllWeights() {
			cached := "no"
			if _, err := os.Stat(filepath.Join(cache, k.File)); err == nil {
				cached = "yes"
			}
			fmt.Fprintf(stdout, "%-22s %-10s %-6.2f %-7s %s\n", k.Name, k.Arch, k.Top1, cached, k.About)
		}
		fmt.Fprintf(stdout, "\ncache: %s\n", cache)
		return nil
	case "download":
		if len(rest) < 2 {
			return usagef("download needs at least one NAME (see 'vegclf weights list')")
		}
		var known []weights.Known
		for _, name := range rest[1:] { // Every name is checked before any download starts.
			k, err := zoo.LookupWeights(name, "")
			if err != nil {
				var names []string
				for _, k := range zoo.AllWeights() {
					names = append(names, append([]string{k.Name}, k.Aliases...)...)
				}
				return usagef("unknown weights %q%s: 'vegclf weights list' names them", name, didYouMean(name, names, ""))
			}
			known = append(known, k)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		for _, k := range known {
			fmt.Fprintf(stderr, "downloading %s from %s\n", k.Name, k.URL)
			path, err := weights.Download(ctx, http.DefaultClient, k, cache, stderr)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, path)
		}
		return nil
	}
	return usagef("unknown weights subcommand %q (want list or download)", rest[0])
}
