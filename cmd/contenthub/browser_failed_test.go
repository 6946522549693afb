package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
)

// failedTaskJSON is what the failed-task page is checked against: the
// task's attempts with their own times and errors.
type failedTaskJSON struct {
	Status   string `json:"status"`
	Attempts []struct {
		Number      int     `json:"number"`
		ExternalRef string  `json:"external_ref"`
		State       string  `json:"state"`
		OpenedAt    string  `json:"opened_at"`
		SubmittedAt *string `json:"submitted_at"`
		FinishedAt  *string `json:"finished_at"`
		Error       *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"attempts"`
}

type deliveryJSON struct {
	Attempt    int    `json:"attempt"`
	Event      string `json:"event"`
	DeliveryID string `json:"delivery_id"`
	Outcome    string `json:"outcome"`
	ReceivedAt string `json:"received_at"`
}

// postCallback sends a failed callback for attempt ref of task id, signed
// with secret (or with a wrong signature when secret is ""), and returns the
// HTTP status.
func postCallback(t *testing.T, svc *service, secret, id, ref, message string) int {
	t.Helper()
	body, err := json.Marshal(map[string]any{"event": "failed", "taskId": ref, "status": "failed",
		"error": map[string]any{"message": message, "type": "execution_error"}})
	require.NoError(t, err)
	ts := time.Now().Unix()
	sig := "sha256=" + strings.Repeat("0", 64)
	if secret != "" {
		sig = "sha256=" + signature.SignRaw(secret, body, ts)
	}
	req, err := http.NewRequest(http.MethodPost, svc.url("/api/v1/content/callback/"+id), bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signature.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(signature.HeaderSignature, sig)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestFailedTaskPageInTheBrowser drives the task page of a task that failed
// twice (the simulator fails every attempt of a [fail] topic), with a late
// repeat of the first attempt's failure and a refused forgery on top. The
// page's timeline holds every attempt and every delivery in time order, each
// attempt with its own opened/submitted/ended times and error, the applied
// failures badged apart, delivery ids shortened with the full id as title;
// it passes axe-core, marks its Chinese zh-CN and leaves a screenshot.
func TestFailedTaskPageInTheBrowser(t *testing.T) {
	ctx := newBrowser(t)
	axeSource(t) // skip (or fail in CI) before the service starts
	const failMessage = "文本质量检查失败：重试 3 次后仍未通过"
	svc := startService(t, t.TempDir(), []string{"WEBHOOK_SECRET_KEY=" + reviewSecret, "LOG_LEVEL=info",
		"RETRY_BACKOFF_BASE=200ms", "RETRY_BACKOFF_MAX=400ms", "SIM_FAIL_MESSAGE=" + failMessage})
	ui := svc.url("/ui/")

	var created taskView
	require.Equal(t, http.StatusAccepted, svc.call(http.MethodPost, "/api/v1/content/tasks",
		map[string]any{"account_id": 1, "topic": "边缘计算入门：失败两次的任务 [fail]", "max_retries": 1}, &created))
	id := created.TaskID
	svc.waitStatus(id, "failed", 60*time.Second)
	var task failedTaskJSON
	require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/content/tasks/"+id, nil, &task))
	require.Len(t, task.Attempts, 2)
	// After the end: attempt 1's failure told again (logged, ignored), and a
	// forged callback (refused).
	require.Equal(t, http.StatusOK, postCallback(t, svc, reviewSecret, id, task.Attempts[0].ExternalRef, "再说一次"))
	require.Equal(t, http.StatusUnauthorized, postCallback(t, svc, "", id, task.Attempts[0].ExternalRef, "伪造"))
	var log struct {
		Items []deliveryJSON `json:"items"`
	}
	require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/content/tasks/"+id+"/deliveries", nil, &log))
	applied := 0
	for _, d := range log.Items {
		if d.Event == "failed" && d.Outcome == "applied" {
			applied++
		}
	}
	require.Equal(t, 2, applied, "each attempt ended with an applied failed callback: %+v", log.Items)

	// The page's order, from the API's data: attempts open at opened_at and
	// end at finished_at, deliveries sit at received_at; at one instant an
	// opening comes first and an end last.
	type entry struct {
		at      time.Time
		rank    int
		attempt int
		key     string
	}
	var want []entry
	parse := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return at.Truncate(time.Millisecond) // the browser's Date
	}
	for _, a := range task.Attempts {
		n := strconv.Itoa(a.Number)
		want = append(want, entry{parse(a.OpenedAt), 0, a.Number, "attempt:" + n})
		require.NotNil(t, a.FinishedAt)
		want = append(want, entry{parse(*a.FinishedAt), 2, a.Number, "attempt-end:" + n})
	}
	for _, d := range log.Items {
		key := "delivery:" + strconv.Itoa(d.Attempt) + ":" + d.Event + ":" + d.Outcome
		if d.Attempt == 0 {
			key = "delivery::" + d.Event + ":" + d.Outcome
		}
		want = append(want, entry{parse(d.ReceivedAt), 1, d.Attempt, key})
	}
	sort.SliceStable(want, func(i, j int) bool {
		x, y := want[i], want[j]
		if !x.at.Equal(y.at) {
			return x.at.Before(y.at)
		}
		if x.rank != y.rank {
			return x.rank < y.rank
		}
		return x.attempt < y.attempt
	})
	wantKeys := make([]string, len(want))
	for i, e := range want {
		wantKeys[i] = e.key
	}
	t.Logf("timeline: %v", wantKeys)

	watchLayoutShift(t, ctx)
	openPage(t, ctx, ui+"#/tasks/"+id, "the failed task's timeline", `!document.getElementById('view-task').hidden &&
		document.querySelectorAll('#timeline > li').length === `+strconv.Itoa(len(want)))
	const keys = `[...document.querySelectorAll('#timeline > li')].map((li) => {
		if (li.dataset.kind !== 'delivery') return li.dataset.kind + ':' + li.dataset.attempt;
		const d = li.querySelector('[data-outcome]').dataset.outcome.replace('applied-failure', 'applied').replace('applied-progress', 'applied');
		return 'delivery:' + li.dataset.attempt + ':' + (li.querySelector('strong').textContent.match(/“(.*)”/) || ['', ''])[1] + ':' + d;
	})`
	require.Equal(t, wantKeys, evaluate[[]string](t, ctx, keys), "attempts and deliveries in one time order")
	// The story reads in order: attempt 1, its failure, its end, attempt 2, …,
	// and the late repeat and the forgery last.
	require.Equal(t, "attempt:1", wantKeys[0])
	end1, open2 := slices.Index(wantKeys, "attempt-end:1"), slices.Index(wantKeys, "attempt:2")
	require.Equal(t, "delivery:1:failed:applied", wantKeys[end1-1], "the failed callback that ended attempt 1 comes just before its end")
	require.Less(t, end1, open2)
	require.ElementsMatch(t, []string{"delivery:1:failed:ignored", "delivery:::rejected"}, wantKeys[len(wantKeys)-2:])

	// Each attempt's own times and error.
	for _, a := range task.Attempts {
		n := strconv.Itoa(a.Number)
		times := evaluate[[]string](t, ctx, `[...document.querySelectorAll('#timeline > li[data-kind=attempt][data-attempt="`+n+`"] .muted time')].map((t) => t.getAttribute('datetime'))`)
		require.Equal(t, []string{a.OpenedAt, *a.SubmittedAt, *a.FinishedAt}, times, "attempt %d: opened, submitted, ended", a.Number)
		end := `document.querySelector('#timeline > li[data-kind=attempt-end][data-attempt="` + n + `"]')`
		require.Equal(t, *a.FinishedAt, evaluate[string](t, ctx, end+`.querySelector('time').getAttribute('datetime')`))
		require.Equal(t, "failed", evaluate[string](t, ctx, end+`.querySelector('.status').textContent`))
		require.NotNil(t, a.Error)
		require.Equal(t, failMessage, a.Error.Message)
		errText := evaluate[string](t, ctx, end+`.querySelector('.error').textContent`)
		require.Contains(t, errText, a.Error.Message)
		require.Contains(t, errText, a.Error.Code)
	}

	// The applied failures are badged as such, and look unlike applied
	// progress (filled, not outlined).
	badges := `[...document.querySelectorAll('#timeline [data-outcome=applied-failure]')]`
	require.Equal(t, []string{"applied failure", "applied failure"}, evaluate[[]string](t, ctx, badges+`.map((b) => b.textContent)`))
	failureBg := evaluate[string](t, ctx, `getComputedStyle(`+badges+`[0]).backgroundColor`)
	require.NotEqual(t, "rgba(0, 0, 0, 0)", failureBg, "an applied failure is filled")
	if evaluate[bool](t, ctx, `!!document.querySelector('#timeline [data-outcome=applied-progress]')`) {
		require.NotEqual(t, failureBg, evaluate[string](t, ctx, `getComputedStyle(document.querySelector('#timeline [data-outcome=applied-progress]')).backgroundColor`))
	}
	require.Equal(t, "ignored", evaluate[string](t, ctx, `document.querySelector('#timeline [data-outcome=ignored]').textContent`))
	require.Equal(t, "rejected", evaluate[string](t, ctx, `document.querySelector('#timeline [data-outcome=rejected]').textContent`))

	// Delivery ids: shortened on the page, whole in the title.
	var shown []struct {
		Text  string `json:"text"`
		Title string `json:"title"`
	}
	require.NoError(t, json.Unmarshal([]byte(evaluate[string](t, ctx, `JSON.stringify([...document.querySelectorAll('#timeline .delivery-id')]
		.map((c) => ({ text: c.textContent, title: c.getAttribute('title') })))`)), &shown))
	var ids []string
	for _, d := range log.Items {
		if d.DeliveryID != "" {
			ids = append(ids, d.DeliveryID)
		}
	}
	require.Len(t, shown, len(ids), "every authenticated delivery shows its id")
	var titles []string
	for _, s := range shown {
		titles = append(titles, s.Title)
		kind, rest, found := strings.Cut(s.Title, ":")
		require.True(t, found && len(rest) > 8, "a delivery id is its kind and a long id: %s", s.Title)
		require.Equal(t, kind+":"+rest[:8]+"…", s.Text, "the id's kind and 8 characters")
	}
	require.ElementsMatch(t, ids, titles, "the full ids, as the API has them")

	require.Equal(t, "zh-CN", evaluate[string](t, ctx, `document.getElementById('task-title').getAttribute('lang')`))
	auditPage(t, ctx, "task-page-failed", 0.1)
}
