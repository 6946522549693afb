package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// docTestBlock matches a fenced sh block preceded by <!-- doc-test -->.
var docTestBlock = regexp.MustCompile("(?s)<!-- doc-test -->\\s*```sh\\n(.*?)```")

// TestWebhookDocsExamplesRun runs the `contenthub sign` + curl examples of
// docs/webhooks.md, in order, against a real service, so the docs cannot
// drift from the code.
func TestWebhookDocsExamplesRun(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	doc, err := os.ReadFile("../../docs/webhooks.md")
	require.NoError(t, err)
	blocks := docTestBlock.FindAllStringSubmatch(string(doc), -1)
	require.GreaterOrEqual(t, len(blocks), 4, "docs/webhooks.md lost its runnable examples")
	secret := regexp.MustCompile(`SECRET='([^']+)'`).FindStringSubmatch(string(doc))
	require.NotNil(t, secret, "the docs define the secret the service runs with")

	svc := startService(t, t.TempDir(), []string{
		"WEBHOOK_SECRET_KEY=" + secret[1],
		"SIM_NO_CALLBACK=1", "SIM_DELAY=60s", // the examples send the callbacks themselves
	})
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, b := range blocks {
		script.WriteString(strings.ReplaceAll(b[1], "http://127.0.0.1:8080", "http://"+svc.addr))
		script.WriteString("\n")
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "docs/webhooks.md examples failed:\n%s", out)
	text := string(out)
	require.Contains(t, text, "X-Webhook-Signature: sha256=")
	require.Contains(t, text, `"status":"processing"`)
	require.Contains(t, text, `"duplicate":true`)
}
