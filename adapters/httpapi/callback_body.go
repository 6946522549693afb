package httpapi

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/valyala/fastjson"

	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// CallbackWire is how content-creator's callbacks come over HTTP: JSON
// bodies, read with sonic and fastjson (encoding/json's behaviour, several
// times its speed), and answers with status codes.
type CallbackWire struct{}

var _ application.CallbackWire = CallbackWire{}

// PeekCallback is peekCallback.
func (CallbackWire) PeekCallback(body []byte) (application.CallbackPeek, bool) {
	return peekCallback(body)
}

// DecodeCallback validates a callback body and decodes it once. A body that
// is not a JSON object is a PayloadError with code invalid_json (§3 step 1);
// missing or unknown events and fields of the wrong type are PayloadErrors
// with other codes (step 4).
func (CallbackWire) DecodeCallback(body []byte) (application.CallbackPayload, error) {
	return decodeCallback(body, true)
}

// SettledStatus: 422 for a completion without an article (the handler's
// answer, which fails the attempt), else 200 — content-creator re-sends on
// any other 2xx.
func (CallbackWire) SettledStatus(d application.CallbackDisposition) int {
	if d == application.CallbackInvalidResult {
		return http.StatusUnprocessableEntity
	}
	return http.StatusOK
}

// RefusedStatus is abortWithError's status for the refusals a callback is
// recorded with: 403 without a credential, 401 with a wrong one, else 400
// (the body).
func (CallbackWire) RefusedStatus(err error) int {
	switch {
	case errors.Is(err, ports.ErrCredentialMissing):
		return http.StatusForbidden
	case errors.Is(err, ports.ErrCredentialInvalid):
		return http.StatusUnauthorized
	default:
		return http.StatusBadRequest
	}
}

func payloadError(code, format string, args ...any) error {
	return &application.PayloadError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// wirePayload mirrors the JSON: loose types where real senders vary, and
// the article's two large strings decoded straight into strings (no second
// pass).
type wirePayload struct {
	Event     *string         `json:"event"`
	TaskID    json.RawMessage `json:"taskId"`
	Timestamp json.RawMessage `json:"timestamp"`
	Result    *resultWire     `json:"result"`
	Error     json.RawMessage `json:"error"`
	Progress  json.RawMessage `json:"progress"`
}

type resultWire struct {
	Content      string          `json:"content"`
	HTMLContent  string          `json:"htmlContent"`
	Images       json.RawMessage `json:"images"`
	QualityScore json.RawMessage `json:"qualityScore"`
	WordCount    json.RawMessage `json:"wordCount"`
	Metrics      json.RawMessage `json:"metrics"`
}

// checkJSONObject is the first step of §3: the body must be a JSON object.
func checkJSONObject(body []byte) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' || !validJSON(body) {
		return payloadError("invalid_json", "body must be a JSON object")
	}
	return nil
}

// maxNesting is encoding/json's own limit on nested arrays and objects.
const maxNesting = 10000

// validJSON is json.Valid, 20–30 times faster on an article: fastjson's
// validator accepts what encoding/json does (the grammar of RFC 8259, invalid
// UTF-8 let through) with two gaps, each left to the standard library: it
// misses a control character in a string before an escape sequence (a body
// with any byte below 0x20 — JSON.stringify writes none — is checked by
// json.Valid), and it recurses once per nesting level with no limit (so does
// a body with more brackets than encoding/json's nesting limit, wherever they
// are). FuzzValidJSONMatchesEncodingJSON holds the two together.
func validJSON(body []byte) bool {
	if hasControlByte(body) || bytes.Count(body, []byte{'['})+bytes.Count(body, []byte{'{'}) > maxNesting {
		return json.Valid(body)
	}
	return fastjson.ValidateBytes(body) == nil
}

