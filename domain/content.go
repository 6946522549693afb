package domain

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SummaryRunes is how much plain text a summary keeps.
const SummaryRunes = 200

// Result is a finished article as content-creator reports it.
type Result struct {
	Content      string // Markdown
	HTMLContent  string
	Images       []string
	QualityScore *float64
	WordCount    *int   // the sender's count, when given
	Metrics      []byte // raw JSON, kept for audit
}

// ReviewStatus says whether content may be published.
type ReviewStatus string

const (
	ReviewApproved ReviewStatus = "approved"
	ReviewPending  ReviewStatus = "pending_review"
)

// Content is what a completed task turns into.
type Content struct {
	ID           string
	TaskID       string
	AccountID    int64
	Attempt      int
	Title        string
	Summary      string
	Body         string // Markdown as sent
	HTMLContent  string
	Images       []string
	CoverImage   string
	QualityScore *float64
	WordCount    int
	Metrics      []byte
	ReviewStatus ReviewStatus
	Late         bool
	CreatedAt    time.Time
}

// PoolStatus is where a publish-pool entry stands.
type PoolStatus string

// PoolPending is a new entry waiting to be published.
const PoolPending PoolStatus = "pending"

// PoolEntry queues approved content for publishing, with the task's priority.
type PoolEntry struct {
	ID          string
	ContentID   string
	TaskID      string
	AccountID   int64
	Priority    int
	Status      PoolStatus
	ScheduledAt time.Time
	CreatedAt   time.Time
}

func newContent(t *Task, r Result, id string, at time.Time) Content {
	plain := PlainText(r.Content)
	title := FirstHeading(r.Content)
	if title == "" {
		title = t.topic
	}
	words := CountWords(plain)
	if r.WordCount != nil && *r.WordCount >= 0 {
		words = *r.WordCount
	}
	c := Content{
		ID: id, TaskID: t.id, AccountID: t.accountID, Attempt: t.attempt,
		Title: title, Summary: truncateRunes(plain, SummaryRunes),
		Body: r.Content, HTMLContent: r.HTMLContent, Images: append([]string(nil), r.Images...),
		QualityScore: r.QualityScore, WordCount: words, Metrics: r.Metrics,
		ReviewStatus: ReviewPending, CreatedAt: at,
	}
	if len(c.Images) > 0 {
		c.CoverImage = c.Images[0]
	}
	if t.autoApprove {
		c.ReviewStatus = ReviewApproved
	}
	return c
}

func newPoolEntry(t *Task, c Content, id string, at time.Time) PoolEntry {
	return PoolEntry{
		ID: id, ContentID: c.ID, TaskID: t.id, AccountID: t.accountID, Priority: t.priority,
		Status: PoolPending, ScheduledAt: at, CreatedAt: at,
	}
}

var (
	// A closing run of #s counts only after white space, so "# Learn C#" keeps its "#".
	headingLine   = regexp.MustCompile(`^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$`)
	fenceLine     = regexp.MustCompile("^ {0,3}(```|~~~)")
	imageMarkup   = regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`)
	linkMarkup    = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	refLinkDef    = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*\S+.*$`)
	emphasisMarks = regexp.MustCompile("(\\*\\*|__|\\*|~~|`)")
	underscoreEm  = regexp.MustCompile(`(^|\W)_+([^_]+)_+(\W|$)`)
	blockPrefix   = regexp.MustCompile(`^\s*(>\s*)+`)
	listPrefix    = regexp.MustCompile(`^\s*([-*+]|\d+[.)])\s+`)
	ruleLine      = regexp.MustCompile(`^\s*([-*_]\s*){3,}$`)
	htmlTag       = regexp.MustCompile(`<[^>\n]+>`)
)

// FirstHeading returns the text of the first Markdown heading outside code
// fences, without markup, or "" when there is none.
func FirstHeading(md string) string {
	inFence := false
	for _, line := range strings.Split(md, "\n") {
		line = strings.TrimRight(line, "\r")
		if fenceLine.MatchString(line) {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		if m := headingLine.FindStringSubmatch(line); m != nil {
			if title := strings.TrimSpace(inlinePlain(m[2])); title != "" {
				return title
			}
		}
	}
	return ""
}

// PlainText strips Markdown markup (headings, emphasis, links, images, code
// fences, quotes, list markers, rules, HTML tags) and folds white space.
func PlainText(md string) string {
	var b strings.Builder
	for _, line := range strings.Split(md, "\n") {
		line = strings.TrimRight(line, "\r")
		if fenceLine.MatchString(line) || ruleLine.MatchString(line) || refLinkDef.MatchString(line) {
			b.WriteByte(' ')
			continue
		}
		if m := headingLine.FindStringSubmatch(line); m != nil {
			line = m[2]
		}
		line = blockPrefix.ReplaceAllString(line, "")
		line = listPrefix.ReplaceAllString(line, "")
		b.WriteString(inlinePlain(line))
		b.WriteByte(' ')
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func inlinePlain(s string) string {
	s = imageMarkup.ReplaceAllString(s, "$1")
	s = linkMarkup.ReplaceAllString(s, "$1")
	s = htmlTag.ReplaceAllString(s, "")
	s = emphasisMarks.ReplaceAllString(s, "")
	s = underscoreEm.ReplaceAllString(s, "$1$2$3")
	return s
}

// CountWords counts CJK characters one each and other words by white space; a
// token without a letter or digit (punctuation) is not a word.
func CountWords(s string) int {
	count := 0
	inWord, wordHasAlnum := false, false
	endWord := func() {
		if inWord && wordHasAlnum {
			count++
		}
		inWord, wordHasAlnum = false, false
	}
	for _, r := range s {
		switch {
		case isCJK(r):
			endWord()
			count++
		case unicode.IsSpace(r) || unicode.Is(unicode.P, r) && r > unicode.MaxASCII:
			endWord()
		default:
			inWord = true
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				wordHasAlnum = true
			}
		}
	}
	endWord()
	return count
}

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
