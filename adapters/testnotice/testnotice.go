// Package testnotice is test support for several packages' tests: it tells
// the person running `go test` something that must not go unseen, such as
// tests skipped for want of a server or a browser. go test shows a passing
// package's output only with -v, so a notice goes to the go command's own
// standard error (the test binary's parent) when that can be opened on this
// system, else to the test binary's; a marker file per go command and key
// keeps it to one line per run however many packages say it.
package testnotice

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

var said sync.Map // key → struct{}: once per process

// Announce prints msg as one line, once per go test run and key.
func Announce(key, msg string) {
	if _, loaded := said.LoadOrStore(key, struct{}{}); loaded {
		return
	}
	line := []byte(strings.ReplaceAll(msg, "\n", " ") + "\n")
	parent := os.Getppid()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", parent))
	if err != nil || strings.TrimSpace(string(comm)) != "go" {
		_, _ = os.Stderr.Write(line)
		return
	}
	marker := filepath.Join(os.TempDir(), fmt.Sprintf("contenthub-notice-%s-%d-%s", key, parent, processStart(parent)))
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return // another package of this run has said it
	}
	_ = f.Close()
	// O_APPEND: when go's stderr is a file, write at its end, never over it.
	goStderr, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/2", parent), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		_, _ = os.Stderr.Write(line)
		return
	}
	defer goStderr.Close()
	_, _ = goStderr.Write(line)
}

// processStart tells a process apart from an earlier one with the same id.
func processStart(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "0"
	}
	// Field 22 (starttime) counts from the ")" that ends the command name.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(fields) < 20 {
		return "0"
	}
	return fields[19]
}
