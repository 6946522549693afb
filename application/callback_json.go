package application

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A callback body is mostly two copies of a long article in JSON strings.
// encoding/json reads every byte of it twice through a general state
// machine (validation, then decoding); this file reads it once for
// validation with a loop made for long strings, then takes the few fields
// a callback has straight from where they lie. Whatever is unusual — a key
// spelled in another case or with escapes, a key given twice, a field of
// the wrong type — goes to encoding/json instead, so that the outcome is
// always encoding/json's (FuzzDecodeCallbackFastPath compares them).

// maxNestingDepth is encoding/json's limit on nested objects and arrays.
const maxNestingDepth = 10000

// validJSON reports what json.Valid reports.
func validJSON(b []byte) bool {
	var stack []byte // the open containers, '{' or '['
	i := skipSpace(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if len(stack) >= maxNestingDepth {
				return false
			}
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if i = skipSpace(b, i+1); i < len(b) && b[i] == closer {
				i++
				break // an empty container is a whole value
			}
			stack = append(stack, c)
			if c == '{' {
				var ok bool
				if i, ok = objectKey(b, i); !ok {
					return false
				}
			}
			continue // its first value
		case c == '"':
			end, ok := scanString(b, i)
			if !ok {
				return false
			}
			i = end
		case c == '-' || c >= '0' && c <= '9':
			end, ok := scanNumber(b, i)
			if !ok {
				return false
			}
			i = end
		case c == 't':
			if !bytes.HasPrefix(b[i:], []byte("true")) {
				return false
			}
			i += 4
		case c == 'f':
			if !bytes.HasPrefix(b[i:], []byte("false")) {
				return false
			}
			i += 5
		case c == 'n':
			if !bytes.HasPrefix(b[i:], []byte("null")) {
				return false
			}
			i += 4
		default:
			return false
		}
		// A value ended at i: close containers, or go on to the next value.
		for {
			i = skipSpace(b, i)
			if len(stack) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			top := stack[len(stack)-1]
			if b[i] == ',' {
				i = skipSpace(b, i+1)
				if top == '{' {
					var ok bool
					if i, ok = objectKey(b, i); !ok {
						return false
					}
				}
				break
			}
			if top == '{' && b[i] == '}' || top == '[' && b[i] == ']' {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			return false
		}
	}
}

// objectKey reads `"key" :` at i and returns where the value starts.
func objectKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	end, ok := scanString(b, i)
	if !ok {
		return 0, false
	}
	if i = skipSpace(b, end); i >= len(b) || b[i] != ':' {
		return 0, false
	}
	return skipSpace(b, i+1), true
}

// scanString returns the index after the valid JSON string at b[i] ('"').
// Bytes of 0x80 and above pass, as in encoding/json: invalid UTF-8 is
// replaced when the string is decoded.
func scanString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		// Eight bytes at a time while none is a quote, a backslash or a
		// control character: the article's text goes by at this speed.
		for j+8 <= len(b) && !specialWord(binary.LittleEndian.Uint64(b[j:])) {
			j += 8
		}
		if j >= len(b) {
			break
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c == '\\':
			if j+1 >= len(b) {
				return 0, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(b) {
					return 0, false
				}
				for _, h := range b[j+2 : j+6] {
					if !isHex(h) {
						return 0, false
					}
				}
				j += 5
			default:
				return 0, false
			}
		case c < 0x20:
			return 0, false
		}
	}
	return 0, false
}

// specialWord reports whether one of the eight bytes of x is a quote, a
// backslash or below 0x20 (SWAR: each test sets the high bit of the bytes
// that match; bytes of 0x80 and above never match).
func specialWord(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x|(quote-ones)&^quote|(backslash-ones)&^backslash)&highs != 0
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber returns the index after the JSON number at b[i].
func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, true
}

// valueEnd returns the index after the value at b[i] of valid JSON.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := scanString(b, i)
		return end
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i, _ = scanString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		end, _ := scanNumber(b, i)
		return end
	case 't', 'n':
		return i + 4
	}
	return i + 5 // false
}

// objectMembers calls fn with each member of the valid JSON object at b[i]:
// the key as written, between its quotes, and the value. It stops when fn
// returns false, and reports whether it got to the end.
func objectMembers(b []byte, i int, fn func(key, value []byte) bool) bool {
	i = skipSpace(b, i+1)
	if b[i] == '}' {
		return true
	}
	for {
		keyEnd, _ := scanString(b, i)
		key := b[i+1 : keyEnd-1]
		start := skipSpace(b, skipSpace(b, keyEnd)+1) // after the colon
		end := valueEnd(b, start)
		if !fn(key, b[start:end]) {
			return false
		}
		i = skipSpace(b, end)
		if b[i] == '}' {
			return true
		}
		i = skipSpace(b, i+1) // after the comma
	}
}

