package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
	"contenthub/adapters/testnotice"
)

// chromium finds Debian's chromium, installing it with apt-get when it is
// missing and this process may (root). Where it cannot be had the browser
// tests are skipped with a one-line notice, or fail in CI.
var chromium struct {
	once sync.Once
	path string
	why  string
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	chromium.once.Do(func() { chromium.path, chromium.why = findOrInstallChromium() })
	if chromium.path != "" {
		return chromium.path
	}
	msg := "BROWSER TESTS SKIPPED: " + chromium.why + "; install Debian's chromium package (apt-get install chromium)"
	if os.Getenv("CI") != "" {
		t.Fatalf("BROWSER TESTS REQUIRED in CI: %s", msg)
	}
	testnotice.Announce("browser-skip", msg)
	t.Skip(msg)
	return ""
}

func findOrInstallChromium() (path, why string) {
	look := func() string {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
		return ""
	}
	if p := look(); p != "" {
		return p, ""
	}
	if os.Geteuid() != 0 {
		return "", "chromium is not installed and this user cannot install it"
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", "chromium is not installed and there is no apt-get"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"update", "-q"}, {"install", "-y", "-q", "--no-install-recommends", "chromium"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			tail := out[max(0, len(out)-300):]
			return "", fmt.Sprintf("apt-get %s failed: %v: %s", args[0], err, bytes.TrimSpace(tail))
		}
	}
	if p := look(); p != "" {
		return p, ""
	}
	return "", "apt-get installed chromium but it is not on PATH"
}

// newBrowser starts headless Chromium with a fresh profile and returns a
// tab's context. The flags keep it off the network it would otherwise call
// home on.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	profile, err := os.MkdirTemp("", "contenthub-chromium-")
	require.NoError(t, err)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in a container: the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(profile),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
		// Chromium's helpers may write to the profile a moment after it stops.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return ctx
}

// until polls a JavaScript expression in the page until it is truthy.
func until(t *testing.T, ctx context.Context, what, expression string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expression,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	require.NoError(t, err, "waiting for %s: %s", what, expression)
}

