package signature

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrNotCanonicalizable is wrapped by every Canonicalize error: the body is
// not JSON, or is JSON that scheme b cannot reproduce.
var ErrNotCanonicalizable = errors.New("body cannot be canonicalised")

// maxCanonicalDepth bounds nesting. CPython's own recursion limit refuses
// such documents at about the same depth, so no seed sender produced them.
const maxCanonicalDepth = 1000

// Canonicalize re-serialises a JSON document exactly as the seed signed it:
// Python's json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
// encoded as UTF-8 (SIGNATURES.md b). Keys are sorted by code point,
// duplicate keys resolve last-wins, strings are ASCII with lower-case \u
// escapes (surrogate pairs beyond the BMP), integers are kept as written
// (any size; -0 becomes 0) and floats take Python's repr.
//
// Where Python would accept the input but the result is not JSON, or the
// input is not JSON, this refuses (ErrNotCanonicalizable) and scheme b
// cannot verify such a body:
//   - NaN, Infinity, -Infinity, and float literals beyond float64 range
//     (Python turns 1e400 into inf and writes Infinity);
//   - bodies that are not UTF-8 (Python also guesses UTF-16/32, and lets
//     UTF-8-encoded surrogates through);
//   - nesting deeper than 1000.
//
// A leading UTF-8 byte order mark is skipped, as Python's json.loads does for
// bytes. Unlike Python ≥ 3.11 integers longer than 4300 digits are accepted.
func Canonicalize(body []byte) ([]byte, error) {
	p := canonicalParser{data: body}
	p.pos = len(body) - len(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return nil, p.fail("extra data after the document")
	}
	return v.appendTo(make([]byte, 0, len(body))), nil
}

// jsonValue is a parsed document. Strings hold UTF-8 in which unpaired
// surrogates (from \u escapes) appear as their 3-byte encoding, so byte order
// stays code point order, the order Python sorts keys by.
type jsonValue struct {
	kind    jsonKind
	text    string // string value, or the literal to write for numbers and constants
	elems   []jsonValue
	members []jsonMember
}

type jsonKind uint8

const (
	kindLiteral jsonKind = iota // number, true, false, null: text is the output
	kindString
	kindArray
	kindObject
)

type jsonMember struct {
	key   string
	value jsonValue
}

type canonicalParser struct {
	data []byte
	pos  int
}

func (p *canonicalParser) fail(msg string) error {
	return fmt.Errorf("%w: offset %d: %s", ErrNotCanonicalizable, p.pos, msg)
}

func (p *canonicalParser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *canonicalParser) value(depth int) (jsonValue, error) {
	if p.pos >= len(p.data) {
		return jsonValue{}, p.fail("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		s, err := p.string()
		return jsonValue{kind: kindString, text: s}, err
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if bytes.HasPrefix(p.data[p.pos:], []byte(lit)) {
				p.pos += len(lit)
				return jsonValue{kind: kindLiteral, text: lit}, nil
			}
		}
		return jsonValue{}, p.fail("expecting a value")
	}
}

func (p *canonicalParser) object(depth int) (jsonValue, error) {
	if depth > maxCanonicalDepth {
		return jsonValue{}, p.fail("nested too deeply")
	}
	p.pos++ // {
	var members []jsonMember
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return jsonValue{kind: kindObject}, nil
	}
	for {
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return jsonValue{}, p.fail("expecting a property name in double quotes")
		}
		key, err := p.string()
		if err != nil {
			return jsonValue{}, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return jsonValue{}, p.fail("expecting ':'")
		}
		p.pos++
		p.skipSpace()
		val, err := p.value(depth)
		if err != nil {
			return jsonValue{}, err
		}
		members = append(members, jsonMember{key: key, value: val})
		p.skipSpace()
		if p.pos < len(p.data) && p.data[p.pos] == ',' {
			p.pos++
			p.skipSpace()
			continue
		}
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			break
		}
		return jsonValue{}, p.fail("expecting ',' or '}'")
	}

	// Sort by key keeping input order among equal keys, then keep the last
	// of each run: Python's dict lets a repeated key overwrite.
	slices.SortStableFunc(members, func(a, b jsonMember) int { return strings.Compare(a.key, b.key) })
	unique := members[:0]
	for i, m := range members {
		if i+1 < len(members) && members[i+1].key == m.key {
			continue
		}
		unique = append(unique, m)
	}
	return jsonValue{kind: kindObject, members: unique}, nil
}

