package creatorexec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
	"contenthub/ports"
)

// fixture returns a captured output of the published CLI (testdata/README.md).
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// banner is the configuration banner the real CLI prints before anything else.
func banner(t *testing.T) string {
	t.Helper()
	return string(fixture(t, "cli-status-notfound.stdout"))
}

func ids(objs []object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.firstStr("id", "taskId", "message"))
	}
	return out
}

func TestJSONObjectsFromRealSamples(t *testing.T) {
	tests := []struct {
		file string
		want []string // each object's id (or log message)
		logs int      // how many of them are log lines
	}{
		{"cli-result-json.stdout", []string{"test-cli-001"}, 0},
		{"cli-list-json.stdout", []string{"test-cli-002", "test-cli-001"}, 0},
		{"cli-create-failed.stdout", []string{"test-fail-001", "test-fail-001", "test-fail-001"}, 3},
		{"cli-create-completed.stdout", nil, 0},
		{"cli-status.stdout", nil, 0},
		{"cli-status-fail.stdout", nil, 0},
		{"cli-status-notfound.stdout", nil, 0},
		{"cli-status-notfound.stderr", []string{"Logger closed"}, 1}, // after "[winston] …" on the same line
		{"cli-result-fail-json.stdout", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			objs := jsonObjects(fixture(t, tt.file))
			require.Equal(t, tt.want, ids(objs))
			logs := 0
			for _, o := range objs {
				if o.isLog() {
					logs++
				}
			}
			require.Equal(t, tt.logs, logs)
		})
	}
}

func TestJSONObjectsShapes(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []string
	}{
		{"single line after banner", banner(t) + `{"id":"a","status":"running"}` + "\n", []string{"a"}},
		{"text after the object", "{\"id\":\"a\"}\nResource cleanup completed\n", []string{"a"}},
		{"prefix on the same line", `result: {"id":"a"} (done)`, []string{"a"}},
		{"nested objects belong to their parent", `{"id":"a","data":{"id":"inner"}}{"id":"b"}`, []string{"a", "b"}},
		{"braces inside strings", `{"id":"a","content":"} { not json"}`, []string{"a"}},
		{"unclosed braces before an answer", "{ oops\n{\"broken\": \n{\"id\":\"a\"}\n", []string{"a"}},
		{"pretty printed over many lines", "log\n{\n  \"id\": \"a\",\n  \"list\": [1, 2]\n}\nlog\n", []string{"a"}},
		{"no JSON at all", "just text { and a brace", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ids(jsonObjects([]byte(tt.out))))
		})
	}
}

