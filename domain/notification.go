package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// Announcement is the outbound event a review or publish-pool move decides
// (§15): the facts of the change, without the message id the outbox needs.
// The use case turns it into the change's Notification
// (AnnouncementNotification), written in the same transaction. Receivers
// fetch the content or the entry for more.
type Announcement struct {
	Event       NotifyEvent // EventContentApproved, EventContentRejected, EventPoolPublished or EventPoolFailed
	At          time.Time
	AccountID   int64
	TaskID      string
	ContentID   string
	PoolEntryID string
	Reviewer    string // content.*
	Reason      string // content.rejected
	URL         string // pool.published
	PlatformID  string // pool.published
	Error       string // pool.failed
	RetryCount  int    // pool.failed
}

// Subject is what the announcement is about: the content for a review's
// events, the pool entry for a publisher's.
func (a Announcement) Subject() string {
	if a.Event == EventPoolPublished || a.Event == EventPoolFailed {
		return a.PoolEntryID
	}
	return a.ContentID
}

// announcementData is the thin body's data of §15's events: the ids of what
// changed, the same for every event, then only the fields of its event
// (documented in docs/webhooks.md).
type announcementData struct {
	ContentID   string  `json:"content_id"`
	TaskID      string  `json:"task_id"`
	AccountID   int64   `json:"account_id"`
	PoolEntryID *string `json:"pool_entry_id"` // null for content.rejected: it never enters the pool
	Reviewer    *string `json:"reviewer,omitempty"`
	Reason      *string `json:"reason,omitempty"`
	URL         *string `json:"url,omitempty"`
	PlatformID  *string `json:"platform_id,omitempty"`
	Error       *string `json:"error,omitempty"`
	RetryCount  *int    `json:"retry_count,omitempty"`
}

// AnnouncementNotification is the outbox notification of a, with id its
// message id (unique per event).
func AnnouncementNotification(id string, a Announcement) Notification {
	at := a.At.UTC()
	data := announcementData{ContentID: a.ContentID, TaskID: a.TaskID, AccountID: a.AccountID}
	if a.PoolEntryID != "" {
		entry := a.PoolEntryID
		data.PoolEntryID = &entry
	}
	switch a.Event {
	case EventContentApproved:
		data.Reviewer = &a.Reviewer
	case EventContentRejected:
		data.Reviewer, data.Reason = &a.Reviewer, &a.Reason
	case EventPoolPublished:
		data.URL, data.PlatformID = &a.URL, &a.PlatformID
	case EventPoolFailed:
		data.Error, data.RetryCount = &a.Error, &a.RetryCount
	}
	body, err := json.Marshal(notificationBody{Type: a.Event, Timestamp: at, Data: data})
	if err != nil { // plain data: cannot happen
		panic(fmt.Sprintf("encode notification: %v", err))
	}
	return Notification{ID: id, Event: a.Event, Subject: a.Subject(), AccountID: a.AccountID, Payload: body, At: at}
}
