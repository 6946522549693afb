package domain

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Article is what the service derives from a finished article's Markdown
// (§3): its first heading, the start of its plain text, and its length in
// words.
type Article struct {
	Heading string // the first heading outside code, markup removed; "" when there is none
	Summary string // the first SummaryRunes characters of the plain text
	Words   int    // words of the plain text (CountWords); 0 when they were not counted
	Counted bool   // whether Words was counted
}

// DescribeArticle derives an article's heading and summary, and its word count
// when countWords is set, in one pass over the Markdown.
//
// Why a hand-written scanner rather than regular expressions or a Markdown
// parser: the article comes from outside and may be 5 MiB of whatever its
// sender likes, and it is read on every completion. This scanner runs in time
// linear in its input whatever the input (each byte is looked at a bounded
// number of times: the searches for a closing "]", ")" or ">" remember where
// they stopped), allocates only the heading and the summary, and stops as
// soon as it has what was asked for — usually after the first few hundred
// bytes, since senders give their own word count. The markup rules are the
// few of §3 (headings, emphasis, links, images, code fences, quotes, list
// markers, rules, HTML tags), applied line by line; a full CommonMark tree
// (goldmark) would cost allocations in proportion to the article and keep
// this package from being standard-library only.
func DescribeArticle(markdown string, countWords bool) Article {
	s := articleScanner{limit: SummaryRunes, countWords: countWords}
	s.scan(markdown)
	return Article{Heading: s.heading, Summary: string(s.summary), Words: s.words.count, Counted: countWords}
}

// FirstHeading returns the text of the first Markdown heading outside code
// fences, without markup, or "" when there is none.
func FirstHeading(md string) string {
	return DescribeArticle(md, false).Heading
}

// PlainText is the whole article as plain text: Markdown markup removed
// (headings, emphasis, links, images, code fences, quotes, list markers,
// rules, HTML tags) and white space folded. A summary is its start.
func PlainText(md string) string {
	s := articleScanner{limit: -1}
	s.scan(md)
	return string(s.summary)
}

// articleScanner reads Markdown line by line and feeds the plain text to
// the summary and the word counter.
type articleScanner struct {
	limit      int  // summary runes wanted; negative: all of them
	countWords bool // feed every word to the counter

	heading      string
	headingFound bool

	summary      []byte
	summaryRunes int
	pendingSpace bool // white space seen since the last character written

	words wordCounter

	// Code fence state: the fence's character and length while inside one.
	fenceChar byte
	fenceLen  int
}

func (s *articleScanner) summaryFull() bool {
	return s.limit >= 0 && s.summaryRunes >= s.limit
}

// needText reports whether plain text is still wanted.
func (s *articleScanner) needText() bool {
	return s.countWords || !s.summaryFull()
}

func (s *articleScanner) scan(md string) {
	for len(md) > 0 {
		var line string
		if i := strings.IndexByte(md, '\n'); i >= 0 {
			line, md = md[:i], md[i+1:]
		} else {
			line, md = md, ""
		}
		line = strings.TrimRight(line, "\r")
		text := s.needText()
		if !text && s.headingFound {
			return
		}
		s.line(line, text)
		s.space()
	}
	s.words.end()
}

// line handles one line. With text false only headings and fences matter.
func (s *articleScanner) line(line string, text bool) {
	if s.fenceLen > 0 {
		if closesFence(line, s.fenceChar, s.fenceLen) {
			s.fenceLen = 0
		} else if text {
			s.text(line) // code is kept, as written
		}
		return
	}
	if c, n, ok := opensFence(line); ok {
		s.fenceChar, s.fenceLen = c, n
		return
	}
	heading, isHeading := atxHeading(line)
	if !text {
		if isHeading {
			s.takeHeading(heading)
		}
		return
	}
	if isRule(line) || isReferenceDefinition(line) {
		return
	}
	if isHeading {
		s.takeHeading(heading)
		line = heading
	}
	line = trimListMarker(trimQuoteMarkers(line))
	inline(line, true, s.text)
}

func (s *articleScanner) takeHeading(raw string) {
	if s.headingFound {
		return
	}
	var title articleScanner // a heading's own plain text, whole
	title.limit = -1
	inline(raw, true, title.text)
	if len(title.summary) > 0 {
		s.heading, s.headingFound = string(title.summary), true
	}
}

// space is white space between pieces of text.
func (s *articleScanner) space() {
	s.pendingSpace = true
	if s.countWords {
		s.words.end()
	}
}

// text feeds plain text to the summary (white space folded) and the counter.
func (s *articleScanner) text(t string) {
	for i := 0; i < len(t); {
		if !s.needText() {
			return
		}
		c := t[i]
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(t[i:])
		}
		i += size
		if isSpace(r) {
			s.space()
			continue
		}
		if s.countWords {
			s.words.add(r)
		}
		if s.summaryFull() {
			continue
		}
		if s.pendingSpace && len(s.summary) > 0 {
			s.summary = append(s.summary, ' ')
			s.summaryRunes++
			if s.summaryFull() {
				continue
			}
		}
		s.pendingSpace = false
		s.summary = utf8.AppendRune(s.summary, r) // an invalid byte becomes U+FFFD
		s.summaryRunes++
	}
}

