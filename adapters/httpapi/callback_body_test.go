package httpapi_test

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/httpapi"
	"contenthub/application"
)

func TestDecodeCallbackRealSenderBodies(t *testing.T) {
	completed, err := os.ReadFile("testdata/callback-completed.body.json")
	require.NoError(t, err)
	p, err := httpapi.DecodeCallback(completed)
	require.NoError(t, err)
	require.Equal(t, "completed", p.Event)
	require.Equal(t, "test-api-001", p.TaskID)
	require.False(t, p.Timestamp.IsZero())
	require.Len(t, p.Result.Images, 2)
	require.Equal(t, 1146, *p.Result.WordCount)
	require.Equal(t, 8.0, *p.Result.QualityScore)
	require.JSONEq(t, `{"tokensUsed":0,"cost":0,"duration":66,"stepsCompleted":[]}`, string(p.Result.Metrics))

	failed, err := os.ReadFile("testdata/callback-failed.body.json")
	require.NoError(t, err)
	p, err = httpapi.DecodeCallback(failed)
	require.NoError(t, err)
	require.Equal(t, "failed", p.Event)
	require.Equal(t, "execution_error", p.Error.Type)
	require.Equal(t, "Text quality check failed after 3 attempts", p.Error.Message)
	require.Empty(t, p.Error.Code, "the real sender sends no code")
}

func TestDecodeCallbackShapes(t *testing.T) {
	p, err := httpapi.DecodeCallback([]byte(`{"event":"completed","result":{"content":"c","images":["a",{"url":"b"},{"localPath":"c"},""],"wordCount":12.0}}`))
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, p.Result.Images)
	require.Equal(t, 12, *p.Result.WordCount)

	p, err = httpapi.DecodeCallback([]byte(`{"event":"completed","result":{"content":"a\u0000b","images":["u\u0000"]}}`))
	require.NoError(t, err)
	require.Equal(t, "ab", p.Result.Content, "NUL characters cannot be stored and are dropped")
	require.Equal(t, []string{"u"}, p.Result.Images)

	p, err = httpapi.DecodeCallback([]byte(`{"event":"failed","error":"plain text"}`))
	require.NoError(t, err)
	require.Equal(t, "plain text", p.Error.Message)

	p, err = httpapi.DecodeCallback([]byte(`{"event":"failed","error":{"code":42,"message":"m"}}`))
	require.NoError(t, err)
	require.Equal(t, "42", p.Error.Code)

	p, err = httpapi.DecodeCallback([]byte(`{"event":"progress","progress":55.5,"unknown":{"x":1}}`))
	require.NoError(t, err)
	require.Equal(t, 55.5, p.Progress.Percentage)

	for _, bad := range []string{
		`{"event":"completed","result":{"images":"x"}}`,
		`{"event":"completed","result":{"qualityScore":"high"}}`,
		`{"event":"progress","progress":{"percentage":"half"}}`,
		`{"event":"failed","error":[1]}`,
		`{"event":1}`,
		`{"event":"completed","taskId":5}`,
	} {
		_, err := httpapi.DecodeCallback([]byte(bad))
		var pe *application.PayloadError
		require.ErrorAs(t, err, &pe, bad)
	}
}

// FuzzDecodeCallback: no input panics, and every refusal is a PayloadError
// (a 400, never a 5xx).
func FuzzDecodeCallback(f *testing.F) {
	for _, seed := range []string{
		`{"event":"completed","taskId":"t-1","result":{"content":"# x","images":[{"url":"u"}],"qualityScore":8.0,"wordCount":3}}`,
		`{"event":"failed","error":{"message":"m","type":"execution_error","code":"E"}}`,
		`{"event":"progress","progress":{"percentage":150,"stage":"s"}}`,
		`{"event":"progress","progress":-1e400}`,
		`[]`, `null`, `{`, `{"event":null}`, "{\"event\":\"completed\",\"result\":{\"content\":\"\\ud800\"}}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := httpapi.DecodeCallback(body)
		if err != nil {
			var pe *application.PayloadError
			if !errors.As(err, &pe) {
				t.Fatalf("refusal %v is not a PayloadError", err)
			}
			return
		}
		switch p.Event {
		case "completed", "failed", "progress":
		default:
			t.Fatalf("accepted unknown event %q", p.Event)
		}
	})
}
