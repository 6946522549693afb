// Package article writes the simulator's articles: deterministic Markdown made from the topic alone, so the
// same topic always yields the same text, with Chinese and English prose, a few sections and an image.
package article

import (
	"fmt"
	"hash/fnv"
	"strings"
	"unicode/utf16"
)

// Article is a generated article.
type Article struct {
	Markdown     string
	Images       []Image
	QualityScore float64 // 7.0–9.9, one decimal
}

// Image is an illustration the article refers to.
type Image struct {
	URL    string
	Name   string // file name, for a local path
	Prompt string
}

// WordCount is the article's length as the real content-creator reports it: the length of the Markdown in
// UTF-16 code units (JavaScript's string length), so mostly a character count.
func (a Article) WordCount() int { return len(utf16.Encode([]rune(a.Markdown))) }

// Write returns the article for topic.
func Write(topic string) Article {
	topic = strings.TrimSpace(topic)
	if topic == "" {
		topic = "Untitled"
	}
	h := fnv.New64a()
	h.Write([]byte(topic))
	seed := h.Sum64()
	pick := func(n int, options ...string) string { // the n-th choice is taken from its own bits of the seed
		return options[(seed>>(uint(n)*5))%uint64(len(options))]
	}

	images := []Image{
		{
			URL:    fmt.Sprintf("https://example.com/content-creator-sim/%016x-0.png", seed),
			Name:   fmt.Sprintf("%016x_0.png", seed),
			Prompt: fmt.Sprintf("Professional illustration showing %s concept, modern minimalist style", topic),
		},
		{
			URL:    fmt.Sprintf("https://example.com/content-creator-sim/%016x-1.png", seed),
			Name:   fmt.Sprintf("%016x_1.png", seed),
			Prompt: fmt.Sprintf("Timeline infographic showing development history of %s, clean design", topic),
		},
	}

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n\n", args...) }

	p("# %s", topic)
	p("## 引言 / Introduction")
	p("%s%s本文从背景、核心概念、实践方法和未来趋势四个方面展开，帮助读者建立完整的认识。", topic,
		pick(0, "是近年来备受关注的话题。", "正在改变许多团队的工作方式。", "是技术社区反复讨论的主题。"))
	p("%s This article explains where %s comes from, how it works in practice, and what to watch next. "+
		"It is written for readers who want a clear overview before they dive into the details.",
		pick(1, "Interest in the subject keeps growing.", "Few topics have moved as quickly.",
			"The idea is simple to state but subtle to apply."), topic)
	p("![%s 示意图](%s)", topic, images[0].URL)

	p("## 背景 / Background")
	p("理解%s，首先要回顾它的发展历程。%s在早期阶段，人们主要关注基本概念和可行性；随着实践经验的积累，"+
		"相关的方法和工具逐渐成熟，应用范围也不断扩大。", topic,
		pick(2, "它并非一夜之间出现，而是多年积累的结果。", "它的出现有着深刻的技术与市场背景。",
			"许多关键想法其实早已存在。"))
	p("Early work on %s focused on feasibility. As tools matured and costs fell, teams began to adopt it in "+
		"production, and the questions shifted from \"can we?\" to \"how do we do it well?\"", topic)

	p("## 核心概念 / Key ideas")
	fmt.Fprintf(&b, "- **%s**：%s\n", pick(3, "可靠性", "简洁性", "可观测性"),
		"系统在出错时仍能给出可预期的结果。 Reliability comes first.")
	fmt.Fprintf(&b, "- **%s**：%s\n", pick(4, "可扩展性", "可维护性", "安全性"),
		"随着规模增长，设计依然清晰。 Good structure keeps growth cheap.")
	fmt.Fprintf(&b, "- **%s**：%s\n\n", pick(5, "成本控制", "用户体验", "数据质量"),
		"投入与产出需要持续衡量。 Measure before you optimise.")
	p("这些概念相互关联：%s只有在三者之间取得平衡，才能发挥最大价值。", topic)

	p("## 实践方法 / In practice")
	p("1. **从小处开始**：选择一个边界清晰的场景试点，快速验证效果。Start with one well-understood use case.\n" +
		"2. **建立度量**：明确成功标准，并持续收集数据。Decide what success looks like and track it.\n" +
		"3. **逐步推广**：在总结经验后再扩大范围。Expand only once the first results are solid.")
	p("%s In our experience, the teams that succeed with %s treat it as a product rather than a project: "+
		"they keep improving it after the first release.",
		pick(6, "A common mistake is to do too much at once.", "Patience pays off here.",
			"Small, steady steps beat big rewrites."), topic)
	p("![%s 发展时间线](%s)", topic, images[1].URL)

	p("## 挑战与展望 / Challenges and outlook")
	p("当然，%s也面临不少挑战：技术门槛、人才储备以及与现有系统的集成。%s", topic,
		pick(7, "展望未来，随着生态的完善，这些问题有望逐步缓解。", "但总体来看，前景依然十分广阔。",
			"解决这些问题需要业界的共同努力。"))
	p("Looking ahead, %s will likely become less visible and more essential, the way good infrastructure "+
		"always does.", topic)

	p("## 结语 / Conclusion")
	fmt.Fprintf(&b, "总之，%s值得每一位关注技术发展的读者深入了解。希望本文能为你提供一个清晰的起点。"+
		"Thanks for reading.\n", topic)

	return Article{
		Markdown:     b.String(),
		Images:       images,
		QualityScore: float64(70+seed%30) / 10, // integer tenths, so it prints as 8.2, not 8.200000000000001
	}
}
