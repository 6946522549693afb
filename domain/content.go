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