func (p *canonicalParser) array(depth int) (jsonValue, error) {
	if depth > maxCanonicalDepth {
		return jsonValue{}, p.fail("nested too deeply")
	}
	p.pos++ // [
	var elems []jsonValue
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return jsonValue{kind: kindArray}, nil
	}
	for {
		val, err := p.value(depth)
		if err != nil {
			return jsonValue{}, err
		}
		elems = append(elems, val)
		p.skipSpace()
		if p.pos < len(p.data) && p.data[p.pos] == ',' {
			p.pos++
			p.skipSpace()
			continue
		}
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			return jsonValue{kind: kindArray, elems: elems}, nil
		}
		return jsonValue{}, p.fail("expecting ',' or ']'")
	}
}

// string decodes a JSON string as Python's strict scanner does: control
// characters are refused, \u escapes forming a surrogate pair combine, and
// unpaired surrogate escapes are kept.
func (p *canonicalParser) string() (string, error) {
	p.pos++ // opening quote
	var b []byte
	start := p.pos
	for {
		if p.pos >= len(p.data) {
			return "", p.fail("unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			s := p.data[start:p.pos]
			p.pos++
			if b == nil {
				return string(s), nil
			}
			return string(append(b, s...)), nil
		case c < 0x20:
			return "", p.fail("control character in string")
		case c == '\\':
			b = append(b, p.data[start:p.pos]...)
			var err error
			if b, err = p.escape(b); err != nil {
				return "", err
			}
			start = p.pos
		case c < utf8.RuneSelf:
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", p.fail("invalid UTF-8")
			}
			p.pos += size
		}
	}
}

// escape decodes the escape sequence at p.pos (a backslash) onto b.
func (p *canonicalParser) escape(b []byte) ([]byte, error) {
	if p.pos+1 >= len(p.data) {
		return nil, p.fail("unterminated string")
	}
	c := p.data[p.pos+1]
	p.pos += 2
	switch c {
	case '"', '\\', '/':
		return append(b, c), nil
	case 'b':
		return append(b, '\b'), nil
	case 'f':
		return append(b, '\f'), nil
	case 'n':
		return append(b, '\n'), nil
	case 'r':
		return append(b, '\r'), nil
	case 't':
		return append(b, '\t'), nil
	case 'u':
	default:
		return nil, p.fail("invalid escape")
	}
	r, ok := hex4(p.data[p.pos:])
	if !ok {
		return nil, p.fail(`invalid \uXXXX escape`)
	}
	p.pos += 4
	if 0xD800 <= r && r < 0xDC00 && p.pos+6 <= len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
		low, ok := hex4(p.data[p.pos+2:])
		if !ok {
			p.pos += 2
			return nil, p.fail(`invalid \uXXXX escape`)
		}
		if 0xDC00 <= low && low < 0xE000 {
			p.pos += 6
			return utf8.AppendRune(b, 0x10000+(r-0xD800)<<10+(low-0xDC00)), nil
		}
	}
	if 0xD800 <= r && r < 0xE000 {
		// utf8.AppendRune would write U+FFFD; keep the surrogate itself.
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F), nil
	}
	return utf8.AppendRune(b, r), nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// number reads a JSON number. Integers keep their digits; anything with a
