package domain

import (
	"strings"
	"unicode/utf8"
)

// Brief is what content-creator is asked to write for an attempt: the task's
// request, with defaults for what the published program requires but a
// client may leave out (its workflow refuses to run without requirements,
// and its HTTP API without a target audience).
type Brief struct {
	Topic          string
	Requirements   string
	TargetAudience string
	Tone           string
	Keywords       []string
	Priority       int // 1–10, higher = more urgent
}

// DefaultTargetAudience is the published CLI's own default audience ("general
// readers"), used when the task has no category to narrow it.
const DefaultTargetAudience = "普通读者"

// MaxBriefRequirementsRunes bounds generated requirements to what the
// published HTTP API accepts.
const MaxBriefRequirementsRunes = 2000

// Brief returns the task's request as content-creator gets it.
func (t *Task) Brief() Brief {
	b := Brief{
		Topic: t.topic, Requirements: t.requirements, Tone: t.tone,
		Keywords: append([]string(nil), t.keywords...), Priority: t.priority,
		TargetAudience: DefaultTargetAudience,
	}
	if b.Requirements == "" {
		b.Requirements = DefaultRequirements(t.topic, t.category, t.keywords)
	}
	if t.category != "" {
		b.TargetAudience = "关注「" + t.category + "」的读者"
	}
	return b
}

// DefaultRequirements builds requirements from the topic, category and
// keywords: "围绕「topic」写一篇结构清晰、内容准确的文章，面向「category」栏目，
// 自然融入关键词：a、b。" Keywords that would take it past
// MaxBriefRequirementsRunes are left out.
func DefaultRequirements(topic, category string, keywords []string) string {
	var b strings.Builder
	b.WriteString("围绕「" + topic + "」写一篇结构清晰、内容准确的文章")
	if category != "" {
		b.WriteString("，面向「" + category + "」栏目")
	}
	base := b.String()
	if len(keywords) > 0 {
		b.WriteString("，自然融入关键词：")
		for i, k := range keywords {
			next := k
			if i > 0 {
				next = "、" + k
			}
			if utf8.RuneCountInString(b.String()+next+"。") > MaxBriefRequirementsRunes {
				break
			}
			b.WriteString(next)
		}
		if b.Len() == len(base)+len("，自然融入关键词：") {
			b.Reset()
			b.WriteString(base)
		}
	}
	b.WriteString("。")
	return b.String()
}
