// Command composecheck loads compose files the way `docker compose config` does:
// with compose-go, the Compose Specification's reference implementation that the
// docker compose CLI is built on. It validates against the compose-spec JSON
// schema, interpolates variables, resolves paths and checks consistency
// (undefined networks, volumes, secrets, depends_on targets, ...), then prints the
// resolved project as JSON for the consistency tests to read.
//
// Usage: go run . [-env KEY=VALUE]... COMPOSE_FILE [OVERRIDE_FILE]...
// Relative paths in the files resolve against the first file's directory.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type envFlags []string

func (e *envFlags) String() string { return strings.Join(*e, ",") }

func (e *envFlags) Set(value string) error {
	if !strings.Contains(value, "=") {
		return fmt.Errorf("want KEY=VALUE, got %q", value)
	}
	*e = append(*e, value)
	return nil
}

func main() {
	var env envFlags
	flag.Var(&env, "env", "set an interpolation variable (repeatable), instead of the process environment")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: composecheck [-env KEY=VALUE]... COMPOSE_FILE [OVERRIDE_FILE]...")
		os.Exit(2)
	}
	if err := run(flag.Args(), env); err != nil {
		fmt.Fprintf(os.Stderr, "compose file is invalid: %v\n", err)
		os.Exit(1)
	}
}

func run(files []string, env []string) error {
	workingDir, err := filepath.Abs(filepath.Dir(files[0]))
	if err != nil {
		return err
	}
	options, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(workingDir),
		cli.WithEnv(env),
		cli.WithDotEnv,
		// COMPOSE_PROFILES (from -env) activates profiles, as it does for docker compose.
		cli.WithDefaultProfiles(),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		return err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return err
	}
	out, err := project.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(out))
	return err
}