func evaluate[T any](t *testing.T, ctx context.Context, expression string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	require.NoError(t, err, expression)
	return v
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// hostileArticle is Markdown a compromised or confused generator could
// send: raw HTML with scripts and handlers, javascript: links, frames,
// forms, alongside ordinary content.
const hostileArticle = `# 恶意文章测试

这是一段正常的中文段落，介绍边缘计算的基本概念。

<script>window.parent.pwned = 'script';</script>
<img src="x" onerror="window.parent.pwned = 'onerror'">
<iframe src="https://evil.example/"></iframe>
<form action="https://evil.example/"><input name="q"></form>

[点我](javascript:window.parent.pwned='link') · [正常链接](https://example.com/docs)

![架构图](https://img.example.com/arch.png)

<a href="https://example.com" onclick="window.parent.pwned='onclick'">带事件的链接</a>
`

// TestDashboardInTheBrowser drives the real dashboard of the real binary in
// headless Chromium: a task created elsewhere appears live in the list,
// cancel and retry work from the task page, the publish pool lists the
// article by title, and a hostile article is rendered sanitised on its
// page and in the task's preview.
func TestDashboardInTheBrowser(t *testing.T) {
	ctx := newBrowser(t)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	svc := startService(t, t.TempDir(), []string{"WEBHOOK_SECRET_KEY=" + secret, "LOG_LEVEL=info"})
	ui := svc.url("/ui/")

	t.Run("a created task appears live", func(t *testing.T) {
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ui)))
		until(t, ctx, "the live stream", `document.querySelector('#view-list [data-live]').textContent === '● live'`)
		// A mark on the window: it survives only if the page is not reloaded.
		evaluate[bool](t, ctx, `window.sameLoad = true`)
		topic := "实时出现的任务 " + strconv.FormatInt(time.Now().UnixNano(), 36)
		id := svc.createTask(topic)
		until(t, ctx, "the new row", `[...document.querySelectorAll('#task-rows a')].some(a => a.textContent === `+jsString(topic)+
			` && a.getAttribute('href') === '#/tasks/`+id+`')`)
		require.True(t, evaluate[bool](t, ctx, `window.sameLoad === true`), "the row came without a reload")
		// And its status follows the task to the end without a reload.
		until(t, ctx, "the row to show completed", `[...document.querySelectorAll('#task-rows tr')].some(r =>
			r.cells[0].textContent === `+jsString(topic)+` && r.cells[2].textContent === 'completed')`)
	})

	t.Run("cancel and retry from the task page", func(t *testing.T) {
		id := svc.createTask("取消再重试 [no-callback]")
		svc.waitStatus(id, "submitted", 30*time.Second)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ui+"#/tasks/"+id)))
		until(t, ctx, "the task page", `document.getElementById('task-title').textContent === '取消再重试 [no-callback]'`)
		until(t, ctx, "cancel to be enabled", `!document.getElementById('cancel').disabled`)
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("cancel"))))
		until(t, ctx, "the page to show cancelled", `document.querySelector('#task-fields .status').textContent === 'cancelled'`)
		require.Equal(t, "cancelled", svc.task(id).Status)
		require.True(t, evaluate[bool](t, ctx, `document.getElementById('cancel').disabled && !document.getElementById('retry').disabled`))

		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("retry"))))
		until(t, ctx, "the page to show the retried task active", `['pending','submitted'].includes(document.querySelector('#task-fields .status').textContent)`)
		v, _ := svc.waitStatus(id, "submitted", 30*time.Second)
		require.Equal(t, 2, v.Attempt, "retry opened a second attempt")
		until(t, ctx, "the second attempt on the page", `document.querySelectorAll('#timeline li[data-kind=attempt]').length === 2`)
		require.True(t, evaluate[bool](t, ctx, `[...document.querySelectorAll('#task-fields dt')].some(d => d.textContent === 'Times out')`),
			"an active task shows its deadline")
	})

	t.Run("a hostile article is rendered sanitised", func(t *testing.T) {
		id := svc.createTask("恶意文章 [no-callback]")
		svc.waitStatus(id, "submitted", 30*time.Second)
		body, err := json.Marshal(map[string]any{
			"event": "completed", "taskId": id + "-1",
			"result": map[string]any{"content": hostileArticle, "qualityScore": 7.5},
		})
		require.NoError(t, err)
		ts := time.Now().Unix()
		req, err := http.NewRequest(http.MethodPost, svc.url("/api/v1/content/callback/"+id), bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(signature.HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(signature.HeaderSignature, "sha256="+signature.SignRaw(secret, body, ts))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		task, _ := svc.waitStatus(id, "completed", 30*time.Second)
		require.NotNil(t, task.ContentID)
		contentID := *task.ContentID

		// The publish pool lists it by title, linking its page and its task.
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ui+"#/pool")))
		until(t, ctx, "the pool row", `[...document.querySelectorAll('#pool-rows tr')].some(r =>
			r.cells[0].textContent === '恶意文章测试' &&
			r.cells[0].querySelector('a').getAttribute('href') === '#/contents/`+contentID+`' &&
			r.cells[2].querySelector('a').getAttribute('href') === '#/tasks/`+id+`')`)
		require.Equal(t, "SELECT", evaluate[string](t, ctx, `document.querySelector('#pool-filters [name=status]').tagName`),
			"the pool's status filter is a dropdown")

		// Its full page.
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#pool-rows a[href="#/contents/`+contentID+`"]`))))
		until(t, ctx, "the article page", `document.getElementById('content-title').textContent === '恶意文章测试'`)
		requireSanitised(t, ctx, "article")

		// And the preview on the task page, where a completed task shows no deadline.
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ui+"#/tasks/"+id)))
		until(t, ctx, "the task page's status", `document.querySelector('#task-fields .status') &&
			document.querySelector('#task-fields .status').textContent === 'completed'`)
		require.False(t, evaluate[bool](t, ctx, `[...document.querySelectorAll('#task-fields dt')].some(d => d.textContent === 'Times out')`),
			"a completed task hides Times out")
		require.Equal(t, "#/contents/"+contentID, evaluate[string](t, ctx, `document.getElementById('content-link').getAttribute('href')`))
		requireSanitised(t, ctx, "preview")
	})

	t.Run("schedules: next run in both zones, run now, pause and resume, a run's tasks", func(t *testing.T) {
		var created struct {
			ScheduleID string `json:"schedule_id"`
			NextRunAt  string `json:"next_run_at"`
		}
		name := "每日早报 " + strconv.FormatInt(time.Now().UnixNano(), 36)
		require.Equal(t, http.StatusCreated, svc.call(http.MethodPost, "/api/v1/schedules", map[string]any{
			"name": name, "cron": "0 8 * * *", "timezone": "Asia/Shanghai", "account_ids": []int{1, 2},
			"count_per_account": 1, "topics": []map[string]any{{"topic": "定时选题一"}, {"topic": "定时选题二"}},
		}, &created))
		id := created.ScheduleID
		row := `document.querySelector('#schedule-rows tr[data-schedule="` + id + `"]')`

		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ui+"#/schedules")))
		until(t, ctx, "the schedule's row", row+` && `+row+`.cells[0].textContent === `+jsString(name))
		// 08:00 on Shanghai's clock, and the same instant on the browser's.
		require.Contains(t, evaluate[string](t, ctx, row+`.cells[2].textContent`), "8:00:00")
		require.Equal(t, created.NextRunAt, evaluate[string](t, ctx, row+`.cells[2].querySelector('time').getAttribute('datetime')`))
		require.Equal(t, created.NextRunAt, evaluate[string](t, ctx, row+`.cells[3].querySelector('time').getAttribute('datetime')`))
		require.Equal(t, evaluate[string](t, ctx, `new Date(`+jsString(created.NextRunAt)+`).toLocaleString(undefined, {timeZoneName: 'short'})`),
			evaluate[string](t, ctx, row+`.cells[3].textContent`))
		require.Equal(t, "never", evaluate[string](t, ctx, row+`.cells[4].textContent`))
		require.Equal(t, "active", evaluate[string](t, ctx, row+`.cells[5].textContent`))

		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#schedule-rows tr[data-schedule="`+id+`"] [data-action=run]`))))
		until(t, ctx, "the last run", row+` && `+row+`.cells[4].textContent.includes('manual') && `+row+`.cells[4].textContent.includes('2 tasks')`)
		var runs struct {
			Items []struct {
				RunID   string   `json:"run_id"`
				TaskIDs []string `json:"task_ids"`
			} `json:"items"`
		}
		require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/schedules/"+id+"/runs", nil, &runs))
		require.Len(t, runs.Items, 1)
		require.Len(t, runs.Items[0].TaskIDs, 2)

		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#schedule-rows tr[data-schedule="`+id+`"] [data-action=toggle]`))))
		until(t, ctx, "paused", row+` && `+row+`.cells[5].textContent === 'paused' && `+row+`.cells[2].textContent === '—'`)
		var view struct {
			Enabled bool `json:"enabled"`
		}
		require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/schedules/"+id, nil, &view))
		require.False(t, view.Enabled, "Pause paused it")
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#schedule-rows tr[data-schedule="`+id+`"] [data-action=toggle]`))))
		until(t, ctx, "resumed", row+` && `+row+`.cells[5].textContent === 'active' && `+row+`.cells[2].textContent.includes('8:00:00')`)

		// The schedule's page lists each run with its counts and tasks.
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#schedule-rows a[href="#/schedules/`+id+`"]`))))
		runRow := `document.querySelector('#run-rows tr[data-run="` + runs.Items[0].RunID + `"]')`
		until(t, ctx, "the run's row", runRow+` !== null`)
		require.Equal(t, "manual", evaluate[string](t, ctx, runRow+`.cells[1].textContent`))
		require.Equal(t, "account 1: 1, account 2: 1", evaluate[string](t, ctx, runRow+`.cells[3].textContent`))
		require.Equal(t, "2", evaluate[string](t, ctx, runRow+`.cells[4].textContent`))
		require.Equal(t, []string{"#/tasks/" + runs.Items[0].TaskIDs[0], "#/tasks/" + runs.Items[0].TaskIDs[1]},
			evaluate[[]string](t, ctx, `[...`+runRow+`.cells[5].querySelectorAll('a')].map(a => a.getAttribute('href'))`))

		// A run's task names its schedule.
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#run-rows a[href="#/tasks/`+runs.Items[0].TaskIDs[0]+`"]`))))
		until(t, ctx, "the task's schedule", `[...document.querySelectorAll('#task-fields a')].some(a => a.getAttribute('href') === '#/schedules/`+id+`')`)
	})

	t.Run("the accounts page: limits edited, counts, what tasks wait on", func(t *testing.T) {
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ui+"#/accounts")))
		until(t, ctx, "the accounts page", `!document.getElementById('view-accounts').hidden`)
		evaluate[bool](t, ctx, `(() => {
			const f = document.getElementById('limits-form');
			f.elements.account_id.value = '4242';
			f.elements.max_concurrency.value = '1';
			f.elements.weight.value = '3';
			f.querySelector('button[type=submit]').click();
			return true;
		})()`)
		until(t, ctx, "the account's own limits in the table", `(() => {
			const r = document.querySelector('#account-rows tr[data-account="4242"]');
			return r && r.cells[1].textContent === '1' && r.cells[3].textContent === '3' && r.cells[4].textContent === 'own';
		})()`)
		var limits struct {
			Limits struct {
				MaxConcurrency int `json:"max_concurrency"`
				Weight         int `json:"weight"`
			} `json:"limits"`
		}
		require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/accounts/4242", nil, &limits))
		require.Equal(t, 1, limits.Limits.MaxConcurrency, "saved through the API")
		require.Equal(t, 3, limits.Limits.Weight)

		// Two tasks of the account, its limit one running attempt: one runs
		// (no callback: it stays submitted), the other waits, and says why.
		var ids []string
		for _, topic := range []string{"账户限流一 [no-callback]", "账户限流二 [no-callback]"} {
			var v taskView
			require.Equal(t, http.StatusAccepted, svc.call(http.MethodPost, "/api/v1/content/tasks",
				map[string]any{"account_id": 4242, "topic": topic}, &v))
			ids = append(ids, v.TaskID)
		}
		// The accounts page reads its counts once: it is loaded only when
		// the one task runs (submitted), not while its attempt is still
		// being opened, so that the page's counts are the final ones.
		waiting := ""
		require.Eventually(t, func() bool {
			waiting = ""
			submitted := 0
			for _, id := range ids {
				var v struct {
					Status        string  `json:"status"`
					WaitingReason *string `json:"waiting_reason"`
				}
				svc.call(http.MethodGet, "/api/v1/content/tasks/"+id, nil, &v)
				if v.Status == "pending" && v.WaitingReason != nil && *v.WaitingReason == "account_concurrency" {
					waiting = id
				}
				if v.Status == "submitted" {
					submitted++
				}
			}
			return waiting != "" && submitted == 1
		}, 30*time.Second, 50*time.Millisecond, "one task runs, the other waits on the account's max_concurrency")

		// A fresh load of each page (a query string), not a hash change.
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ui+"?load=2#/accounts")))
		until(t, ctx, "the account's counts and waiting reason", `(() => {
			const r = document.querySelector('#account-rows tr[data-account="4242"]');
			return r && r.cells[5].textContent === '1' && r.cells[6].textContent === '1' &&
				r.querySelector('[data-waiting]').dataset.waiting === 'account_concurrency';
		})()`)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ui+"?load=3#/")))
		until(t, ctx, "the waiting reason on the task's row", `[...document.querySelectorAll('#task-rows tr')].some(r =>
			r.querySelector('a[href="#/tasks/`+waiting+`"]') && r.querySelector('[data-waiting]').dataset.waiting === 'account_concurrency')`)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ui+"?load=4#/tasks/"+waiting)))
		until(t, ctx, "the waiting reason on the task page", `(() => {
			const w = document.querySelector('#task-fields [data-waiting]');
			return w && w.dataset.waiting === 'account_concurrency' && w.textContent.includes('max concurrency');
		})()`)

		// Refused limits say which field.
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ui+"?load=5#/accounts")))
		until(t, ctx, "the accounts page", `!document.getElementById('view-accounts').hidden`)
		// The form's own min=1 would stop a click; the server's answer is what is tested.
		evaluate[bool](t, ctx, `(() => {
			const f = document.getElementById('limits-form');
			f.elements.account_id.value = '4242';
			f.elements.weight.value = '0';
			return f.dispatchEvent(new Event('submit', {cancelable: true}));
		})()`)
		until(t, ctx, "the refusal naming weight", `document.getElementById('notice').textContent.includes('(weight)')`)
	})
}

