package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/shlex"
)

// CheckCommand verifies that a content-creator command line (the
// CREATOR_CLI_PATH form: shell words, no shell) names a program that can be
// run: it exists, is a regular file and is executable. The program is
// resolved the way the runner resolves it: a word with a slash is a path
// (relative to the working directory), anything else is looked up on PATH.
// It only stats, so it is cheap enough to repeat for /readyz. A failure is
// a *ConfigError naming CREATOR_CLI_PATH and the fix.
func CheckCommand(commandLine string) error { return checkCommandIn("", commandLine) }

// checkCommandIn is CheckCommand for a child that runs in dir
// (CREATOR_WORKDIR): a relative path is relative to it.
func checkCommandIn(dir, commandLine string) error {
	words, err := shlex.Split(commandLine)
	if err != nil {
		return &ConfigError{Variable: "CREATOR_CLI_PATH", Problem: fmt.Sprintf("cannot split %q into words: %v", commandLine, err)}
	}
	if len(words) == 0 {
		return &ConfigError{Variable: "CREATOR_CLI_PATH", Problem: "is empty; set it to the content-creator command, or unset it to use the bundled simulator"}
	}
	program := words[0]
	fix := "set CREATOR_CLI_PATH to the content-creator program (an executable file, or a name on PATH)"
	path := program
	if dir != "" && strings.Contains(program, "/") && !filepath.IsAbs(program) {
		path = filepath.Join(dir, program)
	}
	if !strings.Contains(program, "/") {
		found, err := exec.LookPath(program)
		if err != nil {
			return &ConfigError{Variable: "CREATOR_CLI_PATH", Problem: fmt.Sprintf("%q is not on PATH; %s", program, fix)}
		}
		path = found
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &ConfigError{Variable: "CREATOR_CLI_PATH", Problem: fmt.Sprintf("%s does not exist; %s", path, fix)}
	case err != nil:
		return &ConfigError{Variable: "CREATOR_CLI_PATH", Problem: fmt.Sprintf("cannot read %s: %v; %s", path, err, fix)}
	case !info.Mode().IsRegular():
		return &ConfigError{Variable: "CREATOR_CLI_PATH", Problem: fmt.Sprintf("%s is not a regular file; %s", path, fix)}
	case info.Mode().Perm()&0o111 == 0:
		return &ConfigError{Variable: "CREATOR_CLI_PATH", Problem: fmt.Sprintf("%s is not executable (chmod +x it); %s", path, fix)}
	}
	return nil
}

// creatorCommandLine is the command the runner uses: CREATOR_CLI_PATH, or
// the bundled simulator when it is unset.
func creatorCommandLine(cfg Config) (string, error) {
	if cfg.CreatorCLIPath != "" {
		return cfg.CreatorCLIPath, nil
	}
	sim, err := findSimulator()
	if err != nil {
		return "", &ConfigError{Variable: "CREATOR_CLI_PATH", Problem: err.Error()}
	}
	// CREATOR_CLI_PATH is split into words like a shell would: quote the path.
	return "'" + strings.ReplaceAll(sim, "'", `'\''`) + "'", nil
}

// creatorCommandChecks makes /readyz report a content-creator program that
// stopped being runnable after start (deleted, replaced, chmod -x). The api
// profile runs no program: it has none.
func creatorCommandChecks(cfg Config) ([]ReadinessCheck, error) {
	if cfg.CreatorProfile == ProfileAPI {
		return nil, nil
	}
	command, err := creatorCommandLine(cfg)
	if err != nil {
		return nil, err
	}
	return []ReadinessCheck{{
		Name:  "content-creator command (CREATOR_CLI_PATH)",
		Check: func(context.Context) error { return checkCommandIn(cfg.CreatorWorkdir, command) },
	}}, nil
}
