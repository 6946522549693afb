package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// docTestBlock matches a fenced sh block preceded by <!-- doc-test -->.
var docTestBlock = regexp.MustCompile("(?s)<!-- doc-test -->\\s*```sh\\n(.*?)```")

// runDocExamples runs the doc-test blocks of a document, in order, as one
// bash script against svc, from a directory laid out like the repository
// after `make build` (bin/contenthub, bin/content-creator-sim) and with
// neither binary on PATH. It returns the script's output.
func runDocExamples(t *testing.T, doc string, svc *service, minBlocks int) string {
	t.Helper()
	blocks := docTestBlock.FindAllStringSubmatch(doc, -1)
	require.GreaterOrEqual(t, len(blocks), minBlocks, "the document lost its runnable examples")
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, b := range blocks {
		script.WriteString(strings.ReplaceAll(b[1], "http://127.0.0.1:8080", "http://"+svc.addr))
		script.WriteString("\n")
	}
	root := t.TempDir()
	require.NoError(t, os.Symlink(binDir, filepath.Join(root, "bin")))
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = root
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WEBHOOK_SECRET_KEY=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "examples failed:\n%s", out)
	return string(out)
}

func requireCurl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
}

// TestWebhookDocsExamplesRun runs the `bin/contenthub sign` + curl examples
// of docs/webhooks.md, in order, against a real service, so the docs cannot
// drift from the code.
func TestWebhookDocsExamplesRun(t *testing.T) {
	requireCurl(t)
	doc, err := os.ReadFile("../../docs/webhooks.md")
	require.NoError(t, err)
	secret := regexp.MustCompile(`SECRET='([^']+)'`).FindStringSubmatch(string(doc))
	require.NotNil(t, secret, "the docs define the secret the service runs with")

	svc := startService(t, t.TempDir(), []string{
		"WEBHOOK_SECRET_KEY=" + secret[1],
		"SIM_NO_CALLBACK=1", "SIM_DELAY=60s", // the examples send the callbacks themselves
	})
	text := runDocExamples(t, string(doc), svc, 4)
	require.Contains(t, text, "X-Webhook-Signature: sha256=")
	require.Contains(t, text, `"status":"processing"`)
	require.Contains(t, text, `"duplicate":true`)
}

// TestReadmeSignExampleRuns runs the README's signing example as written
// against a service started the way the README says
// (WEBHOOK_SECRET_KEY='…' make run: the default configuration plus that
// secret): the task it creates ends completed with the article it sent.
func TestReadmeSignExampleRuns(t *testing.T) {
	requireCurl(t)
	doc, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	run := regexp.MustCompile(`(?m)^WEBHOOK_SECRET_KEY='([^']+)' make run$`).FindStringSubmatch(string(doc))
	require.NotNil(t, run, "the README starts the service with a secret")
	secret := regexp.MustCompile(`SECRET='([^']+)'`).FindStringSubmatch(string(doc))
	require.NotNil(t, secret)
	require.Equal(t, run[1], secret[1], "the example signs with the secret the service runs with")

	svc := startService(t, t.TempDir(), []string{"WEBHOOK_SECRET_KEY=" + run[1]})
	text := runDocExamples(t, string(doc), svc, 1)
	require.Contains(t, text, `"status":"completed"`, text)

	var page struct {
		Items []struct {
			TaskID string `json:"task_id"`
			Topic  string `json:"topic"`
			Status string `json:"status"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/content/tasks", nil, &page))
	require.Len(t, page.Items, 1)
	require.Equal(t, "completed", page.Items[0].Status)
	task := svc.task(page.Items[0].TaskID)
	require.NotNil(t, task.ContentID)
	var content struct {
		Title string `json:"title"`
	}
	require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/contents/"+*task.ContentID, nil, &content))
	require.Equal(t, "手动签名回调", content.Title, "the article is the one the signed callback carried")
}