func TestParseStatusJSON(t *testing.T) {
	ptr := func(p domain.ProgressReport) *domain.ProgressReport { return &p }
	tests := []struct {
		name string
		out  string
		want ports.CreatorStatus
	}{
		{
			"simulator line with progress object",
			banner(t) + `{"taskId":"t-1","status":"processing","progress":{"percentage":40,"stage":"writing","message":"drafting"}}` + "\n",
			ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "processing",
				Progress: ptr(domain.ProgressReport{Percentage: 40, Stage: "writing", Message: "drafting"})},
		},
		{
			"progress as a number",
			`{"status":"running","progress":55.5}`,
			ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "running", Progress: ptr(domain.ProgressReport{Percentage: 55.5})},
		},
		{
			"under data, error object",
			`{"success":true,"data":{"status":"failed","error":{"message":"boom","code":"E42","type":"execution_error"}}}`,
			ports.CreatorStatus{Phase: ports.PhaseFailed, Raw: "failed",
				Error: domain.TaskError{Code: "E42", Type: "execution_error", Message: "boom"}},
		},
		{
			"numeric error code",
			`{"status":"failed","error":{"message":"boom","code":503}}`,
			ports.CreatorStatus{Phase: ports.PhaseFailed, Raw: "failed", Error: domain.TaskError{Code: "503", Message: "boom"}},
		},
		{
			"error string",
			`{"status":"failed","error":"quota exceeded"}`,
			ports.CreatorStatus{Phase: ports.PhaseFailed, Raw: "failed", Error: domain.TaskError{Message: "quota exceeded"}},
		},
		{
			"errorMessage of the task row",
			`{"status":"failed","errorMessage":"Text quality check failed after 3 attempts"}`,
			ports.CreatorStatus{Phase: ports.PhaseFailed, Raw: "failed",
				Error: domain.TaskError{Message: "Text quality check failed after 3 attempts"}},
		},
		{
			"a later log line does not replace the answer",
			"{\"status\":\"completed\"}\n{\"level\":\"info\",\"message\":\"closing\",\"status\":\"running\"}\n",
			ports.CreatorStatus{Phase: ports.PhaseCompleted, Raw: "completed"},
		},
		{
			"the last answer wins",
			"{\"status\":\"pending\"}\n{\"status\":\"cancelled\"}\n",
			ports.CreatorStatus{Phase: ports.PhaseCancelled, Raw: "cancelled"},
		},
		{
			"pretty-printed task row of the real CLI, with its update time",
			string(fixture(t, "cli-result-json.stdout")),
			ports.CreatorStatus{Phase: ports.PhaseCompleted, Raw: "completed", UpdatedAt: time.Date(2026, 11, 28, 10, 31, 35, 434e6, time.UTC)},
		},
		{
			"real list: the last row",
			string(fixture(t, "cli-list-json.stdout")),
			ports.CreatorStatus{Phase: ports.PhaseCompleted, Raw: "completed", UpdatedAt: time.Date(2026, 11, 28, 10, 31, 35, 434e6, time.UTC)},
		},
		{
			"a task row's current step is its progress stage (§14: how far a run has got)",
			`{"status":"running","currentStep":"text_generation","updatedAt":"2026-11-28T10:31:46.523Z"}`,
			ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "running", Progress: ptr(domain.ProgressReport{Stage: "text_generation"}),
				UpdatedAt: time.Date(2026, 11, 28, 10, 31, 46, 523e6, time.UTC)},
		},
		{
			"the simulator's progress wins over a step; an unreadable update time is none",
			`{"status":"running","progress":{"percentage":40,"stage":"writing"},"currentStep":"x","updatedAt":"yesterday"}`,
			ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "running", Progress: ptr(domain.ProgressReport{Percentage: 40, Stage: "writing"})},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseStatus([]byte(tt.out))
			require.True(t, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseStatusStateNames(t *testing.T) {
	tests := map[string]ports.CreatorPhase{
		"pending": ports.PhaseRunning, "queued": ports.PhaseRunning, "submitted": ports.PhaseRunning,
		"running": ports.PhaseRunning, "waiting": ports.PhaseRunning, "processing": ports.PhaseRunning,
		"completed": ports.PhaseCompleted, "failed": ports.PhaseFailed,
		"cancelled": ports.PhaseCancelled, "canceled": ports.PhaseCancelled, "COMPLETED": ports.PhaseCompleted,
		"paused": ports.PhaseUnknown, "succeeded": ports.PhaseUnknown,
	}
	for state, phase := range tests {
		t.Run(state, func(t *testing.T) {
			got, ok := parseStatus([]byte(`{"status":"` + state + `"}`))
			require.True(t, ok)
			require.Equal(t, phase, got.Phase)
			require.Equal(t, state, got.Raw)
		})
	}
}

func TestParseStatusRealText(t *testing.T) {
	got, ok := parseStatus(fixture(t, "cli-status.stdout"))
	require.True(t, ok)
	require.Equal(t, ports.CreatorStatus{Phase: ports.PhaseCompleted, Raw: "completed"}, got)

	got, ok = parseStatus(fixture(t, "cli-status-fail.stdout"))
	require.True(t, ok)
	require.Equal(t, ports.CreatorStatus{Phase: ports.PhaseFailed, Raw: "failed",
		Error: domain.TaskError{Message: "Text quality check failed after 3 attempts"}}, got)

	// The other labels of its formatter, with their symbols and colour codes.
	for label, want := range map[string]ports.CreatorStatus{
		"⏳ 待处理":                 {Phase: ports.PhaseRunning, Raw: "pending"},
		"\x1b[34m🔄 运行中\x1b[39m": {Phase: ports.PhaseRunning, Raw: "running"},
		"⏸️ 等待中":                {Phase: ports.PhaseRunning, Raw: "waiting"},
		"⏹️ 已取消":                {Phase: ports.PhaseCancelled, Raw: "cancelled"},
		"🤔 新状态":                 {Phase: ports.PhaseUnknown, Raw: "新状态"},
	} {
		got, ok := parseStatus([]byte(banner(t) + "\n📊 任务状态\n任务ID: x\n状态: " + label + "\n"))
		require.True(t, ok, label)
		require.Equal(t, want, got, label)
	}

	// A running task's current step is how far it has got ("无" is none, as
	// in the completed fixture above).
	got, ok = parseStatus([]byte(banner(t) + "\n📊 任务状态\n任务ID: x\n状态: 🔄 运行中\n当前步骤: text_generation\n"))
	require.True(t, ok)
	require.Equal(t, ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "running",
		Progress: &domain.ProgressReport{Stage: "text_generation"}}, got)

	_, ok = parseStatus(fixture(t, "cli-status-notfound.stdout"))
	require.False(t, ok, "a banner alone is no answer")
}

