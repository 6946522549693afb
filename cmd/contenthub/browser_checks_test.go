package main

// Checks every dashboard page test can run on the page it shows, once the
// page shows its data: axe-core finds no accessibility violation, nothing
// shifted while it loaded, Chinese text is marked zh-CN, and a screenshot is
// kept. A page test calls auditPage (or the checks one by one).

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"contenthub/adapters/testnotice"
)

// EnvAxeCore names axe-core's axe.min.js (npm package axe-core; .ci/run
// installs it outside the repository and sets this variable).
const EnvAxeCore = "CONTENTHUB_AXE_CORE"

var axe struct {
	once   sync.Once
	source string
	why    string
}

// axeSource returns axe-core's script. Missing, the test fails in CI and is
// skipped with a notice elsewhere.
func axeSource(t *testing.T) string {
	t.Helper()
	axe.once.Do(func() {
		path := os.Getenv(EnvAxeCore)
		if path == "" {
			axe.why = EnvAxeCore + " is unset"
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			axe.why = "cannot read " + EnvAxeCore + ": " + err.Error()
			return
		}
		axe.source = string(b)
	})
	if axe.source != "" {
		return axe.source
	}
	msg := "ACCESSIBILITY TESTS SKIPPED: " + axe.why + "; install axe-core (npm install --prefix DIR axe-core@4) and set " +
		EnvAxeCore + "=DIR/node_modules/axe-core/axe.min.js"
	if os.Getenv("CI") != "" {
		t.Fatalf("ACCESSIBILITY TESTS REQUIRED in CI: %s", msg)
	}
	testnotice.Announce("axe-skip", msg)
	t.Skip(msg)
	return ""
}

// layoutShiftObserver sums the layout shifts of each document from its
// start (shifts right after user input do not count, as in CLS), keeping
// what moved, for the failure message.
const layoutShiftObserver = `(() => {
  window.__layoutShift = 0;
  window.__layoutShifts = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.hadRecentInput) continue;
      window.__layoutShift += e.value;
      window.__layoutShifts.push({ value: e.value, moved: (e.sources || []).map((s) =>
        s.node ? (s.node.id ? '#' + s.node.id : s.node.nodeName + (s.node.className ? '.' + s.node.className : '')) : '?') });
    }
  }).observe({ type: 'layout-shift', buffered: true });
})();`

// watchLayoutShift makes every document the tab loads from now on measure
// its layout shifts.
func watchLayoutShift(t *testing.T, ctx context.Context) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: layoutShiftObserver})
		return err
	})))
}

// openPage loads url as a new document (not a same-document hash change),
// so that its layout shifts are its own, and waits until ready is true.
func openPage(t *testing.T, ctx context.Context, url, what, ready string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(url)))
	waitInPage(t, ctx, what, ready)
	// Two frames more, so that whatever the data caused is laid out.
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve(true))))`,
		chromedp.EvalAwaitPromise))
	require.NoError(t, err)
}

// waitInPage polls expression (any value; truthy ends the wait) until it is
// true. Unlike until, it rides over the moments a navigation replaces the
// document's JavaScript context.
func waitInPage(t *testing.T, ctx context.Context, what, expression string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expression+")"))
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("waiting for %s: %s (last error: %v)", what, expression, lastErr)
}

// requireLayoutShiftBelow fails when the page's layout shifts since it
// started loading sum to max or more.
func requireLayoutShiftBelow(t *testing.T, ctx context.Context, pageName string, max float64) float64 {
	t.Helper()
	shift := evaluate[float64](t, ctx, `window.__layoutShift`)
	shifts := evaluate[string](t, ctx, `JSON.stringify(window.__layoutShifts)`)
	t.Logf("%s: cumulative layout shift %.4f %s", pageName, shift, shifts)
	require.Less(t, shift, max, "%s shifted while it loaded: %s", pageName, shifts)
	return shift
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// requireNoAxeViolations runs axe-core on the page (WCAG 2.x A and AA and
// best practices) and fails on any violation. The article frames are
// sandboxed without scripts, so axe runs in the page only; checkArticleFrames
// looks at their documents.
func requireNoAxeViolations(t *testing.T, ctx context.Context, pageName string) {
	t.Helper()
	src := axeSource(t)
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";true"))
	require.NoError(t, err, "inject axe-core")
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {
		iframes: false, resultTypes: ['violations'],
		runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
	}).then((r) => JSON.stringify(r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
		nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' ' + n.failureSummary) }))))`, chromedp.EvalAwaitPromise))
	require.NoError(t, err, "run axe-core")
	var violations []axeViolation
	require.NoError(t, json.Unmarshal([]byte(raw), &violations))
	for _, v := range violations {
		t.Errorf("%s: axe %s (%s): %s\n  %s", pageName, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
	require.Empty(t, violations, "%s has accessibility violations", pageName)
}

// unmarkedChinese lists the Chinese texts of a document whose nearest lang
// is not zh-CN.
const unmarkedChinese = `((doc) => {
  const han = /[\u3400-\u9fff]/;
  const out = [];
  const walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!han.test(n.data)) continue;
    const el = n.parentElement;
    if (el.closest('[hidden], template, script, style')) continue;
    const marked = el.closest('[lang]');
    if (!marked || marked.getAttribute('lang') !== 'zh-CN') out.push(n.data.trim().slice(0, 40));
  }
  return JSON.stringify(out);
})`

// requireChineseMarked fails when Chinese text on the page, or in one of its
// article frames, is not marked lang="zh-CN", and when a frame with a
// Chinese article does not say so on its document.
func requireChineseMarked(t *testing.T, ctx context.Context, pageName string) {
	t.Helper()
	var unmarked []string
	require.NoError(t, json.Unmarshal([]byte(evaluate[string](t, ctx, unmarkedChinese+`(document)`)), &unmarked))
	require.Empty(t, unmarked, "%s: Chinese text not marked zh-CN", pageName)
	frames := evaluate[string](t, ctx, `JSON.stringify([...document.querySelectorAll('iframe')]
		.filter((f) => !f.closest('[hidden]') && f.contentDocument && f.contentDocument.body &&
			/[\u3400-\u9fff]/.test(f.contentDocument.body.textContent))
		.map((f) => ({ id: f.id || f.title, lang: f.contentDocument.documentElement.getAttribute('lang'),
			unmarked: JSON.parse(`+unmarkedChinese+`(f.contentDocument)) })))`)
	var docs []struct {
		ID       string   `json:"id"`
		Lang     string   `json:"lang"`
		Unmarked []string `json:"unmarked"`
	}
	require.NoError(t, json.Unmarshal([]byte(frames), &docs))
	for _, d := range docs {
		require.Equal(t, "zh-CN", d.Lang, "%s: the article frame %s holds Chinese", pageName, d.ID)
		require.Empty(t, d.Unmarked, "%s: the article frame %s", pageName, d.ID)
	}
}

// screenshot keeps the whole page as name.png in the test's output folder
// (go test -artifacts keeps it; otherwise a temporary one).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	path := filepath.Join(t.ArtifactDir(), name+".png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}

// auditPage runs every check on the page shown: axe-core, Chinese marking,
// the screenshot and, when maxShift > 0, the layout shift.
func auditPage(t *testing.T, ctx context.Context, name string, maxShift float64) {
	t.Helper()
	screenshot(t, ctx, name)
	if maxShift > 0 {
		requireLayoutShiftBelow(t, ctx, name, maxShift)
	}
	requireChineseMarked(t, ctx, name)
	requireNoAxeViolations(t, ctx, name)
}