// hasControlByte reports whether b holds a byte below 0x20, eight bytes at a
// time: a byte x < 0x20 is one where x - 0x20 borrows into its high bit while
// x's own high bit is clear.
func hasControlByte(b []byte) bool {
	const highs, spaces = 0x8080808080808080, 0x20 * 0x0101010101010101
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		if (w-spaces)&^w&highs != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// decodeFast is sonic.ConfigStd.Unmarshal without its copy of the whole
// body: sonic decodes a string, and its Unmarshal copies the []byte into one
// (48 KB for a callback carrying a 20 KB article twice, a third of what
// decoding it allocates). A view of body is safe because ConfigStd copies
// out every string it keeps and json.RawMessage copies its bytes, so nothing
// decoded refers to body, which the HTTP adapter reuses
// (TestDecodedCallbackOutlivesItsBody).
func decodeFast(data []byte, v any) error {
	if len(data) == 0 {
		return sonic.ConfigStd.Unmarshal(data, v)
	}
	return sonic.ConfigStd.UnmarshalFromString(unsafe.String(unsafe.SliceData(data), len(data)), v)
}

func decodeCallback(body []byte, fast bool) (application.CallbackPayload, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return application.CallbackPayload{}, payloadError("invalid_json", "body must be a JSON object")
	}
	var (
		w       wirePayload
		err     error
		typeErr *json.UnmarshalTypeError
	)
	if !fast || !validJSON(body) || decodeFast(body, &w) != nil {
		// sonic (ConfigStd: encoding/json's behaviour, strings copied out of
		// the body, which the HTTP adapter reuses) decodes a body several
		// times faster than encoding/json. It skips unknown fields without
		// validating them fully (nor does its Valid check escapes), so the
		// body is validated first (validJSON). What sonic refuses is decoded
		// again by encoding/json, so that an error — and its field — is
		// always encoding/json's.
		w = wirePayload{}
		err = json.Unmarshal(body, &w)
		if err != nil && !errors.As(err, &typeErr) {
			return application.CallbackPayload{}, payloadError("invalid_json", "body must be a JSON object")
		}
	}
	// Unmarshal decoded what it could and reports the first value of the
	// wrong type; the article's fields matter to completions only.
	if typeErr != nil && !(strings.HasPrefix(typeErr.Field, "result.") && w.Event != nil && strings.TrimSpace(*w.Event) != "completed") {
		return application.CallbackPayload{}, payloadError("invalid_field", "field %q has the wrong type", typeErr.Field)
	}
	if w.Event == nil || strings.TrimSpace(*w.Event) == "" {
		return application.CallbackPayload{}, payloadError("missing_event", "event is required")
	}
	p := application.CallbackPayload{Event: strings.TrimSpace(*w.Event)}
	switch p.Event {
	case "completed", "failed", "progress":
	default:
		return application.CallbackPayload{}, payloadError("unknown_event", "event must be one of completed, failed, progress")
	}
	if p.TaskID, err = optionalString("taskId", w.TaskID); err != nil {
		return application.CallbackPayload{}, err
	}
	if ts, _ := optionalString("timestamp", w.Timestamp); ts != "" {
		if t, perr := time.Parse(time.RFC3339Nano, ts); perr == nil {
			p.Timestamp = t.UTC()
		}
	}
	unmarshal := json.Unmarshal
	if fast {
		unmarshal = decodeFast // the body is valid JSON by now
	}
	switch p.Event {
	case "completed":
		p.Result, err = decodeResult(w, unmarshal)
	case "failed":
		p.Error, err = decodeError(w.Error)
	case "progress":
		p.Progress, err = decodeProgress(w.Progress)
	}
	if err != nil {
		return application.CallbackPayload{}, err
	}
	return p, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func optionalString(field string, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", payloadError("invalid_field", "%s must be a string", field)
	}
	return withoutNUL(s), nil
}

// withoutNUL drops NUL characters: no text column of PostgreSQL can hold
// them, and a sender retrying a body that can never be stored helps nobody.
func withoutNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s // the usual case: no copy
	}
	return strings.ReplaceAll(s, "\x00", "")
}

func optionalNumber(field string, raw json.RawMessage) (*float64, error) {
	if isNull(raw) {
		return nil, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, payloadError("invalid_field", "%s must be a number", field)
	}
	return &f, nil
}

func decodeResult(w wirePayload, unmarshal func([]byte, any) error) (domain.Result, error) {
	var r domain.Result
	if w.Result == nil {
		return r, nil
	}
	r.Content, r.HTMLContent = withoutNUL(w.Result.Content), withoutNUL(w.Result.HTMLContent)
	var err error
	if r.Images, err = decodeImages(w.Result.Images, unmarshal); err != nil {
		return r, err
	}
	if r.QualityScore, err = optionalNumber("result.qualityScore", w.Result.QualityScore); err != nil {
		return r, err
	}
	wc, err := optionalNumber("result.wordCount", w.Result.WordCount)
	if err != nil {
		return r, err
	}
	if wc != nil && *wc >= 0 && *wc <= math.MaxInt32 {
		n := int(*wc)
		r.WordCount = &n
	}
	if !isNull(w.Result.Metrics) {
		r.Metrics = append([]byte(nil), bytes.TrimSpace(w.Result.Metrics)...)
	}
	return r, nil
}

