package creatorexec

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"contenthub/adapters/creatorwire"
	"contenthub/domain"
	"contenthub/ports"
)

// The CLI prints a configuration banner, log lines (some of them JSON) and
// human text on stdout around its answer, so the answer is looked for rather
// than assumed: every JSON object in the output is found, log lines are set
// aside, and the last object with the fields a command needs is its answer.
// The published CLI's human text ("任务ID: …", "状态: ✅ 已完成") is read when no
// JSON answer is there.

// object is one JSON object, its values left raw until asked for.
type object map[string]json.RawMessage

// jsonObjects returns the JSON objects in out, in order: pretty-printed over
// many lines, one per line, or after a prefix on a line. Objects nested in one
// already found are part of it, not reported again; a top-level array's
// elements are reported one by one.
func jsonObjects(out []byte) []object {
	var objs []object
	// Failed attempts rescan text; the budget keeps pathological output (many
	// unclosed braces) from costing quadratic time.
	budget := 8*len(out) + 64<<10
	for i := 0; i < len(out) && budget > 0; {
		j := bytes.IndexByte(out[i:], '{')
		if j < 0 {
			break
		}
		i += j
		dec := json.NewDecoder(bytes.NewReader(out[i:]))
		var obj object
		err := dec.Decode(&obj)
		if err == nil {
			objs = append(objs, obj)
			i += int(dec.InputOffset())
			continue
		}
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			budget -= int(syntax.Offset)
		} else {
			budget -= len(out) - i
		}
		i++
	}
	return objs
}

// isLog reports whether o looks like a structured log line rather than an
// answer.
func (o object) isLog() bool {
	_, level := o["level"]
	_, message := o["message"]
	_, msg := o["msg"]
	return level && (message || msg)
}

