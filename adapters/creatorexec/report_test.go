package creatorexec

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// callbackArticle is the article of the captured callback: the same canned
// article the captured text report holds.
func callbackArticle(t *testing.T) (content string, words int) {
	t.Helper()
	var body struct {
		Result struct {
			Content   string `json:"content"`
			WordCount int    `json:"wordCount"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(fixture(t, "callback-completed.body.json"), &body))
	require.NotEmpty(t, body.Result.Content)
	return body.Result.Content, body.Result.WordCount
}

const sep = "────────────────────────────────────────\n"

func TestParseResultReportOfTheRealCLI(t *testing.T) {
	want, words := callbackArticle(t)

	got, reason := parseResultReport(fixture(t, "cli-result.stdout"))
	require.Empty(t, reason)
	require.Equal(t, want, got.Content, "the Markdown byte for byte, blank lines and --- rules included")
	require.NotNil(t, got.WordCount)
	require.Equal(t, words, *got.WordCount)
	require.Equal(t, []string{
		"data/images/test-cli-001_0_1795861895422.png",
		"data/images/test-cli-001_1_1795861895422.png",
	}, got.Images)
	require.Empty(t, got.HTMLContent)
	require.Nil(t, got.QualityScore)
}

func TestParseResultReportShapes(t *testing.T) {
	const md = "# 标题\n\n正文\n\n---\n\n\n\n*尾注*"
	report := func(sections ...string) []byte {
		return []byte(banner(t) + "\n📄 任务结果\n" + sep + "任务ID: x\n状态: ✅ 已完成\n" + sep +
			"\n📋 生成结果\n" + sep + strings.Join(sections, ""))
	}
	section := func(n int, kind, label, body string) string {
		return strings.Join([]string{string(rune('0' + n)), ". ", kind, "\n", sep, label, "\n", body, "\n", sep}, "")
	}

	t.Run("the final article wins over the draft", func(t *testing.T) {
		got, reason := parseResultReport(report(
			section(1, "ARTICLE", "内容:", "# draft\n字数: 7"),
			section(2, "FINALARTICLE", "最终文章（图片已嵌入）:", md+"\n字数: 12\n图片数量: 1"),
			section(3, "IMAGE", "图片 URL:", `["a.png",{"url":"b.png"},{"prompt":"none"}]`),
		))
		require.Empty(t, reason)
		require.Equal(t, md, got.Content)
		require.Equal(t, 12, *got.WordCount)
		require.Equal(t, []string{"a.png", "b.png"}, got.Images)
	})

	t.Run("only the article, without counts", func(t *testing.T) {
		got, reason := parseResultReport(report(section(1, "ARTICLE", "内容:", md)))
		require.Empty(t, reason)
		require.Equal(t, md, got.Content)
		require.Nil(t, got.WordCount)
		require.Nil(t, got.Images)
	})

	t.Run("an empty final article falls back to the article", func(t *testing.T) {
		got, _ := parseResultReport(report(
			section(1, "ARTICLE", "内容:", md+"\n字数: 12"),
			section(2, "FINALARTICLE", "最终文章（图片已嵌入）:", "(无内容)"),
		))
		require.Equal(t, md, got.Content)
		require.Equal(t, 12, *got.WordCount)
	})

	t.Run("chalk colours every line", func(t *testing.T) {
		var colored []string
		for _, l := range strings.Split(md, "\n") {
			colored = append(colored, "\x1b[90m"+l+"\x1b[39m")
		}
		got, _ := parseResultReport(report(section(1, "ARTICLE", "\x1b[37m内容:\x1b[39m", strings.Join(colored, "\n"))))
		require.Equal(t, md, got.Content)
	})

	t.Run("a cut report has no article", func(t *testing.T) {
		out := report(section(1, "ARTICLE", "内容:", md+"\n字数: 12"))
		got, reason := parseResultReport(out[:len(out)-len(sep)-5])
		require.Empty(t, got.Content)
		require.Equal(t, "no article in the text report", reason)
	})

	for name, tt := range map[string]struct{ out, reason string }{
		"not finished":        {string(fixture(t, "cli-result-fail-json.stdout")), "任务尚未完成，当前状态: ❌ 失败"},
		"no results stored":   {banner(t) + "\n📄 任务结果\n" + sep + "任务ID: x\n" + sep + "提示: 该任务未生成结果\n", "提示: 该任务未生成结果"},
		"empty article":       {string(report(section(1, "ARTICLE", "内容:", "(无内容)"))), "the report's article is empty"},
		"the JSON task row":   {string(fixture(t, "cli-result-json.stdout")), "no article in the text report"},
		"the status, instead": {string(fixture(t, "cli-status.stdout")), "no article in the text report"},
	} {
		t.Run(name, func(t *testing.T) {
			got, reason := parseResultReport([]byte(tt.out))
			require.Empty(t, got.Content)
			require.Equal(t, tt.reason, reason)
		})
	}
}

func TestRejectsJSONOption(t *testing.T) {
	for _, tt := range []struct {
		stderr string
		want   bool
	}{
		{"error: unknown option '--json'\n", true},
		{"unknown option '--json'\n", true},
		{"Error: Unknown Option '--json' (Did you mean --format?)\n", true},
		{"error: unknown option '--jsonl'\n", false},
		{"error: unknown option '--verbose'\n", false},
		{"error: required option '-t, --task-id <taskId>' not specified\n", false},
		{"❌ 错误: 未找到任务 x\n", false},
	} {
		require.Equal(t, tt.want, rejectsJSONOption(output{stderr: []byte(tt.stderr)}), tt.stderr)
	}
	require.True(t, rejectsJSONOption(output{stdout: []byte("error: unknown option '--json'\n")}), "on stdout too")
}