func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		switch r {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			return true
		}
		return false
	}
	return unicode.IsSpace(r)
}

// wordCounter is CountWords fed one rune at a time.
type wordCounter struct {
	count        int
	inWord       bool
	wordHasAlnum bool
}

func (w *wordCounter) end() {
	if w.inWord && w.wordHasAlnum {
		w.count++
	}
	w.inWord, w.wordHasAlnum = false, false
}

func (w *wordCounter) add(r rune) {
	switch {
	case r < utf8.RuneSelf:
		switch {
		case r == ' ' || r >= '\t' && r <= '\r':
			w.end()
		default:
			w.inWord = true
			if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
				w.wordHasAlnum = true
			}
		}
	case isCJK(r):
		w.end()
		w.count++
	case unicode.IsSpace(r) || unicode.Is(unicode.P, r):
		w.end()
	default:
		w.inWord = true
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			w.wordHasAlnum = true
		}
	}
}

// CountWords counts CJK characters one each and other words by white space; a
// token without a letter or digit (punctuation) is not a word.
func CountWords(s string) int {
	var w wordCounter
	for _, r := range s {
		w.add(r)
	}
	w.end()
	return w.count
}

func isCJK(r rune) bool {
	if r >= 0x4E00 && r <= 0x9FFF { // CJK Unified Ideographs: the bulk of Chinese text
		return true
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// Block-level rules. Each looks at one line, once.

// leadingSpaces returns how many spaces start line, up to max+1.
func leadingSpaces(line string, max int) int {
	n := 0
	for n < len(line) && n <= max && line[n] == ' ' {
		n++
	}
	return n
}

// opensFence recognises a code fence: up to three spaces, then three or more
// backticks or tildes.
func opensFence(line string) (byte, int, bool) {
	i := leadingSpaces(line, 3)
	if i > 3 || i >= len(line) || (line[i] != '`' && line[i] != '~') {
		return 0, 0, false
	}
	c, n := line[i], 0
	for i+n < len(line) && line[i+n] == c {
		n++
	}
	if n < 3 || (c == '`' && strings.IndexByte(line[i+n:], '`') >= 0) {
		return 0, 0, false
	}
	return c, n, true
}

// closesFence: the fence's character, at least as many, and nothing else.
func closesFence(line string, c byte, length int) bool {
	i := leadingSpaces(line, 3)
	if i > 3 {
		return false
	}
	n := 0
	for i+n < len(line) && line[i+n] == c {
		n++
	}
	return n >= length && strings.Trim(line[i+n:], " \t") == ""
}

// atxHeading recognises "# Title": up to three spaces, one to six #, white
// space, the text, optionally closing #s after white space. A # inside the
// text ("# Learn C#") stays.
func atxHeading(line string) (string, bool) {
	i := leadingSpaces(line, 3)
	if i > 3 {
		return "", false
	}
	n := 0
	for i+n < len(line) && line[i+n] == '#' {
		n++
	}
	if n == 0 || n > 6 || i+n >= len(line) || (line[i+n] != ' ' && line[i+n] != '\t') {
		return "", false
	}
	text := strings.Trim(line[i+n:], " \t")
	if strings.Trim(text, "#") == "" {
		return "", true // only a closing sequence: an empty heading
	}
	if k := len(strings.TrimRight(text, "#")); k < len(text) && (text[k-1] == ' ' || text[k-1] == '\t') {
		text = strings.TrimRight(text[:k], " \t")
	}
	return text, true
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// isRule: three or more of -, * and _, with white space between and nothing else.
func isRule(line string) bool {
	marks := 0
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '-' || c == '*' || c == '_':
			marks++
		case isASCIISpace(c):
		default:
			return false
		}
	}
	return marks >= 3
}

// isReferenceDefinition: "[label]: destination".
func isReferenceDefinition(line string) bool {
	i := leadingSpaces(line, 3)
	if i > 3 || i >= len(line) || line[i] != '[' {
		return false
	}
	end := strings.IndexByte(line[i+1:], ']')
	if end <= 0 {
		return false
	}
	rest := line[i+1+end+1:]
	if len(rest) == 0 || rest[0] != ':' {
		return false
	}
	return strings.TrimLeft(rest[1:], " \t\n\v\f\r") != ""
}

func trimQuoteMarkers(line string) string {
	i := 0
	for i < len(line) && isASCIISpace(line[i]) {
		i++
	}
	if i >= len(line) || line[i] != '>' {
		return line
	}
	for i < len(line) && (line[i] == '>' || isASCIISpace(line[i])) {
		i++
	}
	return line[i:]
}

// trimListMarker drops one "-", "*", "+", "1." or "1)" marker and the white
// space after it.
func trimListMarker(line string) string {
	i := 0
	for i < len(line) && isASCIISpace(line[i]) {
		i++
	}
	switch {
	case i < len(line) && (line[i] == '-' || line[i] == '*' || line[i] == '+'):
		i++
	case i < len(line) && line[i] >= '0' && line[i] <= '9':
		for i < len(line) && line[i] >= '0' && line[i] <= '9' {
			i++
		}
		if i >= len(line) || (line[i] != '.' && line[i] != ')') {
			return line
		}
		i++
	default:
		return line
	}
	j := i
	for j < len(line) && isASCIISpace(line[j]) {
		j++
	}
	if j == i {
		return line // "-x" and "1.5" are text
	}
	return line[j:]
}

// Inline rules.

// inlineSpecial marks the bytes where inline markup may start.
var inlineSpecial = [256]bool{'*': true, '_': true, '~': true, '`': true, '[': true, '!': true, '<': true}

// inline writes s without inline markup to out: emphasis marks (*, _, ~~,
// backticks) dropped, links and images replaced by their text, HTML tags
// dropped. Link text is written the same way, without links inside (links
// do not nest). Linear: every search for a closing character continues where
// the previous one for that character stopped.
func inline(s string, links bool, out func(string)) {
	closeBracket := finder{s: s, c: ']', start: -1}
	closeParen := finder{s: s, c: ')', start: -1}
	closeAngle := finder{s: s, c: '>', start: -1}
	// link recognises [text](destination) at i: the text ends at the first
	// "]", the destination at the first ")" after it.
	link := func(i int) (text string, end int, ok bool) {
		j := closeBracket.next(i + 1)
		if j < 0 || j+1 >= len(s) || s[j+1] != '(' {
			return "", 0, false
		}
		k := closeParen.next(j + 2)
		if k < 0 {
			return "", 0, false
		}
		return s[i+1 : j], k + 1, true
	}

	lit := 0 // start of the literal text not yet written
	flush := func(upto int) {
		if upto > lit {
			out(s[lit:upto])
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if !inlineSpecial[c] {
			i++
			continue
		}
		switch c {
		case '*', '`':
			flush(i)
			i++
			lit = i
		case '~':
			if i+1 < len(s) && s[i+1] == '~' {
				flush(i)
				i += 2
				lit = i
			} else {
				i++
			}
		case '_':
			n := 1
			for i+n < len(s) && s[i+n] == '_' {
				n++
			}
			// A single underscore inside a word (snake_case) is text.
			if n == 1 && i > 0 && i+1 < len(s) && isWordByte(s[i-1]) && isWordByte(s[i+1]) {
				i++
				continue
			}
			flush(i)
			i += n
			lit = i
		case '[':
			if !links {
				i++
				continue
			}
			// A linked image, [![alt](src)](href), reads as its alt text.
			if i+2 < len(s) && s[i+1] == '!' && s[i+2] == '[' {
				if alt, end, ok := link(i + 2); ok && end+1 < len(s) && s[end] == ']' && s[end+1] == '(' {
					if k := closeParen.next(end + 2); k >= 0 {
						flush(i)
						inline(alt, false, out)
						i = k + 1
						lit = i
						continue
					}
				}
			}
			if text, end, ok := link(i); ok {
				flush(i)
				inline(text, false, out)
				i = end
				lit = i
				continue
			}
			i++
		case '!':
			if links && i+1 < len(s) && s[i+1] == '[' {
				if alt, end, ok := link(i + 1); ok {
					flush(i)
					inline(alt, false, out)
					i = end
					lit = i
					continue
				}
			}
			i++
		case '<':
			// An HTML tag: "<" then a letter, "/", "!" or "?", up to ">".
			if i+1 < len(s) && isTagStart(s[i+1]) {
				if k := closeAngle.next(i + 1); k >= 0 {
					flush(i)
					i = k + 1
					lit = i
					continue
				}
			}
			i++
		}
	}
	flush(len(s))
}

func isWordByte(c byte) bool {
	return c >= utf8.RuneSelf || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isTagStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '/' || c == '!' || c == '?'
}

// finder finds the next occurrence of c in s at or after a position. It
// remembers its last answer: pos is the first c at or after start (-1: none),
// so a later question from anywhere in [start, pos] costs nothing, and a
// question beyond pos searches on from there. Questions come in increasing
// order, except a linked image's, two bytes back; the total work is linear.
type finder struct {
	s     string
	c     byte
	start int // -1 before the first search
	pos   int
}

func (f *finder) next(from int) int {
	switch {
	case f.start >= 0 && from >= f.start && (f.pos < 0 || from <= f.pos):
		return f.pos
	case f.start >= 0 && from < f.start:
		if k := strings.IndexByte(f.s[from:f.start], f.c); k >= 0 {
			return from + k
		}
		f.start = from
		return f.pos
	}
	f.start = from
	if k := strings.IndexByte(f.s[from:], f.c); k >= 0 {
		f.pos = from + k
	} else {
		f.pos = -1
	}
	return f.pos
}
