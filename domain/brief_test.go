package domain_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

func TestBriefKeepsWhatTheClientAskedFor(t *testing.T) {
	task := newTask(t, func(p *domain.NewTaskParams) {
		p.Requirements, p.Tone, p.Category = "写给运维工程师", "轻松", "云计算"
	})
	b := task.Brief()
	require.Equal(t, domain.Brief{
		Topic: "AI 写作", Requirements: "写给运维工程师", TargetAudience: "关注「云计算」的读者",
		Tone: "轻松", Keywords: []string{"ai", "写作"}, Priority: 7,
	}, b)
}

func TestBriefDefaultsWhatThePublishedProgramRequires(t *testing.T) {
	t.Run("topic and keywords", func(t *testing.T) {
		b := newTask(t).Brief()
		require.Equal(t, "围绕「AI 写作」写一篇结构清晰、内容准确的文章，自然融入关键词：ai、写作。", b.Requirements)
		require.Equal(t, domain.DefaultTargetAudience, b.TargetAudience)
	})
	t.Run("category, no keywords", func(t *testing.T) {
		b := newTask(t, func(p *domain.NewTaskParams) { p.Keywords, p.Category = nil, "科技" }).Brief()
		require.Equal(t, "围绕「AI 写作」写一篇结构清晰、内容准确的文章，面向「科技」栏目。", b.Requirements)
	})
	t.Run("keywords beyond the API's limit are left out", func(t *testing.T) {
		long := strings.Repeat("长", 90)
		kws := make([]string, domain.MaxKeywords)
		for i := range kws {
			kws[i] = long
		}
		b := newTask(t, func(p *domain.NewTaskParams) { p.Keywords = kws }).Brief()
		require.LessOrEqual(t, utf8.RuneCountInString(b.Requirements), domain.MaxBriefRequirementsRunes)
		require.Contains(t, b.Requirements, long)
		require.True(t, strings.HasSuffix(b.Requirements, long+"。"), "whole keywords only")
	})
}
