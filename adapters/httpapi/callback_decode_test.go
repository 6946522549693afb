package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/httpapi"
	"contenthub/application"
)

// realisticBody is a completed callback as the real sender writes it, with a
// ~20 KB Chinese article (newlines escaped, as JSON.stringify writes them).
func realisticBody(tb testing.TB) []byte {
	tb.Helper()
	article, err := os.ReadFile("testdata/article-zh-20k.md")
	require.NoError(tb, err)
	body, err := json.Marshal(map[string]any{
		"event": "completed", "taskId": "task-1-1", "workflowType": "content-creator", "status": "completed",
		"timestamp": "2026-02-09T12:00:00.000Z", "metadata": map[string]any{"topic": "边缘计算入门", "targetAudience": "开发者"},
		"result": map[string]any{
			"content": string(article), "htmlContent": string(article), "qualityScore": 8.2, "wordCount": 6547,
			"images":  []map[string]string{{"url": "https://example.com/1.png", "localPath": "data/images/1.png", "prompt": "配图"}},
			"metrics": map[string]any{"tokensUsed": 5321, "stepsCompleted": []string{"write"}},
		},
	})
	require.NoError(tb, err)
	return body
}

var jsonSeeds = []string{
	`{"event":"completed","taskId":"t-1","result":{"content":"# x\n\t\"q\" \\ \/ \b\f\r \u4e2d \ud83d\ude00 \ud83d \udc00x","images":[{"url":"u"}],"qualityScore":8.0,"wordCount":3,"metrics":{"a":[1,2,{"b":null}]}}}`,
	`{"event":"failed","error":{"message":"m","type":"execution_error","code":"E"}}`,
	`{"event":"progress","progress":{"percentage":150,"stage":"s"}}`, `{"event":"progress","progress":-1e400}`,
	`{"EVENT":"failed","event":"completed"}`, `{"event":"completed","event":"failed"}`, `{"evént":"completed"}`,
	`{"\u0065vent":"completed"}`, `{"event":"completed","result":{"content":42}}`, `{"event":"failed","result":{"content":42}}`,
	`{"event":"completed","result":null}`, `{"event":"completed","result":[]}`, `{"event":null}`, `{"event":1}`,
	`{"event":"completed","result":{"content":"a\u0000b","Content":"x"}}`, "{\"event\":\"completed\",\"result\":{\"content\":\"\xff\xfe中\"}}",
	` {"event" : "completed" , "taskId" : null } `, `{"event":"completed"} x`, `{"event":"completed",}`, `{"a":01}`, `{"a":-}`,
	`{"a":1.}`, `{"a":1e}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"a":tru}`, `{"a":[1,]}`, `{"a":{"b"}}`, `[]`, `{}`,
	`{"a":[[[[]]]],"b":{"c":{}}}`, `{"a":-0.5e+10,"b":0,"c":1E-2}`,
}

// FuzzDecodeCallbackMatchesEncodingJSON: decoding with sonic gives what
// encoding/json gives, payload and refusal alike.
func FuzzDecodeCallbackMatchesEncodingJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Add(realisticBody(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, fastErr := httpapi.DecodeCallback(b)
		std, stdErr := httpapi.DecodeCallbackStd(b)
		var fe, se *application.PayloadError
		if errors.As(fastErr, &fe) != errors.As(stdErr, &se) || (fe != nil && *fe != *se) || (fastErr == nil) != (stdErr == nil) {
			t.Fatalf("%q: fast error %v, encoding/json %v", b, fastErr, stdErr)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("%q:\nfast %+v\nstd  %+v", b, fast, std)
		}
	})
}

