package sqlstore_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

// outboxOf is what the use cases pass for a review or pool move's
// announcement, with a message id naming the event and its subject (each
// happens once per subject).
func outboxOf(a *domain.Announcement) *domain.Notification {
	if a == nil {
		return nil
	}
	n := domain.AnnouncementNotification("msg-"+string(a.Event)+"-"+a.Subject(), *a)
	return &n
}

// outboxMessages are the ids of every message written so far, per endpoint
// of endpoints, as "<message id>" (which ends with "_<endpoint id>").
func outboxMessages(t *testing.T, s *sqlstore.Store, endpoints []string) []string {
	t.Helper()
	ids := []string{}
	for _, ep := range endpoints {
		logs, err := s.ListMessages(t.Context(), ports.MessageQuery{EndpointID: ep, Limit: 100})
		require.NoError(t, err)
		for _, l := range logs {
			ids = append(ids, l.Message.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// TestReviewAndPoolMovesWriteTheirNotifications: content.approved,
// content.rejected, pool.published and a final pool.failed each fan out to
// one message per enabled endpoint subscribed to the event and the account,
// in the move's transaction; a repeated move, a refused one, one rolled back
// and a failure that will be retried write none.
func TestReviewAndPoolMovesWriteTheirNotifications(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		for _, e := range []*domain.WebhookEndpoint{
			newEndpoint(t, "ep-review", 0, "content.approved", "content.rejected"),
			newEndpoint(t, "ep-pool", 0, "pool.published", "pool.failed"),
			newEndpoint(t, "ep-acct7", 7, "content.approved", "content.rejected", "pool.published", "pool.failed"),
			newEndpoint(t, "ep-acct8", 8, "content.approved", "pool.published"),
			newEndpoint(t, "ep-tasks", 0, "task.completed", "task.failed"),
			newEndpoint(t, "ep-off", 0, "content.approved", "pool.published"),
		} {
			require.NoError(t, s.CreateEndpoint(ctx, e))
		}
		_, err := s.UpdateEndpoint(ctx, "ep-off", func(e *domain.WebhookEndpoint) error {
			e.SetEnabled(false, base)
			return nil
		})
		require.NoError(t, err)
		endpoints := []string{"ep-review", "ep-pool", "ep-acct7", "ep-acct8", "ep-tasks", "ep-off"}
		messages := func() []string { return outboxMessages(t, s, endpoints) }
		require.Empty(t, messages(), "completing a task that waits for review announces only task.completed")

		approved := awaitingReview(t, s, 1, base, account(7))
		rejected := awaitingReview(t, s, 2, base, account(7))
		failing := awaitingReview(t, s, 3, base, account(9))
		at := base.Add(time.Hour)

		// Approved: the reviewer's move and its messages in one transaction.
		approve := domain.Approval{PoolEntryID: "pool-1", Reviewer: "编辑小王"}
		_, err = s.ReviewContent(ctx, approved, approveFn(approve, at))
		require.NoError(t, err)
		approvedMsg := "msg-content.approved-" + approved
		want := []string{approvedMsg + "_ep-acct7", approvedMsg + "_ep-review"}
		require.Equal(t, want, messages(), "subscribed to the event and the account (or all), and enabled")
		logs, err := s.ListMessages(ctx, ports.MessageQuery{EndpointID: "ep-review"})
		require.NoError(t, err)
		require.Len(t, logs, 1)
		m := logs[0].Message
		require.Equal(t, domain.EventContentApproved, m.Event)
		require.Equal(t, approved, m.Subject)
		require.Equal(t, int64(7), m.AccountID)
		require.Equal(t, domain.MessagePending, m.Status)
		require.Equal(t, at.Truncate(time.Microsecond), m.NextAttemptAt.UTC())
		require.JSONEq(t, fmt.Sprintf(`{"type":"content.approved","timestamp":%q,"data":{
			"content_id":%q,"task_id":"task-review-1","account_id":7,"pool_entry_id":"pool-1","reviewer":"编辑小王"}}`,
			at.Format(time.RFC3339Nano), approved), string(m.Payload))

		// Approved again: a no-op, no second message.
		_, err = s.ReviewContent(ctx, approved, approveFn(approve, at.Add(time.Minute)))
		require.NoError(t, err)
		// Rejecting approved content: refused, nothing written.
		_, err = s.ReviewContent(ctx, approved, rejectFn(domain.Rejection{Reviewer: "r", Reason: "晚了"}, at))
		require.ErrorIs(t, err, domain.ErrConflict)
		// Approved with a pool entry id taken: the insert fails, and the
		// move's messages roll back with it.
		_, err = s.ReviewContent(ctx, failing, approveFn(domain.Approval{PoolEntryID: "pool-1", Reviewer: "r"}, at))
		require.ErrorContains(t, err, "insert pool entry")
		require.Equal(t, domain.ReviewPending, mustFind(t, s, failing).ReviewStatus)
		require.Equal(t, want, messages(), "a repeated, refused or rolled back move writes no message")

		// Rejected.
		_, err = s.ReviewContent(ctx, rejected, rejectFn(domain.Rejection{Reviewer: "编辑小李", Reason: "标题夸张"}, at))
		require.NoError(t, err)
		rejectedMsg := "msg-content.rejected-" + rejected
		want = append(want, rejectedMsg+"_ep-acct7", rejectedMsg+"_ep-review")
		sort.Strings(want)
		require.Equal(t, want, messages())
		logs, err = s.ListMessages(ctx, ports.MessageQuery{EndpointID: "ep-acct7"})
		require.NoError(t, err)
		var body struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		for _, l := range logs {
			if l.Message.Event == domain.EventContentRejected {
				require.NoError(t, json.Unmarshal(l.Message.Payload, &body))
			}
		}
		require.Equal(t, "content.rejected", body.Type)
		require.Equal(t, map[string]any{"content_id": rejected, "task_id": "task-review-2", "account_id": 7.0,
			"pool_entry_id": nil, "reviewer": "编辑小李", "reason": "标题夸张"}, body.Data)

		// Published by the claim's holder; publishing again is a no-op.
		_, err = s.ReviewContent(ctx, failing, approveFn(domain.Approval{PoolEntryID: "pool-3", Reviewer: "r"}, at))
		require.NoError(t, err)
		failingApproved := "msg-content.approved-" + failing
		want = append(want, failingApproved+"_ep-review") // account 9: ep-acct7 and ep-acct8 are not for it
		sort.Strings(want)
		require.Equal(t, want, messages())
		now := at.Add(time.Minute)
		require.Equal(t, []string{"pool-1"}, entryIDs(claim(t, s, "sec", now, time.Minute, 1, 7)))
		publish := domain.Publication{ClaimToken: domain.ClaimToken("sec", "pool-1"), URL: "https://mp.example/s/1", PlatformID: "wx-1"}
		_, err = s.UpdatePoolEntry(ctx, "pool-1", publishFn(publish, now))
		require.NoError(t, err)
		_, err = s.UpdatePoolEntry(ctx, "pool-1", publishFn(publish, now.Add(time.Second)))
		require.NoError(t, err)
		published := "msg-pool.published-pool-1"
		want = append(want, published+"_ep-acct7", published+"_ep-pool")
		sort.Strings(want)
		require.Equal(t, want, messages(), "published once: one message per subscriber")
		logs, err = s.ListMessages(ctx, ports.MessageQuery{EndpointID: "ep-pool"})
		require.NoError(t, err)
		require.Len(t, logs, 1)
		require.Equal(t, "pool-1", logs[0].Message.Subject)
		require.JSONEq(t, fmt.Sprintf(`{"type":"pool.published","timestamp":%q,"data":{"content_id":%q,
			"task_id":"task-review-1","account_id":7,"pool_entry_id":"pool-1","url":"https://mp.example/s/1","platform_id":"wx-1"}}`,
			now.Format(time.RFC3339Nano), approved), string(logs[0].Message.Payload))

		// Failed: the retried failures write nothing, the last one pool.failed.
		for round := 1; round <= 3; round++ {
			secret := fmt.Sprintf("round%d", round)
			require.Equal(t, []string{"pool-3"}, entryIDs(claim(t, s, secret, now, time.Minute, 1, 9)))
			got, err := s.UpdatePoolEntry(ctx, "pool-3", failFn(domain.PublishFailure{
				ClaimToken: domain.ClaimToken(secret, "pool-3"), Error: fmt.Sprintf("平台错误 %d", round)}, now))
			require.NoError(t, err)
			require.Equal(t, round, got.RetryCount)
			if round < 3 {
				require.Equal(t, want, messages(), "a failure that will be retried writes no message")
			}
			now = now.Add(time.Second)
		}
		failed := "msg-pool.failed-pool-3"
		want = append(want, failed+"_ep-pool")
		sort.Strings(want)
		require.Equal(t, want, messages())
		logs, err = s.ListMessages(ctx, ports.MessageQuery{EndpointID: "ep-pool"})
		require.NoError(t, err)
		body.Data = nil
		for _, l := range logs {
			if l.Message.Event == domain.EventPoolFailed {
				require.NoError(t, json.Unmarshal(l.Message.Payload, &body))
			}
		}
		require.Equal(t, "pool.failed", body.Type)
		require.Equal(t, map[string]any{"content_id": failing, "task_id": "task-review-3", "account_id": 9.0,
			"pool_entry_id": "pool-3", "error": "平台错误 3", "retry_count": 3.0}, body.Data)
	})
}
