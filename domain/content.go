package domain

import "time"

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
	// Article is derived from Content (Described). The application derives
	// it before the write transaction, so that nothing CPU-bound runs while
	// the task's row is locked; nil means Apply derives it.
	Article *Article
}

// Described returns r with its Article derived from Content, unless it
// already is. Words are counted only when the sender gave no count.
func (r Result) Described() Result {
	count := r.WordCount == nil || *r.WordCount < 0
	if r.Article == nil || count && !r.Article.Counted {
		a := DescribeArticle(r.Content, count)
		r.Article = &a
	}
	return r
}

// ReviewStatus says whether content may be published.
type ReviewStatus string

const (
	ReviewApproved ReviewStatus = "approved"
	ReviewPending  ReviewStatus = "pending_review"
	ReviewRejected ReviewStatus = "rejected"
)

// Valid reports whether s is a known review status.
func (s ReviewStatus) Valid() bool {
	_, ok := reviewMoves[s]
	return ok
}

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
	// ReviewedAt, Reviewer and ReviewNote record the review move (review.go):
	// who approved or rejected it, when, and the note or the rejection's
	// reason. An auto-approved content has Reviewer ReviewerAuto.
	ReviewedAt time.Time
	Reviewer   string
	ReviewNote string
	Late       bool
	CreatedAt  time.Time
	// Read with the content, never written through it: its publish-pool
	// entry ("" while there is none) and its task's priority, which an
	// approval gives the entry unless told otherwise.
	PoolEntryID  string
	TaskPriority int
}

func newContent(t *Task, r Result, id string, at time.Time) Content {
	article := *r.Described().Article
	title := article.Heading
	if title == "" {
		title = t.topic
	}
	words := article.Words
	if r.WordCount != nil && *r.WordCount >= 0 {
		words = *r.WordCount
	}
	c := Content{
		ID: id, TaskID: t.id, AccountID: t.accountID, Attempt: t.attempt,
		Title: title, Summary: article.Summary,
		Body: r.Content, HTMLContent: r.HTMLContent, Images: append([]string(nil), r.Images...),
		QualityScore: r.QualityScore, WordCount: words, Metrics: r.Metrics,
		ReviewStatus: ReviewPending, CreatedAt: at,
	}
	if len(c.Images) > 0 {
		c.CoverImage = c.Images[0]
	}
	if t.autoApprove {
		c.ReviewStatus, c.Reviewer, c.ReviewedAt = ReviewApproved, ReviewerAuto, at
	}
	return c
}

func newPoolEntry(t *Task, c Content, id string, at time.Time) PoolEntry {
	return NewPoolEntry(id, c, t.priority, at, at)
}