func (o object) str(key string) (string, bool) {
	var s string
	raw, ok := o[key]
	if !ok || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func (o object) obj(key string) (object, bool) {
	var n object
	raw, ok := o[key]
	if !ok || json.Unmarshal(raw, &n) != nil || n == nil {
		return nil, false
	}
	return n, true
}

func (o object) num(key string) (float64, bool) {
	var f float64
	raw, ok := o[key]
	if !ok || json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return f, true
}

// success reads an envelope's "success" flag; ok is false when there is none.
func (o object) success() (value, ok bool) {
	raw, found := o["success"]
	if !found || json.Unmarshal(raw, &value) != nil {
		return false, false
	}
	return value, true
}

// firstStr returns the first of keys that holds a non-empty string.
func (o object) firstStr(keys ...string) string {
	for _, k := range keys {
		if s, ok := o.str(k); ok && s != "" {
			return s
		}
	}
	return ""
}

// scopes are where an answer may sit: the object itself, or under "data",
// "result" or "data"."result" (envelopes and callback-shaped bodies).
func (o object) scopes() []object {
	out := []object{o}
	if d, ok := o.obj("data"); ok {
		out = append(out, d)
		if r, ok := d.obj("result"); ok {
			out = append(out, r)
		}
	}
	if r, ok := o.obj("result"); ok {
		out = append(out, r)
	}
	return out
}

// answer returns the last non-log object (or a scope of it) for which has is
// true.
func answer(objs []object, has func(object) bool) (object, bool) {
	for i := len(objs) - 1; i >= 0; i-- {
		if objs[i].isLog() {
			continue
		}
		for _, s := range objs[i].scopes() {
			if has(s) {
				return s, true
			}
		}
	}
	return nil, false
}

func hasString(key string) func(object) bool {
	return func(o object) bool { s, ok := o.str(key); return ok && s != "" }
}

// stateLabels are the published CLI's human names for its states
// (formatter.ts getStatusText, create's getStatusDisplay).
var stateLabels = map[string]string{
	"待处理": "pending",
	"运行中": "running",
	"等待中": "waiting",
	"已完成": "completed",
	"失败":  "failed",
	"已取消": "cancelled",
}

// stateFromLabel turns "✅ 已完成" into "completed"; a label it does not know
// comes back as written, without its leading symbols.
func stateFromLabel(label string) string {
	label = strings.TrimLeftFunc(label, func(r rune) bool { return !unicode.IsLetter(r) })
	label = strings.TrimSpace(label)
	if state, ok := stateLabels[label]; ok {
		return state
	}
	return label
}

// textLines returns stdout's lines without colour codes and surrounding space.
func textLines(out []byte) []string {
	lines := strings.Split(ansiEscape.ReplaceAllString(string(out), ""), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return lines
}

// textField returns the value of the first "key: value" line (ASCII or
// full-width colon).
func textField(lines []string, key string) (string, bool) {
	for _, l := range lines {
		for _, sep := range []string{":", "："} {
			if v, ok := strings.CutPrefix(l, key+sep); ok {
				return strings.TrimSpace(v), true
			}
		}
	}
	return "", false
}

var separatorLine = regexp.MustCompile(`^[─=\-]{3,}$`)

// textSection returns the lines after a "key:" line up to the next separator
// or blank line, joined.
func textSection(lines []string, key string) string {
	for i, l := range lines {
		if l != key+":" && l != key+"：" {
			continue
		}
		var body []string
		for _, b := range lines[i+1:] {
			if b == "" || separatorLine.MatchString(b) {
				break
			}
			body = append(body, b)
		}
		return strings.Join(body, "\n")
	}
	return ""
}

// createAnswer is what create's output says about the submission.
type createAnswer struct {
	ref    string // the id it reports, "" when none
	failed bool
	reason string // why it failed, when it says
}

func parseCreate(stdout []byte) createAnswer {
	objs := jsonObjects(stdout)
	for i := len(objs) - 1; i >= 0; i-- {
		if objs[i].isLog() {
			continue
		}
		var ans createAnswer
		var status string
		success, said := objs[i].success()
		scopes := objs[i].scopes()
		for _, s := range scopes {
			ans.ref = cmp.Or(ans.ref, s.firstStr("taskId", "task_id", "id"))
			status = cmp.Or(status, s.firstStr("status"))
		}
		if ans.ref == "" && status == "" && !said {
			continue
		}
		if creatorwire.PhaseOf(status) == ports.PhaseFailed || said && !success {
			ans.failed = true
			for _, s := range scopes {
				if e := errorOf(s); !e.IsZero() {
					ans.reason = e.String()
					break
				}
			}
		}
		return ans
	}

	lines := textLines(stdout)
	ans := createAnswer{}
	ans.ref, _ = textField(lines, "任务ID")
	if label, ok := textField(lines, "状态"); ok && creatorwire.PhaseOf(stateFromLabel(label)) == ports.PhaseFailed {
		ans.failed = true
		ans.reason = textSection(lines, "错误信息")
		if ans.reason == "" {
			ans.reason = lastLoggedError(objs)
		}
	}
	return ans
}

// lastLoggedError returns the "error" of the last JSON log line that has one;
// the published CLI reports a failed run only there.
func lastLoggedError(objs []object) string {
	for i := len(objs) - 1; i >= 0; i-- {
		if !objs[i].isLog() {
			continue
		}
		if msg := objs[i].firstStr("error", "errorMessage"); msg != "" {
			return msg
		}
	}
	return ""
}

// parseStatus reads a status answer, JSON or else the published CLI's text;
// ok is false when there is none.
func parseStatus(stdout []byte) (st ports.CreatorStatus, ok bool) {
	if a, found := answer(jsonObjects(stdout), hasString("status")); found {
		st.Raw, _ = a.str("status")
		st.Phase = creatorwire.PhaseOf(st.Raw)
		st.Progress = progressOf(a)
		st.Error = errorOf(a)
		st.UpdatedAt = creatorwire.UpdateTime(a.firstStr("updatedAt", "updated_at"))
		if step := a.firstStr("currentStep"); step != "" && st.Progress == nil {
			st.Progress = &domain.ProgressReport{Stage: step}
		}
		return st, true
	}
	return parseStatusText(stdout)
}

// parseStatusText reads the published CLI's `status -t ID` text: "状态: ✅ 已完成",
// and the reason on the lines after "错误信息:".
func parseStatusText(stdout []byte) (st ports.CreatorStatus, ok bool) {
	lines := textLines(stdout)
	label, found := textField(lines, "状态")
	if !found || label == "" {
		return st, false
	}
	st.Raw = stateFromLabel(label)
	st.Phase = creatorwire.PhaseOf(st.Raw)
	st.Error = domain.TaskError{Message: textSection(lines, "错误信息")}
	// "当前步骤: 无" is no step; any other is how far the run has got (§14).
	if step, ok := textField(lines, "当前步骤"); ok && step != "" && step != "无" {
		st.Progress = &domain.ProgressReport{Stage: step}
	}
	return st, true
}

// progressOf reads "progress" as a number or {percentage, stage, message}.
func progressOf(o object) *domain.ProgressReport {
	if pct, ok := o.num("progress"); ok {
		return &domain.ProgressReport{Percentage: pct}
	}
	p, ok := o.obj("progress")
	if !ok {
		return nil
	}
	var r domain.ProgressReport
	r.Percentage, _ = p.num("percentage")
	r.Stage, _ = p.str("stage")
	r.Message, _ = p.str("message")
	return &r
}

// errorOf reads "error" (a string or {message, code, type}) or
// "errorMessage".
func errorOf(o object) domain.TaskError {
	var e domain.TaskError
	if s, ok := o.str("error"); ok {
		e.Message = s
	} else if eo, ok := o.obj("error"); ok {
		e.Message, _ = eo.str("message")
		e.Type, _ = eo.str("type")
		e.Code = scalarText(eo["code"])
	}
	if e.Message == "" {
		e.Message = o.firstStr("errorMessage", "error_message")
	}
	return e
}

// scalarText renders a JSON string or number as text ("" otherwise).
func scalarText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// parseResult reads a result answer. Without content it says why, for the
// error: the state the CLI reported, or its "not finished" line.
func parseResult(stdout []byte) (domain.Result, string) {
	objs := jsonObjects(stdout)
	a, ok := answer(objs, hasString("content"))
	if !ok {
		return domain.Result{}, noResultReason(objs, textLines(stdout))
	}
	r := domain.Result{
		Content:     a.firstStr("content"),
		HTMLContent: a.firstStr("htmlContent", "html_content"),
		Images:      imagesOf(a),
	}
	for _, k := range []string{"qualityScore", "quality_score"} {
		if q, ok := a.num(k); ok {
			r.QualityScore = &q
			break
		}
	}
	for _, k := range []string{"wordCount", "word_count"} {
		if w, ok := a.num(k); ok && w >= 0 {
			n := int(w)
			r.WordCount = &n
			break
		}
	}
	if m, ok := a["metrics"]; ok && !bytes.Equal(bytes.TrimSpace(m), []byte("null")) {
		var buf bytes.Buffer
		if json.Compact(&buf, m) == nil {
			r.Metrics = buf.Bytes()
		}
	}
	return r, ""
}

// imagesOf reads "images" as URLs, from strings or objects with "url".
func imagesOf(o object) []string { return creatorwire.ImageURLs(o["images"]) }

func noResultReason(objs []object, lines []string) string {
	if a, ok := answer(objs, hasString("status")); ok {
		status, _ := a.str("status")
		return "the answer has no content (status " + strconv.Quote(status) + ")"
	}
	if l, ok := notFinishedLine(lines); ok {
		return l
	}
	return "no JSON object with content in the output"
}

// notFinishedLine returns the line in which the CLI says the task has no
// result yet (the published one's "⚠️  任务尚未完成，当前状态: …"), without its
// leading symbols.
func notFinishedLine(lines []string) (string, bool) {
	for _, l := range lines {
		if strings.Contains(l, "尚未完成") || strings.Contains(strings.ToLower(l), "not finished") {
			return strings.TrimLeftFunc(l, func(r rune) bool { return !unicode.IsLetter(r) }), true
		}
	}
	return "", false
}

// unknownTaskText matches how a CLI says it does not know a task: the
// published one's "❌ 错误: 未找到任务 <id>", or English "task … not found".
var unknownTaskText = regexp.MustCompile(`(?i)未找到任务|任务不存在|task\b[^\n]*\bnot found|not found[^\n]*\btask|unknown task|no such task`)

// saysUnknownTask looks at the end of each stream, where a CLI's last words
// are, so the cost does not grow with its output.
func saysUnknownTask(out output) bool { return out.endMatches(unknownTaskText) }

// usageError matches how a CLI refuses its arguments: the published one's
// "❌ 参数错误: • 缺少必需参数: requirements" and "参数验证失败", commander.js's
// "error: unknown option '--x'", the simulator's "usage: …" (after a
// "❌ 错误: …" line).
var usageError = regexp.MustCompile(`(?mi)缺少必需参数|参数错误|参数验证失败|未知的工作流类型|` +
	`^\s*usage:|\berror: (unknown option|required option|missing required argument|option '[^'\n]*' argument missing|unknown command|too many arguments)`)

// refusesUsage reports whether the CLI refused its arguments: running it
// again with the same ones fails the same way.
func refusesUsage(out output) bool { return out.endMatches(usageError) }

// queuedForWorker reports whether create printed the published CLI's async
// banner ("模式: 异步（队列）", "状态: 等待 Worker 处理"): the job waits for a worker
// process, under an id of its own.
func queuedForWorker(stdout []byte) bool {
	lines := textLines(stdout)
	state, _ := textField(lines, "状态")
	mode, _ := textField(lines, "模式")
	return strings.Contains(state, "等待 Worker") || strings.Contains(mode, "异步（队列）")
}

// unknownJSONOption matches how commander.js rejects --json: "error: unknown
// option '--json'" (with or without its prefix, maybe followed by a
// suggestion).
var unknownJSONOption = regexp.MustCompile(`(?i)unknown option[^\n]*--json\b`)

// rejectsJSONOption reports whether the CLI said it has no --json option.
func rejectsJSONOption(out output) bool { return out.endMatches(unknownJSONOption) }

// endMatches reports whether re matches the end of stderr or of stdout.
func (o output) endMatches(re *regexp.Regexp) bool {
	end := func(b []byte) []byte { return b[max(0, len(b)-tailWindow):] }
	return re.Match(end(o.stderr)) || re.Match(end(o.stdout))
}
