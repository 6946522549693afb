package creatorapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"contenthub/adapters/creatorwire"
	"contenthub/domain"
	"contenthub/ports"
)

// taskData is the "data" of the server's answers: a finished run
// (POST /api/tasks, GET …/result) or a task row (GET /api/tasks/{id}, list).
type taskData struct {
	ID           string          `json:"id"`
	TaskID       string          `json:"taskId"`
	Status       string          `json:"status"`
	Content      string          `json:"content"`
	HTMLContent  string          `json:"htmlContent"`
	Images       json.RawMessage `json:"images"`
	QualityScore *float64        `json:"qualityScore"`
	WordCount    *float64        `json:"wordCount"`
	Metrics      json.RawMessage `json:"metrics"`
	Error        json.RawMessage `json:"error"` // a string in a run's answer
	ErrorMessage string          `json:"errorMessage"`
	// A task row's step and last change: what a status answer says of a
	// run's advance (§14 lost runs).
	CurrentStep string `json:"currentStep"`
	UpdatedAt   string `json:"updatedAt"`
}

// decodeData reads {"success":true,"data":{…}}.
func decodeData(body []byte) (taskData, error) {
	var env struct {
		Success bool     `json:"success"`
		Data    taskData `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return taskData{}, fmt.Errorf("content-creator API answer is not the JSON it documents: %w", err)
	}
	if !env.Success {
		return taskData{}, fmt.Errorf("content-creator API answer says success: false")
	}
	return env.Data, nil
}

func (d taskData) result() domain.Result {
	r := domain.Result{Content: d.Content, HTMLContent: d.HTMLContent, Images: creatorwire.ImageURLs(d.Images), QualityScore: d.QualityScore}
	if d.WordCount != nil && *d.WordCount >= 0 {
		n := int(*d.WordCount)
		r.WordCount = &n
	}
	if m := bytes.TrimSpace(d.Metrics); len(m) > 0 && !bytes.Equal(m, []byte("null")) {
		var buf bytes.Buffer
		if json.Compact(&buf, m) == nil {
			r.Metrics = buf.Bytes()
		}
	}
	return r
}

// errorText is why a run failed, as the server put it.
func (d taskData) errorText(status string) string {
	var s string
	if json.Unmarshal(d.Error, &s) == nil && s != "" {
		return s
	}
	var e struct{ Message string }
	if json.Unmarshal(d.Error, &e) == nil && e.Message != "" {
		return e.Message
	}
	if d.ErrorMessage != "" {
		return d.ErrorMessage
	}
	return "content-creator reports the run " + status
}

// refusal renders an error answer: "400 VALIDATION_ERROR: Request validation
// failed; targetAudience: Invalid input: expected string, received undefined".
func refusal(a answer) string {
	var env struct {
		Error struct {
			Message string `json:"message"`
			Code    string `json:"code"`
			Details struct {
				Fields []struct {
					Path    string `json:"path"`
					Message string `json:"message"`
				} `json:"fields"`
			} `json:"details"`
		} `json:"error"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d", a.status)
	if json.Unmarshal(a.body, &env) != nil || env.Error.Message == "" {
		if text := strings.TrimSpace(string(a.body)); text != "" {
			b.WriteString(": " + clip(text, 300))
		}
		return b.String()
	}
	if env.Error.Code != "" {
		b.WriteString(" " + env.Error.Code)
	}
	b.WriteString(": " + clip(env.Error.Message, 300))
	for i, f := range env.Error.Details.Fields {
		if i == refusalMessageFields {
			b.WriteString("; …")
			break
		}
		fmt.Fprintf(&b, "; %s: %s", f.Path, clip(f.Message, 200))
	}
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// advance is what the task row says of the run's advance: its current step
// as the progress stage, and its update time.
func (d taskData) advance(st *ports.CreatorStatus) {
	if d.CurrentStep != "" {
		st.Progress = &domain.ProgressReport{Stage: d.CurrentStep}
	}
	st.UpdatedAt = creatorwire.UpdateTime(d.UpdatedAt)
}
