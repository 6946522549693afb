package httpapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

// TestOpenAPIDocumentsEveryNotification: the events an endpoint may
// subscribe to are the document's NotifyEvent, and the body of every one of
// them, as the domain builds it, fits WebhookPayload.
func TestOpenAPIDocumentsEveryNotification(t *testing.T) {
	doc := loadOpenAPI(t)
	var documented []domain.NotifyEvent
	for _, e := range doc.Components.Schemas["NotifyEvent"].Value.Enum {
		documented = append(documented, domain.NotifyEvent(e.(string)))
	}
	require.ElementsMatch(t, domain.NotifyEvents, documented)

	at := time.Date(2026, 2, 9, 12, 3, 0, 0, time.UTC)
	task, err := domain.NewTask(domain.NewTaskParams{ID: "task-doc", AccountID: 7, Topic: "文档"}, at)
	require.NoError(t, err)
	out, err := task.Apply(domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: at}, domain.Rules{})
	require.NoError(t, err)
	cancelled, ok := domain.TaskNotification("msg-task", task, out, nil)
	require.True(t, ok)
	bodies := map[domain.NotifyEvent][]byte{cancelled.Event: cancelled.Payload}
	ids := domain.Announcement{At: at, AccountID: 7, TaskID: "task-doc", ContentID: "content-doc", PoolEntryID: "pool-doc"}
	for _, a := range []domain.Announcement{
		{Event: domain.EventContentApproved, Reviewer: "编辑小王"},
		{Event: domain.EventContentRejected, Reviewer: "编辑小李", Reason: "标题夸张"},
		{Event: domain.EventPoolPublished, URL: "https://mp.weixin.qq.com/s/abc", PlatformID: "wx-42"},
		{Event: domain.EventPoolFailed, Error: "平台限流", RetryCount: 3},
	} {
		a.At, a.AccountID, a.TaskID, a.ContentID, a.PoolEntryID = ids.At, ids.AccountID, ids.TaskID, ids.ContentID, ids.PoolEntryID
		if a.Event == domain.EventContentRejected {
			a.PoolEntryID = ""
		}
		n := domain.AnnouncementNotification("msg-"+string(a.Event), a)
		require.Equal(t, a.Event, n.Event)
		bodies[n.Event] = n.Payload
	}
	schema := doc.Components.Schemas["WebhookPayload"].Value
	for ev, body := range bodies {
		var v any
		require.NoError(t, json.Unmarshal(body, &v))
		require.NoError(t, schema.VisitJSON(v), "%s's body does not fit WebhookPayload: %s", ev, body)
		require.Equal(t, string(ev), v.(map[string]any)["type"])
	}
	require.Len(t, bodies, 5)
}
