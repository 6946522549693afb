package domain_test

import (
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

// TestPlainTextFollowsTheSpec covers what the line scanner does better than
// the regular expressions it replaced, as CommonMark reads it.
func TestPlainTextFollowsTheSpec(t *testing.T) {
	cases := []struct {
		name, md, want string
	}{
		{"code is kept as written, markup and all", "```\na*b*c [x](y)\n```\nafter *it*", "a*b*c [x](y) after it"},
		{"a fence closes only with its own character", "```\n~~~\n# inside\n```\n# out", "~~~ # inside out"},
		{"an unclosed fence runs to the end", "text\n```\n# code", "text # code"},
		{"backticks inside a line open no fence", "```inline``` text\n# T", "inline text T"},
		{"a comparison is not an HTML tag", "1 < 2 and 3 > 2", "1 < 2 and 3 > 2"},
		{"an autolink-like tag is dropped", "see <https://x> or <b>bold</b>", "see or bold"},
		{"a linked image reads as its alt text", "[![build status](https://ci/badge.svg)](https://ci) ok", "build status ok"},
		{"brackets without a link stay", "[not a link] and [x] (y)", "[not a link] and [x] (y)"},
		{"link text keeps its emphasis removed", "[**bold** link](u)", "bold link"},
		{"a link's text ends at the first ]", "[a [b](u) c", "a [b c"},
		{"a single tilde stays", "~5 km", "~5 km"},
		{"double underscores go even inside words, single ones do not", "__init__ my_var", "init my_var"},
		{"ideographic space folds", "中文\u3000\u3000文本", "中文 文本"},
		{"invalid UTF-8 becomes U+FFFD", "a\xffb", "a\ufffdb"},
		{"deep quotes and a list marker inside", "> > > - quoted item", "quoted item"},
		{"1.5 is a number, not a list marker", "1.5 liters", "1.5 liters"},
		{"an empty heading of only closing hashes", "# ###\ntext", "text"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, domain.PlainText(c.md))
		})
	}
}

func TestDescribeArticle(t *testing.T) {
	article := readArticle(t)

	t.Run("the realistic article", func(t *testing.T) {
		a := domain.DescribeArticle(article, true)
		require.Equal(t, "边缘计算入门：从概念到工程实践", a.Heading)
		require.Equal(t, 200, utf8.RuneCountInString(a.Summary))
		require.True(t, strings.HasPrefix(a.Summary, "边缘计算入门：从概念到工程实践 引言 分布式调度系统在很大程度上决定了业务系统的可用性"), a.Summary)
		require.NotContains(t, a.Summary, "](", "links are reduced to their text")
		require.NotContains(t, a.Summary, "**")
		require.True(t, a.Counted)
		require.Equal(t, domain.CountWords(domain.PlainText(article)), a.Words)
		require.Greater(t, a.Words, 5000, "a 20 KB Chinese article has thousands of characters")
	})

	t.Run("without counting, words are left alone", func(t *testing.T) {
		a := domain.DescribeArticle(article, false)
		require.False(t, a.Counted)
		require.Zero(t, a.Words)
		require.Equal(t, domain.DescribeArticle(article, true).Summary, a.Summary)
	})

	t.Run("a heading after a long text is still found", func(t *testing.T) {
		md := strings.Repeat("正文内容，", 10000) + "\n\n```\n# in code\n```\n\n## 结尾标题\n"
		a := domain.DescribeArticle(md, false)
		require.Equal(t, "结尾标题", a.Heading)
		require.Equal(t, 200, utf8.RuneCountInString(a.Summary))
	})

	t.Run("the summary is the start of the plain text", func(t *testing.T) {
		for _, md := range []string{"", "   ", "# T", "a  b", strings.Repeat("ab ", 100), strings.Repeat("字", 199) + "  x"} {
			a := domain.DescribeArticle(md, true)
			require.Equal(t, firstRunes(domain.PlainText(md), domain.SummaryRunes), a.Summary, "%q", md)
		}
	})
}

func TestCompletionUsesTheDescribedArticle(t *testing.T) {
	task := submittedTask(t)
	result := domain.Result{Content: "# 正文标题\n\n正文", Article: &domain.Article{Heading: "Given", Summary: "given summary", Words: 7, Counted: true}}
	out := complete(t, task, result, t0.Add(time.Minute))
	require.Equal(t, "Given", out.Content.Title, "Apply takes what was derived before the transaction")
	require.Equal(t, "given summary", out.Content.Summary)
	require.Equal(t, 7, out.Content.WordCount)

	described := domain.Result{Content: "# 标题\n\n一二三"}.Described()
	require.Equal(t, &domain.Article{Heading: "标题", Summary: "标题 一二三", Words: 5, Counted: true}, described.Article)
	again := described.Described()
	require.Same(t, described.Article, again.Article, "described once")
	withCount := domain.Result{Content: "# 标题", WordCount: ptr(3)}.Described()
	require.False(t, withCount.Article.Counted, "the sender's count spares the counting")
}

