package domain_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

func TestFirstHeading(t *testing.T) {
	cases := []struct {
		name, md, want string
	}{
		{"level 1", "# Title\n\nBody", "Title"},
		{"first of several, whatever its level", "intro\n\n## Second level\n\n# Top", "Second level"},
		{"closing hashes dropped", "## Title ##", "Title"},
		{"a # inside the text kept", "# Learn C#", "Learn C#"},
		{"inline markup removed", "# **Bold** and [link](http://x) `code`", "Bold and link code"},
		{"up to three spaces of indent", "   # Indented", "Indented"},
		{"CRLF line ends", "# Windows\r\nbody", "Windows"},
		{"CJK", "# 边缘计算入门\n\n## 引言", "边缘计算入门"},
		{"heading inside a code fence skipped", "```\n# not a title\n```\n# Real", "Real"},
		{"heading inside a tilde fence skipped", "~~~md\n# not a title\n~~~\n# Real", "Real"},
		{"no space after # is not a heading", "#hashtag\n# Real", "Real"},
		{"empty heading skipped", "#   \n# Real", "Real"},
		{"four spaces is code, not a heading", "    # code\n", ""},
		{"none", "Just text.\n\nMore text.", ""},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, domain.FirstHeading(c.md))
		})
	}
}

func TestPlainText(t *testing.T) {
	cases := []struct {
		name, md, want string
	}{
		{"headings", "# Title\n\n## Sub ##\nText", "Title Sub Text"},
		{"emphasis", "**bold** *italic* _under_ __strong__ ~~gone~~ `code`", "bold italic under strong gone code"},
		{"snake_case is not emphasis", "call my_var_name now", "call my_var_name now"},
		{"links keep their text", "see [the docs](https://example.com/a?b=c) now", "see the docs now"},
		{"images keep their alt text", "![a chart](https://x/1.png) below", "a chart below"},
		{"code fences dropped, code kept", "```go\nfmt.Println(1)\n```\nafter", "fmt.Println(1) after"},
		{"quotes and lists", "> quoted\n- item one\n* item two\n1. first\n2) second", "quoted item one item two first second"},
		{"rules and reference definitions", "above\n\n---\n\n[ref]: https://x\nbelow", "above below"},
		{"html tags", "<div>in <b>html</b></div>", "in html"},
		{"white space folded", "a\n\n\n   b\t\tc  ", "a b c"},
		{"CJK with emphasis", "## 引言\n\n**边缘计算**是重要议题。", "引言 边缘计算是重要议题。"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, domain.PlainText(c.md))
		})
	}
}

func TestCountWords(t *testing.T) {
	cases := []struct {
		name string
		text string
		want int
	}{
		{"empty", "", 0},
		{"spaces only", " \t\n ", 0},
		{"English by white space", "the quick  brown\tfox\njumps", 5},
		{"punctuation attached to words", "hello, world!", 2},
		{"punctuation alone is no word", "a - b — c ...", 3},
		{"Han one each", "边缘计算", 4},
		{"CJK punctuation is no word", "你好，世界。", 4},
		{"mixed", "AI 写作 tools", 4},
		{"Latin glued to Han", "Go语言", 3},
		{"number between Han", "约750字", 3},
		{"Japanese kana", "ひらがなカタカナ", 8},
		{"Korean Hangul", "한국어 문장", 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, domain.CountWords(c.text))
		})
	}
}

// complete finishes a submitted task with result and returns the outcome.
func complete(t *testing.T, task *domain.Task, result domain.Result, at time.Time) domain.Outcome {
	t.Helper()
	ev := completedEv(task.Attempt(), "", at)
	ev.Result = result
	out := mustApply(t, task, ev)
	require.Equal(t, domain.StatusCompleted, task.Status())
	require.NotNil(t, out.Content)
	return out
}

