package notify_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/notify"
	"contenthub/domain"
	"contenthub/ports"
)

const webhooksDoc = "../../docs/webhooks.md"

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(webhooksDoc)
	require.NoError(t, err)
	return string(b)
}

// TestDocReceiverIsTheTestedExample keeps docs/webhooks.md's Go receiver the
// file TestDocReceiverVerifiesTheSender runs.
func TestDocReceiverIsTheTestedExample(t *testing.T) {
	file, err := os.ReadFile("../../examples/webhookreceiver/main.go")
	require.NoError(t, err)
	block := regexp.MustCompile("(?s)## A receiver in Go.*?```go\n(.*?)```").FindStringSubmatch(readDoc(t))
	require.NotNil(t, block, "docs/webhooks.md lost its Go receiver")
	require.Equal(t, string(file), block[1])
}

// TestDocReceiverVerifiesTheSender runs the documented Go receiver and sends
// it messages with the service's sender: a good one is accepted (twice: the
// retry is acknowledged as already handled), one signed with another secret
// is refused.
func TestDocReceiverVerifiesTheSender(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "receiver")
	out, err := exec.Command(goCmd, "build", "-o", bin, "../../examples/webhookreceiver").CombinedOutput()
	require.NoError(t, err, "%s", out)

	box, _ := notify.NewSecretBox("")
	secret, _, err := box.NewSecret()
	require.NoError(t, err)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "CONTENTHUB_WEBHOOK_SECRET="+secret, "LISTEN_ADDR=127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan())
	addr, ok := strings.CutPrefix(lines.Text(), "listening on ")
	require.True(t, ok, lines.Text())

	s := loopbackSender(t, box, 5*time.Second)
	m := ports.OutboundMessage{ID: "msg-doc_ep-doc", URL: "http://" + addr + "/contenthub", Timestamp: time.Now(),
		Payload: []byte(`{"type":"task.completed","timestamp":"2026-02-09T12:00:00Z","data":{"task_id":"task-doc","status":"completed","content_id":"content-1"}}`),
		Secrets: []domain.EndpointSecret{{Stored: secret}}}
	res := s.Send(context.Background(), m)
	require.Equal(t, 204, res.StatusCode, res.Err)
	require.True(t, lines.Scan())
	require.Equal(t, "msg-doc_ep-doc task.completed task-doc", lines.Text())
	require.Equal(t, 204, s.Send(context.Background(), m).StatusCode, "a retry is acknowledged")

	other, _, _ := box.NewSecret()
	m.Secrets = []domain.EndpointSecret{{Stored: other}}
	require.Equal(t, 401, s.Send(context.Background(), m).StatusCode)
}

// TestDocOpenSSLCheckMatchesTheSigner runs the documented curl/openssl check
// on a message signed by the service, and on a tampered one.
func TestDocOpenSSLCheckMatchesTheSigner(t *testing.T) {
	for _, tool := range []string{"bash", "openssl", "od"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	block := regexp.MustCompile("(?s)<!-- receiver-test -->\\s*```bash\n(.*?)```").FindStringSubmatch(readDoc(t))
	require.NotNil(t, block, "docs/webhooks.md lost its openssl check")
	box, _ := notify.NewSecretBox("")
	oldSecret, _, _ := box.NewSecret()
	secret, _, _ := box.NewSecret()
	body := []byte(`{"type":"task.failed","data":{"task_id":"task-1","title":"中文"}}` + "\n")
	at := time.Now()
	sig, err := notify.Sign("msg-1_ep-1", at, body, []string{oldSecret, secret})
	require.NoError(t, err)

	run := func(secret string, body []byte) (string, error) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "body.json"), body, 0o600))
		cmd := exec.Command("bash", "-c", "set -euo pipefail\n"+block[1])
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "SECRET="+secret, "ID=msg-1_ep-1", "TS="+strconv.FormatInt(at.Unix(), 10), "SIG="+sig)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(secret, body)
	require.NoError(t, err, out)
	require.Equal(t, "signature ok\ntimestamp ok\n", out)
	out, err = run(oldSecret, body)
	require.NoError(t, err, "the rotated-out secret verifies during the overlap: %s", out)
	out, err = run(secret, append([]byte(" "), body...))
	require.Error(t, err)
	require.Contains(t, out, "signature mismatch")
}
