// Package taskstore keeps the simulator's tasks on disk, one JSON file per task, so that the short-lived CLI
// commands and the detached worker share them. Writes are atomic (temp file + rename), so a concurrent reader
// never sees a torn file; read-modify-write updates hold a per-task file lock.
package taskstore

import (
	"regexp"
	"time"
)

// Status is a task's state, named as the real content-creator names it.
type Status string

const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Terminal reports whether nothing more will happen to a task in this status.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled
}

// validID is what the simulator accepts as a task id. Ids become file names, so nothing that could leave the
// state directory (no dots, no slashes) is allowed; the service's ids and attempt refs all fit.
var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// ValidID reports whether id can name a task.
func ValidID(id string) bool { return validID.MatchString(id) }

// Task is one simulated generation, as stored.
type Task struct {
	ID             string   `json:"taskId"`
	Type           string   `json:"type"`
	Mode           string   `json:"mode"`
	Topic          string   `json:"topic"`
	Requirements   string   `json:"requirements"`
	TargetAudience string   `json:"targetAudience"`
	Tone           string   `json:"tone,omitempty"`
	Keywords       []string `json:"keywords,omitempty"`
	CallbackURL    string   `json:"callbackUrl,omitempty"`

	Status   Status     `json:"status"`
	Progress Progress   `json:"progress"`
	Error    *TaskError `json:"error,omitempty"`
	Result   *Result    `json:"result,omitempty"`

	// Settings is what create saw in its environment; the worker follows it.
	Settings  Settings `json:"settings"`
	WorkerPID int      `json:"workerPid,omitempty"`

	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
}

// Progress is how far a task has come.
type Progress struct {
	Percentage int    `json:"percentage"`
	Stage      string `json:"stage"`
	Message    string `json:"message"`
}

// TaskError says why a task failed.
type TaskError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    string `json:"code,omitempty"`
}

// Result is a finished article, with the field names of the real sender's callback.
type Result struct {
	Content      string  `json:"content"`
	HTMLContent  string  `json:"htmlContent"`
	Images       []Image `json:"images"`
	QualityScore float64 `json:"qualityScore"`
	WordCount    int     `json:"wordCount"`
	Metrics      Metrics `json:"metrics"`
}

// Image is one illustration of an article.
type Image struct {
	URL       string `json:"url"`
	LocalPath string `json:"localPath"`
	Prompt    string `json:"prompt"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	Format    string `json:"format"`
}

// Metrics is what a generation cost.
type Metrics struct {
	TokensUsed     int      `json:"tokensUsed"`
	Cost           float64  `json:"cost"`
	Duration       int64    `json:"duration"` // milliseconds
	StepsCompleted []string `json:"stepsCompleted"`
}

// Settings is the worker's script: timing, delivery and injected faults, resolved at create time.
type Settings struct {
	Delay         time.Duration `json:"delay"`
	ProgressSteps int           `json:"progressSteps"`

	Fail        bool   `json:"fail,omitempty"`
	FailMessage string `json:"failMessage,omitempty"`
	NoCallback  bool   `json:"noCallback,omitempty"`
	Duplicate   bool   `json:"duplicate,omitempty"`
	OutOfOrder  bool   `json:"outOfOrder,omitempty"`
	Crash       bool   `json:"crash,omitempty"`

	Slow             time.Duration `json:"slow,omitempty"`
	CallbackAttempts int           `json:"callbackAttempts"`
	CallbackBackoff  time.Duration `json:"callbackBackoff"`
	LogPath          string        `json:"logPath,omitempty"`
}