// decodeImages accepts a list of URLs or of objects with a "url".
func decodeImages(raw json.RawMessage, unmarshal func([]byte, any) error) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := unmarshal(raw, &items); err != nil {
		return nil, payloadError("invalid_field", "result.images must be a list")
	}
	urls := make([]string, 0, len(items))
	for _, item := range items {
		var u string
		item = bytes.TrimSpace(item)
		switch {
		case isNull(item):
		case item[0] == '"':
			if err := unmarshal(item, &u); err != nil {
				return nil, payloadError("invalid_field", "result.images items must be URLs or objects with a url")
			}
		case item[0] == '{':
			var obj struct {
				URL       string `json:"url"`
				LocalPath string `json:"localPath"`
			}
			if err := unmarshal(item, &obj); err != nil {
				return nil, payloadError("invalid_field", "result.images items must be URLs or objects with a url")
			}
			if u = strings.TrimSpace(withoutNUL(obj.URL)); u == "" {
				u = obj.LocalPath
			}
		default:
			return nil, payloadError("invalid_field", "result.images items must be URLs or objects with a url")
		}
		if u = strings.TrimSpace(withoutNUL(u)); u != "" {
			urls = append(urls, u)
		}
	}
	return urls, nil
}

// decodeError accepts an object {message, code, type} or a bare string.
func decodeError(raw json.RawMessage) (domain.TaskError, error) {
	if isNull(raw) {
		return domain.CreatorExecutionFailed("content-creator reported a failure without details"), nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return domain.CreatorExecutionFailed(withoutNUL(s)), nil
	}
	var obj struct {
		Message json.RawMessage `json:"message"`
		Code    json.RawMessage `json:"code"`
		Type    json.RawMessage `json:"type"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return domain.TaskError{}, payloadError("invalid_field", "error must be an object or a string")
	}
	var e domain.TaskError
	e.Message, _ = optionalString("error.message", obj.Message)
	e.Type, _ = optionalString("error.type", obj.Type)
	e.Code = scalarText(obj.Code)
	return e, nil
}

// scalarText renders a string or number code ("E42", 42) as text.
func scalarText(raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return withoutNUL(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// decodeProgress accepts {percentage, stage, message} or a bare number.
func decodeProgress(raw json.RawMessage) (domain.ProgressReport, error) {
	var p domain.ProgressReport
	if isNull(raw) {
		return p, nil
	}
	if f, err := optionalNumber("progress", raw); err == nil {
		p.Percentage = *f
		return p, nil
	}
	var obj struct {
		Percentage json.RawMessage `json:"percentage"`
		Stage      json.RawMessage `json:"stage"`
		Message    json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return p, payloadError("invalid_field", "progress must be an object")
	}
	pct, err := optionalNumber("progress.percentage", obj.Percentage)
	if err != nil {
		return p, err
	}
	if pct != nil {
		p.Percentage = *pct
	}
	if p.Stage, err = optionalString("progress.stage", obj.Stage); err != nil {
		return p, err
	}
	if p.Message, err = optionalString("progress.message", obj.Message); err != nil {
		return p, err
	}
	return p, nil
}

// peekCallback reads the top-level "event", "taskId" and "timestamp" of a
// callback body without decoding the rest: sonic skips over the other values
// (the article's strings) without decoding them. It does not validate the
// body, and a key spelled in another case or given twice may be read
// otherwise than decoding would: it only picks a delivery id to look up, and
// a recorded id belongs to an accepted body, byte for byte — a body read
// wrongly yields an id that no accepted delivery has, and takes the full
// path. ok is false when there is no event of the three.
func peekCallback(body []byte) (p application.CallbackPeek, ok bool) {
	str := func(key string) string {
		n, err := sonic.Get(body, key)
		if err != nil {
			return ""
		}
		s, err := n.String()
		if err != nil {
			return ""
		}
		return s
	}
	p.Event = strings.TrimSpace(str("event"))
	switch p.Event {
	case "completed", "failed", "progress":
	default:
		return p, false
	}
	p.TaskID = str("taskId")
	if t, err := time.Parse(time.RFC3339Nano, str("timestamp")); err == nil {
		p.Timestamp = t.UTC()
	}
	return p, true
}