func TestParseResult(t *testing.T) {
	callback := strings.TrimSpace(string(fixture(t, "callback-completed.body.json")))

	t.Run("callback-shaped line after the banner", func(t *testing.T) {
		got, reason := parseResult([]byte(banner(t) + callback + "\nResource cleanup completed\n"))
		require.Empty(t, reason)
		require.True(t, strings.HasPrefix(got.Content, "# 边缘计算入门\n\n## 引言"), got.Content[:40])
		require.Equal(t, got.Content, got.HTMLContent)
		require.Equal(t, []string{"https://example.com/mock-image-1795861950241.png", "https://example.com/mock-image-1795861950241.png"}, got.Images)
		require.NotNil(t, got.QualityScore)
		require.InDelta(t, 8.0, *got.QualityScore, 1e-9)
		require.NotNil(t, got.WordCount)
		require.Equal(t, 1146, *got.WordCount)
		require.JSONEq(t, `{"tokensUsed":0,"cost":0,"duration":66,"stepsCompleted":[]}`, string(got.Metrics))
	})

	t.Run("pretty-printed under data, image strings", func(t *testing.T) {
		out := "starting\n{\n  \"data\": {\n    \"content\": \"# T\\n\\nbody\",\n    \"images\": [\"a.png\", \"\", {\"url\": \"b.png\"}, {\"prompt\": \"no url\"}],\n    \"qualityScore\": 7.5,\n    \"metrics\": null\n  }\n}\n"
		got, reason := parseResult([]byte(out))
		require.Empty(t, reason)
		q := 7.5
		require.Equal(t, domain.Result{Content: "# T\n\nbody", Images: []string{"a.png", "b.png"}, QualityScore: &q}, got)
	})

	t.Run("real task row has no article", func(t *testing.T) {
		got, reason := parseResult(fixture(t, "cli-result-json.stdout"))
		require.Empty(t, got.Content)
		require.Equal(t, `the answer has no content (status "completed")`, reason)
	})

	t.Run("real not-finished text", func(t *testing.T) {
		got, reason := parseResult(fixture(t, "cli-result-fail-json.stdout"))
		require.Empty(t, got.Content)
		require.Equal(t, "任务尚未完成，当前状态: ❌ 失败", reason)
	})

	t.Run("real text result", func(t *testing.T) {
		got, reason := parseResult(fixture(t, "cli-result.stdout"))
		require.Empty(t, got.Content)
		require.Equal(t, "no JSON object with content in the output", reason)
	})
}

func TestParseCreate(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want createAnswer
	}{
		{"real failed run exits 0", string(fixture(t, "cli-create-failed.stdout")),
			createAnswer{ref: "test-fail-001", failed: true, reason: "Text quality check failed after 3 attempts"}},
		{"real completed run", string(fixture(t, "cli-create-completed.stdout")), createAnswer{ref: "test-cli-001"}},
		{"real async banner", "✅ 任务已成功创建\n任务ID: task-1770000000000\n模式: 异步（队列）\n状态: 等待 Worker 处理\n",
			createAnswer{ref: "task-1770000000000"}},
		{"simulator answer", banner(t) + `{"taskId":"x-1","status":"submitted"}`, createAnswer{ref: "x-1"}},
		{"task_id", `{"task_id":"x-2","status":"queued"}`, createAnswer{ref: "x-2"}},
		{"id", `{"id":"x-3"}`, createAnswer{ref: "x-3"}},
		{"failed answer", `{"taskId":"x-4","status":"failed","error":{"message":"quota exceeded","type":"execution_error"}}`,
			createAnswer{ref: "x-4", failed: true, reason: "execution_error: quota exceeded"}},
		{"envelope says no", `{"success":false,"error":{"message":"queue full","code":"BUSY"}}`,
			createAnswer{failed: true, reason: "[BUSY] queue full"}},
		{"envelope says yes", `{"success":true,"data":{"taskId":"x-5"}}`, createAnswer{ref: "x-5"}},
		{"nothing to read", "accepted\n", createAnswer{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, parseCreate([]byte(tt.out)))
		})
	}
}

func TestSaysUnknownTask(t *testing.T) {
	for _, tt := range []struct {
		stderr string
		want   bool
	}{
		{string(fixture(t, "cli-status-notfound.stderr")), true},
		{"Error: task abc-1 not found\n", true},
		{"Task not found\n", true},
		{"not found: task abc\n", true},
		{"sh: 1: node: not found\n", false},
		{"Error: database locked\n", false},
	} {
		require.Equal(t, tt.want, saysUnknownTask(output{stderr: []byte(tt.stderr)}), tt.stderr)
	}
}