// fraction or exponent is a float and is written as Python's repr.
func (p *canonicalParser) number() (jsonValue, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case p.pos < len(p.data) && '1' <= p.data[p.pos] && p.data[p.pos] <= '9':
		p.digits()
	default:
		return jsonValue{}, p.fail("expecting a value") // "-", "-Infinity", …
	}
	isFloat := false
	// A '.' or 'e' not followed by digits is left for the caller to reject,
	// as Python's scanner does.
	if p.pos+1 < len(p.data) && p.data[p.pos] == '.' && isDigit(p.data[p.pos+1]) {
		p.pos++
		p.digits()
		isFloat = true
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		q := p.pos + 1
		if q < len(p.data) && (p.data[q] == '+' || p.data[q] == '-') {
			q++
		}
		if q < len(p.data) && isDigit(p.data[q]) {
			p.pos = q
			p.digits()
			isFloat = true
		}
	}
	literal := string(p.data[start:p.pos])
	if !isFloat {
		if literal == "-0" {
			literal = "0"
		}
		return jsonValue{kind: kindLiteral, text: literal}, nil
	}
	f, err := strconv.ParseFloat(literal, 64)
	if err != nil || math.IsInf(f, 0) {
		// Only overflow is possible here: Python would write Infinity.
		p.pos = start
		return jsonValue{}, p.fail("float out of range")
	}
	return jsonValue{kind: kindLiteral, text: pythonFloatRepr(f)}, nil
}

func (p *canonicalParser) digits() {
	for p.pos < len(p.data) && isDigit(p.data[p.pos]) {
		p.pos++
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// pythonFloatRepr formats a finite float like Python's repr: the shortest
// digits that round-trip, fixed notation when the decimal exponent is in
// [-4, 16) (always with a fraction), else d.ddde±XX.
func pythonFloatRepr(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	// "-d.dddde±XX": split into sign, significant digits and exponent.
	s := strconv.FormatFloat(f, 'e', -1, 64)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	mantissa, expText, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mantissa, ".", "", 1)

	if exp < -4 || exp >= 16 {
		out := digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		expSign := "+"
		if exp < 0 {
			expSign, exp = "-", -exp
		}
		return fmt.Sprintf("%s%se%s%02d", sign, out, expSign, exp)
	}
	point := exp + 1 // digits before the decimal point
	switch {
	case point <= 0:
		return sign + "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		return sign + digits + strings.Repeat("0", point-len(digits)) + ".0"
	default:
		return sign + digits[:point] + "." + digits[point:]
	}
}

// appendTo writes v as json.dumps(sort_keys=True, separators=(",", ":"))
// with ensure_ascii does (members are already sorted and unique).
func (v jsonValue) appendTo(b []byte) []byte {
	switch v.kind {
	case kindString:
		return appendPythonString(b, v.text)
	case kindArray:
		b = append(b, '[')
		for i, e := range v.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendTo(b)
		}
		return append(b, ']')
	case kindObject:
		b = append(b, '{')
		for i, m := range v.members {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPythonString(b, m.key)
			b = append(b, ':')
			b = m.value.appendTo(b)
		}
		return append(b, '}')
	default:
		return append(b, v.text...)
	}
}

const lowerHex = "0123456789abcdef"

// appendPythonString writes s ASCII-only as Python's ensure_ascii does.
func appendPythonString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20 || c == 0x7F:
				b = appendUEscape(b, rune(c))
			default:
				b = append(b, c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			// An unpaired surrogate, stored as its 3-byte encoding by escape.
			r, size = rune(s[i]&0x0F)<<12|rune(s[i+1]&0x3F)<<6|rune(s[i+2]&0x3F), 3
		}
		i += size
		if r >= 0x10000 {
			r -= 0x10000
			b = appendUEscape(b, 0xD800+r>>10)
			b = appendUEscape(b, 0xDC00+r&0x3FF)
			continue
		}
		b = appendUEscape(b, r)
	}
	return append(b, '"')
}

func appendUEscape(b []byte, r rune) []byte {
	return append(b, '\\', 'u', lowerHex[r>>12&0xF], lowerHex[r>>8&0xF], lowerHex[r>>4&0xF], lowerHex[r&0xF])
}
