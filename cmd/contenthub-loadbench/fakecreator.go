package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// submitsFile is where the fake creator records the submissions it is
// handed, one "external-ref<TAB>callback-url" line each.
const submitsFile = "submits.tsv"

// fakeCreator stands in for content-creator's CLI (CREATOR_CLI_PATH): create
// records the callback URL the service made for the attempt, token included,
// and answers at once, so that the benchmark can call back as the real
// sender would; status says the job is running. It never calls back itself.
func fakeCreator(args []string, stdout io.Writer) error {
	if len(args) < 2 || args[0] != "--record" {
		return fmt.Errorf("usage: fake-creator --record DIR create|status|result|cancel …")
	}
	dir, args := args[1], args[2:]
	if len(args) == 0 {
		return fmt.Errorf("fake-creator: no command")
	}
	flag := func(name string) string {
		for i := 0; i+1 < len(args); i++ {
			if args[i] == name {
				return args[i+1]
			}
		}
		return ""
	}
	ref := flag("--task-id")
	switch args[0] {
	case "create":
		url := flag("--callback-url")
		if ref == "" || url == "" {
			return fmt.Errorf("fake-creator create: want --task-id and --callback-url")
		}
		f, err := os.OpenFile(filepath.Join(dir, submitsFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		// One write per line: appends of this size never interleave.
		if _, err := f.WriteString(ref + "\t" + url + "\n"); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "{\"success\":true,\"taskId\":%q,\"status\":\"submitted\"}\n", ref)
		return err
	case "status":
		_, err := fmt.Fprintf(stdout, "{\"taskId\":%q,\"status\":\"running\"}\n", ref)
		return err
	case "cancel":
		return nil
	default:
		return fmt.Errorf("fake-creator: %s is not supported", args[0])
	}
}