func TestCompletionContent(t *testing.T) {
	at := t0.Add(10 * time.Minute)

	t.Run("auto-approved: approved content and a pool entry", func(t *testing.T) {
		task := submittedTask(t, func(p *domain.NewTaskParams) { p.Priority = 8 })
		quality := 8.2
		result := domain.Result{
			Content:      "Intro line.\n\n# The *Title*\n\nSome **bold** text with a [link](http://x).",
			HTMLContent:  "<h1>The Title</h1>",
			Images:       []string{"https://img/1.png", "https://img/2.png"},
			QualityScore: &quality,
			Metrics:      []byte(`{"tokensUsed":10}`),
		}
		out := complete(t, task, result, at)

		require.Equal(t, domain.Content{
			ID: "content-1", TaskID: "task-abc", AccountID: 42, Attempt: 1,
			Title:        "The Title",
			Summary:      "Intro line. The Title Some bold text with a link.",
			Body:         result.Content,
			HTMLContent:  "<h1>The Title</h1>",
			Images:       []string{"https://img/1.png", "https://img/2.png"},
			CoverImage:   "https://img/1.png",
			QualityScore: &quality,
			WordCount:    10, // Intro line. The Title Some bold text with a link.
			Metrics:      []byte(`{"tokensUsed":10}`),
			ReviewStatus: domain.ReviewApproved,
			Reviewer:     domain.ReviewerAuto,
			ReviewedAt:   at,
			CreatedAt:    at,
			PoolEntryID:  "pool-1",
		}, *out.Content)
		require.Equal(t, &domain.PoolEntry{
			ID: "pool-1", ContentID: "content-1", TaskID: "task-abc", AccountID: 42,
			Priority: 8, Status: domain.PoolPending, ScheduledAt: at, AvailableAt: at,
			MaxRetries: domain.DefaultPoolMaxRetries, CreatedAt: at, UpdatedAt: at,
		}, out.PoolEntry)
		require.Equal(t, "content-1", task.ContentID())
		require.Equal(t, at, task.CompletedAt())
		require.Equal(t, 100, task.Progress().Percentage)
		require.False(t, out.Late)
	})

	t.Run("not auto-approved: pending review and no pool entry", func(t *testing.T) {
		task := submittedTask(t, func(p *domain.NewTaskParams) { p.AutoApprove = ptr(false) })
		out := complete(t, task, domain.Result{Content: "# T\n\nx"}, at)

		require.Equal(t, domain.ReviewPending, out.Content.ReviewStatus)
		require.Nil(t, out.PoolEntry)
	})

	t.Run("no heading outside code: the topic is the title", func(t *testing.T) {
		task := submittedTask(t)
		out := complete(t, task, domain.Result{Content: "```\n# in code\n```\nplain words"}, at)
		require.Equal(t, "AI 写作", out.Content.Title)
	})

	t.Run("the sender's word count wins, even zero", func(t *testing.T) {
		task := submittedTask(t)
		out := complete(t, task, domain.Result{Content: "# T\n\none two three", WordCount: ptr(1834)}, at)
		require.Equal(t, 1834, out.Content.WordCount)

		task = submittedTask(t)
		out = complete(t, task, domain.Result{Content: "# T\n\none two three", WordCount: ptr(0)}, at)
		require.Equal(t, 0, out.Content.WordCount)
	})

	t.Run("counted without the sender's: CJK one each, markup not counted", func(t *testing.T) {
		task := submittedTask(t)
		out := complete(t, task, domain.Result{Content: "# AI 写作\n\n**写作**是 fun *stuff*。"}, at)
		// AI, 写, 作, 写, 作, 是, fun, stuff
		require.Equal(t, 8, out.Content.WordCount)
	})

	t.Run("summary is the first 200 characters of plain text", func(t *testing.T) {
		task := submittedTask(t)
		long := "# 标题\n\n" + strings.Repeat("**字**", 300)
		out := complete(t, task, domain.Result{Content: long}, at)

		require.Equal(t, 200, utf8.RuneCountInString(out.Content.Summary))
		require.Equal(t, "标题 "+strings.Repeat("字", 197), out.Content.Summary)
		require.True(t, utf8.ValidString(out.Content.Summary))
	})

	t.Run("no images: no cover", func(t *testing.T) {
		task := submittedTask(t)
		out := complete(t, task, domain.Result{Content: "# T\n\nx"}, at)
		require.Empty(t, out.Content.CoverImage)
		require.Empty(t, out.Content.Images)
	})
}

