package article

import (
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

func TestWriteIsDeterministicPerTopic(t *testing.T) {
	a, b := Write("边缘计算入门"), Write("边缘计算入门")
	require.Equal(t, a, b)
	require.NotEqual(t, a.Markdown, Write("Rust 所有权").Markdown)
}

func TestWriteShape(t *testing.T) {
	for _, topic := range []string{"边缘计算入门", "Kubernetes operators", "AI 写作 & <tips>"} {
		t.Run(topic, func(t *testing.T) {
			a := Write(topic)
			require.True(t, strings.HasPrefix(a.Markdown, "# "+topic+"\n\n"), "starts with the topic as heading")
			require.GreaterOrEqual(t, strings.Count(a.Markdown, "\n## "), 4, "has sections")
			require.Regexp(t, regexp.MustCompile(`!\[[^\]]*\]\(https://[^)]+\.png\)`), a.Markdown)
			require.Equal(t, a.Images[0].URL, regexp.MustCompile(`!\[[^\]]*\]\(([^)]+)\)`).FindStringSubmatch(a.Markdown)[1])

			words := countWords(a.Markdown)
			require.GreaterOrEqual(t, words, 300)
			require.LessOrEqual(t, words, 800)
			require.GreaterOrEqual(t, a.QualityScore, 7.0)
			require.Less(t, a.QualityScore, 10.0)
			require.Equal(t, len([]rune(a.Markdown)), a.WordCount(), "no characters outside the BMP here")
		})
	}
}

// countWords is the service's rule: each CJK character is a word, other words are split by white space.
func countWords(s string) int {
	n := 0
	var other strings.Builder
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			n++
			other.WriteRune(' ')
			continue
		}
		other.WriteRune(r)
	}
	return n + len(strings.Fields(other.String()))
}