// FuzzValidJSONMatchesEncodingJSON: the fast validator accepts exactly what
// json.Valid accepts.
func FuzzValidJSONMatchesEncodingJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"":{"":"\0","":0,"":{"":[0,{"":null}]}}}`, `{"a\u12":1}`, "{\"a\x1f\":1}", `{"a":"\\\\\""}`, `{"a":"\\"}`,
		`{"a":"\\\"}`, `{"a":1E+}`, `{"a":-0.0e-0}`, "\ufeff{}", `{"a":"\uDFFF\u0000"}`, "{\"a\":\"\x7f\"}", `{"a":0x1}`,
		`{"a":Infinity}`, `{"a":NaN}`, `{"a":"\u+123"}`, `{"a":"\u 123"}`, "{\"a\":1}\x00", `{"a":[{}]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte(strings.Repeat("[", 10000) + strings.Repeat("]", 10000)))
	f.Add([]byte(strings.Repeat("[", 10001) + strings.Repeat("]", 10001)))
	f.Add(realisticBody(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := httpapi.ValidJSON(b), json.Valid(b); got != want {
			t.Fatalf("%q: valid %v, json.Valid %v", b, got, want)
		}
	})
}

// TestValidJSONDeepNesting: a body nesting deeper than encoding/json allows
// is refused without recursing that deep.
func TestValidJSONDeepNesting(t *testing.T) {
	deep := []byte(`{"a":` + strings.Repeat("[", 5<<20) + strings.Repeat("]", 5<<20) + `}`)
	require.False(t, httpapi.ValidJSON(deep))
	ok := []byte(`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`)
	require.True(t, httpapi.ValidJSON(ok))
}

func TestDecodeCallbackRealisticBody(t *testing.T) {
	body := realisticBody(t)
	fast, err := httpapi.DecodeCallback(body)
	require.NoError(t, err)
	std, err := httpapi.DecodeCallbackStd(body)
	require.NoError(t, err)
	require.Equal(t, std, fast)
	require.Greater(t, len(fast.Result.Content), 19000)
	require.Equal(t, fast.Result.Content, fast.Result.HTMLContent)
}

// BenchmarkDecodeCallback decodes a realistic completed callback (~48 KB):
// with sonic, and with encoding/json alone for comparison.
func BenchmarkDecodeCallback(b *testing.B) {
	body := realisticBody(b)
	for name, decode := range map[string]func([]byte) (application.CallbackPayload, error){
		"sonic": httpapi.DecodeCallback, "encoding-json": httpapi.DecodeCallbackStd,
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodedPayloadOwnsItsBytes: nothing decoded points into the body,
// which the HTTP adapter reuses once the callback is handled.
func TestDecodedPayloadOwnsItsBytes(t *testing.T) {
	for _, body := range [][]byte{realisticBody(t), []byte(jsonSeeds[0]), []byte(`{"event":"failed","taskId":"t","error":{"message":"m","code":7}}`),
		[]byte(`{"event":"progress","progress":{"percentage":5,"stage":"s","message":"m"}}`)} {
		want, err := httpapi.DecodeCallback(append([]byte(nil), body...))
		require.NoError(t, err)
		got, err := httpapi.DecodeCallback(body)
		require.NoError(t, err)
		for i := range body {
			body[i] = 'x'
		}
		require.Equal(t, want, got)
	}
}

// FuzzPeekCallback: whenever the peek reads a body that decodes, it reads
// the same event and taskId as the decoder does, for bodies whose keys are
// spelled once and exactly (where it may differ, it only costs a lookup).
func FuzzPeekCallback(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Add(realisticBody(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		event, taskID, ok := httpapi.PeekCallback(b)
		if !ok {
			return
		}
		p, err := httpapi.DecodeCallback(b)
		if err != nil || !keysPlain(b) {
			return
		}
		if p.Event != event || p.TaskID != taskID {
			t.Fatalf("%q: peek read %q/%q, decoding %q/%q", b, event, taskID, p.Event, p.TaskID)
		}
	})
}

// keysPlain reports whether every object key of b is spelled once, in one
// case only: where encoding/json and a lookup by exact key cannot disagree.
func keysPlain(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false
				}
				key := strings.ToLower(k.(string))
				if seen[key] {
					return false
				}
				seen[key] = true
				if !walk() {
					return false
				}
			}
			_, err = dec.Token()
			return err == nil
		case json.Delim('['):
			for dec.More() {
				if !walk() {
					return false
				}
			}
			_, err = dec.Token()
			return err == nil
		}
		return true
	}
	return walk()
}

func TestPeekCallback(t *testing.T) {
	event, taskID, ok := httpapi.PeekCallback(realisticBody(t))
	require.True(t, ok)
	require.Equal(t, "completed", event)
	require.Equal(t, "task-1-1", taskID)
	for _, body := range []string{`["completed"]`, `{"taskId":"t"}`, `{"event":"done"}`, `{"event":1}`, `{"event":null}`} {
		_, _, ok := httpapi.PeekCallback([]byte(body))
		require.False(t, ok, body)
	}
}

// TestDecodedCallbackOutlivesItsBody: the fast decoder reads the body in
// place, and the HTTP adapter reuses the body's buffer for the next request,
// so nothing decoded may refer to it (strings with and without escapes,
// images, metrics).
func TestDecodedCallbackOutlivesItsBody(t *testing.T) {
	for name, body := range map[string][]byte{
		"article": realisticBody(t),
		"plain":   []byte(`{"event":"completed","taskId":"t-1","result":{"content":"中文 plain","htmlContent":"h","images":["https://example.com/a.png"],"qualityScore":8,"wordCount":8,"metrics":{"tokensUsed":1}}}`),
		"failed":  []byte(`{"event":"failed","taskId":"t-1","error":{"message":"生成失败","type":"execution_error","details":{"duration":1}}}`),
	} {
		t.Run(name, func(t *testing.T) {
			want, err := httpapi.DecodeCallbackStd(bytes.Clone(body))
			require.NoError(t, err)
			got, err := httpapi.DecodeCallback(body)
			require.NoError(t, err)
			for i := range body {
				body[i] = 'x'
			}
			require.Equal(t, want, got)
		})
	}
}