// capturedCallback is the part of content-creator's callback body the test needs.
type capturedCallback struct {
	Event  string `json:"event"`
	Result struct {
		Content      string   `json:"content"`
		HTMLContent  string   `json:"htmlContent"`
		QualityScore *float64 `json:"qualityScore"`
		WordCount    *int     `json:"wordCount"`
		Images       []struct {
			URL string `json:"url"`
		} `json:"images"`
		Metrics json.RawMessage `json:"metrics"`
	} `json:"result"`
}

// loadCapturedResult reads the completed callback the real content-creator sent
// (testdata/callback-completed.body.json, a copy of
// shared/spec/content-creator-samples/callback-completed.body.json).
func loadCapturedResult(t *testing.T) domain.Result {
	t.Helper()
	raw, err := os.ReadFile("testdata/callback-completed.body.json")
	require.NoError(t, err)
	var cb capturedCallback
	require.NoError(t, json.Unmarshal(raw, &cb))
	require.Equal(t, "completed", cb.Event)
	r := domain.Result{
		Content: cb.Result.Content, HTMLContent: cb.Result.HTMLContent,
		QualityScore: cb.Result.QualityScore, WordCount: cb.Result.WordCount, Metrics: cb.Result.Metrics,
	}
	for _, img := range cb.Result.Images {
		r.Images = append(r.Images, img.URL)
	}
	return r
}

func TestCompletionFromCapturedCallback(t *testing.T) {
	result := loadCapturedResult(t)
	topic := func(p *domain.NewTaskParams) { p.Topic = "边缘计算入门" }
	at := t0.Add(10 * time.Minute)

	task := submittedTask(t, topic)
	out := complete(t, task, result, at)
	c := out.Content

	require.Equal(t, "边缘计算入门", c.Title)
	// The first 200 characters once "#", "##", "**", list markers and line
	// breaks are gone (worked out independently of the code under test).
	require.Equal(t, "边缘计算入门 引言 边缘计算入门是现代社会发展的重要议题。随着科技的进步和社会的发展，"+
		"边缘计算入门日益受到人们的关注和重视。本文将深入探讨边缘计算入门的各个方面，帮助读者全面了解这一重要话题。 "+
		"边缘计算入门的发展历程 回顾边缘计算入门的发展历程，我们可以看到它经历了多个重要的阶段。"+
		"从最初的探索到现在的成熟应用，边缘计算入门不断演进和完善。 早期阶段 在边缘计算入门的早期阶段，主要集中在新概念和理论",
		c.Summary)
	require.Equal(t, 1146, c.WordCount, "the sender's wordCount")
	require.Equal(t, "https://example.com/mock-image-1795861950241.png", c.CoverImage)
	require.Len(t, c.Images, 2)
	require.NotNil(t, c.QualityScore)
	require.InDelta(t, 8.0, *c.QualityScore, 1e-9)
	require.Equal(t, result.Content, c.Body, "the article is kept as sent")
	require.JSONEq(t, `{"tokensUsed":0,"cost":0,"duration":66,"stepsCompleted":[]}`, string(c.Metrics))
	require.Equal(t, domain.ReviewApproved, c.ReviewStatus)
	require.NotNil(t, out.PoolEntry)

	t.Run("counted when the sender gives no wordCount", func(t *testing.T) {
		noCount := result
		noCount.WordCount = nil
		out := complete(t, submittedTask(t, topic), noCount, at)
		// 916 Han characters plus "750" in "约750字"; list numbers are markup.
		require.Equal(t, 917, out.Content.WordCount)
	})
}