// decodeWireFast fills w from a body the way json.Unmarshal would, and
// reports false when it cannot be sure to: the body is then left to
// encoding/json (invalid, unusual keys, values of the wrong type).
func decodeWireFast(body []byte, w *wirePayload) bool {
	if !validJSON(body) {
		return false
	}
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return false
	}
	fields := fieldSet{"event", "taskId", "timestamp", "result", "error", "progress"}
	var seen [6]bool
	ok := true
	objectMembers(body, i, func(key, value []byte) bool {
		f, known := fields.match(key)
		if !known {
			return true
		}
		if f < 0 || seen[f] {
			ok = false
			return false
		}
		seen[f] = true
		switch f {
		case 0: // event: *string
			switch value[0] {
			case 'n':
				w.Event = nil
			case '"':
				s := unquote(value)
				w.Event = &s
			default:
				ok = false
			}
		case 1:
			w.TaskID = json.RawMessage(value)
		case 2:
			w.Timestamp = json.RawMessage(value)
		case 3: // result: *struct
			switch value[0] {
			case 'n':
				w.Result = nil
			case '{':
				ok = decodeResultFast(value, w)
			default:
				ok = false
			}
		case 4:
			w.Error = json.RawMessage(value)
		case 5:
			w.Progress = json.RawMessage(value)
		}
		return ok
	})
	return ok
}

func decodeResultFast(value []byte, w *wirePayload) bool {
	w.Result = &resultWire{}
	fields := fieldSet{"content", "htmlContent", "images", "qualityScore", "wordCount", "metrics"}
	var seen [6]bool
	ok := true
	objectMembers(value, 0, func(key, v []byte) bool {
		f, known := fields.match(key)
		if !known {
			return true
		}
		if f < 0 || seen[f] {
			ok = false
			return false
		}
		seen[f] = true
		switch f {
		case 0, 1: // content, htmlContent: string
			var s string
			switch v[0] {
			case 'n':
			case '"':
				s = unquote(v)
			default:
				ok = false
			}
			if f == 0 {
				w.Result.Content = s
			} else {
				w.Result.HTMLContent = s
			}
		case 2:
			w.Result.Images = json.RawMessage(v)
		case 3:
			w.Result.QualityScore = json.RawMessage(v)
		case 4:
			w.Result.WordCount = json.RawMessage(v)
		case 5:
			w.Result.Metrics = json.RawMessage(v)
		}
		return ok
	})
	return ok
}

// fieldSet names a struct's JSON fields. encoding/json matches a key to a
// field exactly, else without regard to case (Unicode folding included).
type fieldSet []string

// match returns the field a key is exactly; known with f == -1 when the key
// may match a field in some other way (another case, escapes, letters
// outside ASCII): only encoding/json can tell then.
func (fs fieldSet) match(key []byte) (f int, known bool) {
	for _, c := range key {
		if c == '\\' || c >= utf8.RuneSelf {
			return -1, true
		}
	}
	for i, name := range fs {
		if string(key) == name {
			return i, true
		}
		if bytes.EqualFold(key, []byte(name)) {
			return -1, true
		}
	}
	return 0, false
}

// unquote decodes a valid JSON string as encoding/json does, invalid UTF-8
// replaced by U+FFFD byte by byte.
func unquote(quoted []byte) string {
	s := quoted[1 : len(quoted)-1]
	var out strings.Builder
	out.Grow(len(s))
	for len(s) > 0 {
		k := bytes.IndexByte(s, '\\')
		if k < 0 {
			k = len(s)
		}
		writeUTF8(&out, s[:k])
		if k == len(s) {
			break
		}
		s = s[k:] // at a backslash; validJSON checked the escape
		switch e := s[1]; e {
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			r := hex4(s[2:6])
			s = s[6:]
			if utf16.IsSurrogate(r) {
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(s[2:6])); dec != utf8.RuneError {
						out.WriteRune(dec)
						s = s[6:]
						continue
					}
				}
				r = utf8.RuneError
			}
			out.WriteRune(r)
			continue
		default: // " \ /
			out.WriteByte(e)
		}
		s = s[2:]
	}
	return out.String()
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// writeUTF8 writes text, each byte that is not part of valid UTF-8
// replaced by U+FFFD.
func writeUTF8(out *strings.Builder, text []byte) {
	if utf8.Valid(text) {
		out.Write(text)
		return
	}
	for len(text) > 0 {
		r, size := utf8.DecodeRune(text)
		out.WriteRune(r)
		text = text[size:]
	}
}
