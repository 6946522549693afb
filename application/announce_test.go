package application_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/ids"
	"contenthub/adapters/metrics"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// awaitingReview stores a task that is not auto-approved and completes it
// with a real-sized Chinese article: its content waits for review.
func (f *notifyFixture) awaitingReview(article string) string {
	f.t.Helper()
	ctx := f.t.Context()
	manual := false
	task, err := domain.NewTask(domain.NewTaskParams{ID: "task-review", AccountID: 7, Topic: "审核", AutoApprove: &manual}, f.clock.Now())
	require.NoError(f.t, err)
	_, _, err = f.store.CreateTask(ctx, task, nil)
	require.NoError(f.t, err)
	var contentID string
	require.NoError(f.t, f.store.UpdateTask(ctx, task.ID(), func(tk *domain.Task) (ports.TaskChanges, error) {
		rules := domain.Rules{}
		for _, ev := range []domain.Event{
			{Kind: domain.EventOpenAttempt, At: f.clock.Now(), Open: domain.Opening{TokenHash: domain.HashToken("tok")}},
			{Kind: domain.EventSubmitted, Attempt: 1, At: f.clock.Now()},
		} {
			if _, err := tk.Apply(ev, rules); err != nil {
				return ports.TaskChanges{}, err
			}
		}
		out, err := tk.Apply(domain.Event{Kind: domain.EventCompleted, Attempt: 1, At: f.clock.Now(),
			Result: domain.Result{Content: article}.Described(),
			IDs:    domain.CompletionIDs{ContentID: "content-review", PoolEntryID: "pool-unused"}}, rules)
		if err != nil {
			return ports.TaskChanges{}, err
		}
		contentID = out.Content.ID
		return ports.TaskChanges{SaveTask: true, Content: out.Content}, nil
	}))
	return contentID
}

// TestReviewAndPublishAreDeliveredToSubscribers: approving content and
// publishing its pool entry, through the use cases, each send one message
// to the subscribed loopback receiver, signed so that the standard-webhooks
// library verifies it, with the thin body of docs/webhooks.md.
func TestReviewAndPublishAreDeliveredToSubscribers(t *testing.T) {
	article, err := os.ReadFile("../adapters/httpapi/testdata/article-zh-20k.md")
	require.NoError(t, err)
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		f := newNotifyFixture(t, s, 4)
		h := newHook(t, nil)
		e := f.endpoint(h, "content.approved", "pool.published")
		other := newHook(t, nil)
		f.endpoint(other, "content.rejected", "pool.failed") // nothing it subscribes to happens
		contentID := f.awaitingReview(string(article))

		deps := application.Deps{Store: s, Reader: s, Clock: f.clock, IDs: ids.Random{}, Metrics: metrics.Discard{}}
		reviews := application.NewReviews(deps, s)
		pool := application.NewPool(deps, s, application.PoolConfig{})
		approved, err := reviews.Approve(ctx, contentID, domain.Approval{Reviewer: "编辑小王"})
		require.NoError(t, err)
		_, err = reviews.Approve(ctx, contentID, domain.Approval{Reviewer: "编辑小王"})
		require.NoError(t, err, "approving again is a no-op")
		claimed, err := pool.Claim(ctx, application.ClaimRequest{Limit: 1})
		require.NoError(t, err)
		require.Len(t, claimed, 1)
		entryID := claimed[0].Entry.ID
		require.Equal(t, approved.PoolEntryID, entryID)
		_, err = pool.Published(ctx, entryID, domain.Publication{ClaimToken: claimed[0].Token,
			URL: "https://mp.weixin.qq.com/s/abc", PlatformID: "wx-42"})
		require.NoError(t, err)

		require.Equal(t, 2, f.round(), "one message per announced change")
		got, verified := h.seen()
		require.Len(t, got, 2)
		require.Equal(t, 2, verified, "every message verifies with the standard-webhooks library")
		others, _ := other.seen()
		require.Empty(t, others)

		logs := f.log(e)
		require.Len(t, logs, 2)
		bodies := map[domain.NotifyEvent]map[string]any{}
		var ids []string
		for _, l := range logs {
			require.Equal(t, domain.MessageDelivered, l.Message.Status)
			ids = append(ids, l.Message.ID)
			var body struct {
				Type domain.NotifyEvent `json:"type"`
				Data map[string]any     `json:"data"`
			}
			require.NoError(t, json.Unmarshal(l.Message.Payload, &body))
			require.Equal(t, l.Message.Event, body.Type)
			bodies[body.Type] = body.Data
		}
		require.ElementsMatch(t, got, ids, "the webhook-id is the message's id")
		require.Equal(t, map[string]any{"content_id": contentID, "task_id": "task-review", "account_id": 7.0,
			"pool_entry_id": entryID, "reviewer": "编辑小王"}, bodies[domain.EventContentApproved])
		require.Equal(t, map[string]any{"content_id": contentID, "task_id": "task-review", "account_id": 7.0,
			"pool_entry_id": entryID, "url": "https://mp.weixin.qq.com/s/abc", "platform_id": "wx-42"}, bodies[domain.EventPoolPublished])
	})
}