// FuzzDescribeArticle: whatever the Markdown, the scanner's summary is the
// start of its plain text, its count is CountWords of that text, and both
// are valid UTF-8.
func FuzzDescribeArticle(f *testing.F) {
	for _, seed := range []string{
		"# Title\n\nSome **bold** [link](u) and ![img](i).", "```\n# code\n```\n## H ##", "> - [![a](b)](c) <b>x</b> _y_ my_z",
		"[[[[((((]]]])))", "<<<<a>>>>", "*_*_~~~`", "1. 2) - + * x", "---\n[ref]: x\n", "中文，标点。\u3000空格",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, md string) {
		plain := domain.PlainText(md)
		a := domain.DescribeArticle(md, true)
		if want := firstRunes(plain, domain.SummaryRunes); a.Summary != want {
			t.Fatalf("summary %q, want %q", a.Summary, want)
		}
		if want := domain.CountWords(plain); a.Words != want {
			t.Fatalf("words %d, want %d", a.Words, want)
		}
		if !utf8.ValidString(a.Summary) || !utf8.ValidString(a.Heading) {
			t.Fatalf("invalid UTF-8: %q %q", a.Summary, a.Heading)
		}
		if b := domain.DescribeArticle(md, false); b.Summary != a.Summary || b.Heading != a.Heading {
			t.Fatalf("without counting: %+v, with: %+v", b, a)
		}
	})
}

func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// readArticle is a realistic article: ~20 KB of Chinese Markdown with
// headings, emphasis, links, lists, a code block, a table and images.
func readArticle(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile("testdata/article-zh-20k.md")
	require.NoError(tb, err)
	return string(b)
}

// BenchmarkDescribeArticle is the derivation a completion pays, before its
// transaction: with the sender's word count (the real sender gives one) and
// without.
func BenchmarkDescribeArticle(b *testing.B) {
	article := readArticle(b)
	for _, count := range []bool{false, true} {
		name := "sender-counted"
		if count {
			name = "counted-here"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(article)))
			b.ReportAllocs()
			for b.Loop() {
				domain.DescribeArticle(article, count)
			}
		})
	}
}

// BenchmarkDescribeArticleAdversarial times a crafted 5 MiB article against
// a plain one of the same size, interleaved, and fails when the crafted one
// costs more than 3× the plain one (issue 12: a body must not be able to cost
// seconds). Each op derives both articles, counting words (the full pass)
// and not (the heading search over every line).
func BenchmarkDescribeArticleAdversarial(b *testing.B) {
	const size = 5 << 20
	plain := repeatTo(readArticle(b), size)
	crafted := adversarialArticle(size)
	describe := func(md string) time.Duration {
		start := time.Now()
		domain.DescribeArticle(md, true)
		domain.DescribeArticle(md, false)
		return time.Since(start)
	}
	var plainTook, craftedTook time.Duration
	for b.Loop() {
		plainTook += describe(plain)
		craftedTook += describe(crafted)
	}
	ratio := float64(craftedTook) / float64(plainTook)
	b.ReportMetric(float64(plainTook.Nanoseconds())/float64(b.N), "plain-ns/op")
	b.ReportMetric(float64(craftedTook.Nanoseconds())/float64(b.N), "crafted-ns/op")
	b.ReportMetric(ratio, "crafted/plain")
	if ratio > 3 {
		b.Fatalf("a crafted 5 MiB article costs %.1f× a plain one (%v against %v per op); the limit is 3×",
			ratio, craftedTook/time.Duration(b.N), plainTook/time.Duration(b.N))
	}
}

func repeatTo(s string, size int) string {
	return strings.Repeat(s, size/len(s)+1)[:size]
}

// adversarialArticle is what breaks naive Markdown handling: unclosed
// brackets, links and tags that never end, deep emphasis and quotes, and
// lines megabytes long, some of them headings.
func adversarialArticle(size int) string {
	parts := []string{
		strings.Repeat("[", size/16),                                        // brackets that never close, one line
		strings.Repeat("[a](", size/64),                                     // links that never close
		strings.Repeat("![x]", size/64),                                     // images without destinations
		strings.Repeat("[![a](b)](", size/160),                              // linked images that never close
		strings.Repeat("*_~`", size/64),                                     // emphasis marks everywhere
		strings.Repeat("**", size/64) + "x" + strings.Repeat("**", size/64), // deep emphasis
		strings.Repeat("<a", size/32),                                       // tags that never close
		strings.Repeat("> ", size/32) + "- deep quote",                      // a quote 80,000 levels deep
		"# " + strings.Repeat("[#", size/64) + " ##",                        // a heading line of half a megabyte
		strings.Repeat("_a", size/32),                                       // underscores at every word edge
		strings.Repeat("1. 2) - ", size/64),                                 // list markers
		strings.Repeat("```\n# h\n", size/64),                               // fences opening and closing
		strings.Repeat("]()", size/48),                                      // closers with nothing open
	}
	return repeatTo(strings.Join(parts, "\n"), size)
}
