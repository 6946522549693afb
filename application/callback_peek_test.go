package application_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/application"
)

func TestPeekCallback(t *testing.T) {
	real, err := os.ReadFile("../adapters/httpapi/testdata/callback-completed.body.json")
	require.NoError(t, err)
	event, taskID, ts, ok := application.PeekCallback(real)
	require.True(t, ok)
	require.Equal(t, "completed", event)
	require.Equal(t, "test-api-001", taskID)
	require.Equal(t, "2026-11-28T10:32:30.279Z", ts)

	long := `{"result":{"content":"` + strings.Repeat(`正文 \"引号\" \\ `, 2000) + `","event":"failed"},"x":[1,{"event":"failed"}],` +
		` "event" : " progress " , "taskId":"t-1-1"}`
	event, taskID, _, ok = application.PeekCallback([]byte(long))
	require.True(t, ok, "nested keys and escaped quotes are skipped over")
	require.Equal(t, "progress", event, "trimmed, as decoding does")
	require.Equal(t, "t-1-1", taskID)

	for name, body := range map[string]string{
		"not an object":           `["completed"]`,
		"no event":                `{"taskId":"t"}`,
		"unknown event":           `{"event":"done"}`,
		"event not a string":      `{"event":1}`,
		"event null":              `{"event":null}`,
		"a key in another case":   `{"Event":"completed"}`,
		"a key given twice":       `{"event":"failed","event":"completed"}`,
		"taskId in another case":  `{"event":"completed","TASKID":"t"}`,
		"an escaped key":          `{"\u0065vent":"completed"}`,
		"a non-ASCII key":         `{"event":"completed","taſkId":"t"}`,
		"an escaped value":        `{"event":"complete\u0064"}`,
		"taskId not a string":     `{"event":"completed","taskId":5}`,
		"unterminated":            `{"event":"completed","result":{"content":"x`,
		"garbage between members": `{"event":"completed" "taskId":"t"}`,
		"truncated after a key":   `{"event":`,
	} {
		t.Run(name, func(t *testing.T) {
			_, _, _, ok := application.PeekCallback([]byte(body))
			require.False(t, ok)
		})
	}
}

// FuzzPeekCallback: whenever the peek reads a body that decodes, it reads
// the same event and taskId as the decoder — the condition for answering
// duplicates before decoding.
func FuzzPeekCallback(f *testing.F) {
	for _, seed := range []string{
		`{"event":"completed","taskId":"t-1","result":{"content":"# x \"q\" \\","images":[{"url":"u"}]}}`,
		`{"EVENT":"failed","taskid":"a","Event":"progress"}`, `{"event":"progress","taskId":null}`,
		`{"event":" failed ","taskId":"t\u0000"}`, `{"x":[{"event":"failed"}],"event":"completed"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		event, taskID, _, ok := application.PeekCallback(body)
		if !ok {
			return
		}
		p, err := application.DecodeCallback(body)
		if err != nil {
			return // the peek does not validate; such a body matches no recorded delivery
		}
		if p.Event != event || p.TaskID != taskID {
			t.Fatalf("peek read %q/%q, decoding %q/%q", event, taskID, p.Event, p.TaskID)
		}
	})
}
