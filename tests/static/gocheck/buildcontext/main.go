// Command buildcontext lists the files a Docker build would send from a context
// directory, applying its .dockerignore with moby/patternmatcher, the matcher
// that docker and BuildKit use. One slash-separated relative path per line.
//
// Usage: go run ./buildcontext CONTEXT_DIR
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: buildcontext CONTEXT_DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "buildcontext: %v\n", err)
		os.Exit(1)
	}
}

func run(root string) error {
	matcher, err := readDockerignore(root)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	return filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entry.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		excluded, err := matcher.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if !excluded {
			_, err = fmt.Fprintln(out, rel)
		}
		return err
	})
}

func readDockerignore(root string) (*patternmatcher.PatternMatcher, error) {
	file, err := os.Open(filepath.Join(root, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return patternmatcher.New(nil)
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	patterns, err := ignorefile.ReadAll(file)
	if err != nil {
		return nil, err
	}
	return patternmatcher.New(patterns)
}
