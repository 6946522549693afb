package creatorexec

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// What went wrong with a CLI run; match with errors.Is. A *RunError wraps
// ErrTimeout, ErrNotStarted or ErrExit (or the caller's context error), and
// ports.ErrCreatorUnknownTask is wrapped around it when the CLI said it does not
// know the task.
var (
	ErrTimeout    = errors.New("timed out")
	ErrNotStarted = errors.New("the CLI could not be started")
	ErrExit       = errors.New("non-zero exit")

	// ErrBadOutput means the CLI exited 0 but its output held no answer the
	// runner could read.
	ErrBadOutput = errors.New("unreadable output")
	// ErrTaskFailed means create exited 0 yet reported the task failed (the
	// published CLI does that).
	ErrTaskFailed = errors.New("content-creator reported the task failed")
	// ErrNoResult means result printed no article (the task is not finished,
	// or the CLI printed only the task row).
	ErrNoResult = errors.New("no article in the result")
)

// tailBytes bounds how much of a child's output an error carries.
const tailBytes = 2 << 10

// RunError is a CLI run that did not end with exit status 0. Its text names the
// command, why it ended and the end of what the child wrote; never its argv,
// which holds the callback URL and its token.
type RunError struct {
	Command  string        // create, status, result or cancel
	Program  string        // the program CREATOR_CLI_PATH names
	ExitCode int           // -1 when the child did not exit on its own or never ran
	State    string        // "exit status 2", "signal: killed", … ("" when it never ran)
	Timeout  time.Duration // the allowance, when the run timed out
	Tail     string        // the last bytes of stderr (stdout when stderr was empty), redacted, valid UTF-8
	Err      error         // ErrTimeout, ErrNotStarted, ErrExit, or the caller's context error
	Cause    error         // what the system reported (the start error, the *exec.ExitError), if anything
}

func (e *RunError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "content-creator %s: ", e.Command)
	switch {
	case errors.Is(e.Err, ErrNotStarted):
		fmt.Fprintf(&b, "%v (CREATOR_CLI_PATH program %q)", e.Err, e.Program)
		if e.Cause != nil {
			fmt.Fprintf(&b, ": %v", e.Cause)
		}
	case errors.Is(e.Err, ErrTimeout):
		fmt.Fprintf(&b, "timed out after %s, process group killed", e.Timeout)
	case errors.Is(e.Err, ErrExit):
		b.WriteString(e.State)
	default: // the caller's context ended
		fmt.Fprintf(&b, "stopped, process group killed: %v", e.Err)
	}
	if e.Tail != "" {
		fmt.Fprintf(&b, "; output: %s", e.Tail)
	}
	return b.String()
}

func (e *RunError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// redactor removes secrets from text the child printed before it goes into an
// error or a log: the signing secret, callback tokens (as given and
// URL-escaped), and any token= query value.
type redactor struct{ secrets []string }

// tokenValueEnd are the bytes that end a token= value.
const tokenValueEnd = "&\t\n\v\f\r \"'#<>"

var tokenParam = regexp.MustCompile(`(?i)([?&;]token=)[^` + tokenValueEnd + `]+`)

const redacted = "REDACTED"

func newRedactor(secret, callbackURL string) redactor {
	var r redactor
	r.add(secret)
	if u, err := url.Parse(callbackURL); err == nil && callbackURL != "" {
		for _, tok := range u.Query()["token"] {
			r.add(tok)
			r.add(url.QueryEscape(tok))
		}
	}
	return r
}

func (r *redactor) add(s string) {
	if s != "" {
		r.secrets = append(r.secrets, s)
	}
}

func (r redactor) clean(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return tokenParam.ReplaceAllString(s, "${1}"+redacted)
}

// ansiEscape matches terminal colour codes (chalk adds them when it thinks it
// writes to a terminal).
var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]")

// tailWindow bounds how much of a stream is cleaned for an error's tail, so a
// failure costs the same however much the child wrote.
const tailWindow = 4 * tailBytes

// tail returns the end of out, cleaned, at most tailBytes long and valid UTF-8.
func (r redactor) tail(out []byte) string {
	cut := false
	if len(out) > tailWindow {
		out, cut = out[r.safeStart(out, len(out)-tailWindow):], true
	}
	s := r.clean(string(out))
	s = strings.TrimSpace(ansiEscape.ReplaceAllString(s, ""))
	if len(s) > tailBytes {
		i := len(s) - tailBytes
		for i < len(s) && !utf8.RuneStart(s[i]) {
			i++
		}
		s, cut = s[i:], true
	}
	if cut {
		s = "…" + s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// safeStart moves start past a secret or a token= value that runs across it,
// so that out[start:] holds no unrecognisable piece of one.
func (r redactor) safeStart(out []byte, start int) int {
	for _, sec := range r.secrets {
		for i := max(0, start-len(sec)+1); i < start; i++ {
			if bytes.HasPrefix(out[i:], []byte(sec)) {
				start = max(start, i+len(sec))
			}
		}
	}
	run := out[bytes.LastIndexAny(out[:start], tokenValueEnd)+1 : start]
	if !bytes.Contains(bytes.ToLower(run), []byte("token=")) {
		return start
	}
	if k := bytes.IndexAny(out[start:], tokenValueEnd); k >= 0 {
		return start + k
	}
	return len(out)
}

// head returns the start of s, at most tailBytes long and valid UTF-8; for
// messages the child reported.
func head(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > tailBytes {
		cut := tailBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