// requireSanitised checks the article frame's document: the text and the
// safe parts are there, nothing that runs or leaves is, and nothing ran.
func requireSanitised(t *testing.T, ctx context.Context, frameID string) {
	t.Helper()
	doc := `document.getElementById('` + frameID + `').contentDocument`
	until(t, ctx, "the article in the "+frameID+" frame", doc+` && `+doc+`.querySelector('h1') && `+
		doc+`.querySelector('h1').textContent === '恶意文章测试'`)
	require.Equal(t, "", evaluate[string](t, ctx, `document.getElementById('`+frameID+`').getAttribute('sandbox').includes('allow-scripts') ? 'scripts allowed' : ''`))
	require.Contains(t, evaluate[string](t, ctx, doc+`.body.textContent`), "这是一段正常的中文段落")
	require.Equal(t, "https://img.example.com/arch.png", evaluate[string](t, ctx, doc+`.querySelector('img[alt="架构图"]').getAttribute('src')`))
	require.Equal(t, "https://example.com/docs", evaluate[string](t, ctx, `[...`+doc+`.querySelectorAll('a')].find(a => a.textContent === '正常链接').getAttribute('href')`))
	for what, count := range map[string]string{
		"scripts":              doc + `.querySelectorAll('script').length`,
		"frames":               doc + `.querySelectorAll('iframe, frame, object, embed').length`,
		"forms":                doc + `.querySelectorAll('form, input').length`,
		"event handlers":       `[...` + doc + `.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length`,
		"javascript: links":    `[...` + doc + `.querySelectorAll('[href], [src]')].filter(e => /^\s*javascript:/i.test(e.getAttribute('href') || e.getAttribute('src'))).length`,
		"images without https": `[...` + doc + `.querySelectorAll('img')].filter(i => !i.getAttribute('src').startsWith('https://')).length`,
	} {
		require.Equal(t, 0, evaluate[int](t, ctx, count), "%s in the %s frame", what, frameID)
	}
	require.Equal(t, "undefined", evaluate[string](t, ctx, `typeof window.pwned`), "nothing of the article ran")
}
