package creatorexec

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"contenthub/adapters/creatorwire"
	"contenthub/domain"
)

// The published CLI's `result -t ID` prints a text report: the task's id and
// state, then one section per stored result (result.ts):
//
//	1. ARTICLE
//	────────────────────────────────────────
//	内容:
//	<the Markdown, as stored>
//	字数: 1146
//	────────────────────────────────────────
//	2. FINALARTICLE
//	────────────────────────────────────────
//	最终文章（图片已嵌入）:
//	<the Markdown with its images embedded>
//	字数: 1146
//	图片数量: 2
//	────────────────────────────────────────
//	3. IMAGE
//	────────────────────────────────────────
//	图片 URL:
//	[{"url":"data/images/….png","prompt":"…"}]
//	────────────────────────────────────────
//
// The counts are printed only when non-zero. The Markdown itself may hold
// blank lines and "---" rules, so a section ends only at the separator line
// the CLI prints (printSeparator: 40 × "─").

// reportSection is one result of the report.
type reportSection struct {
	kind string // ARTICLE, FINALARTICLE, IMAGE, … as printed
	body string // from after the label line to before the closing separator, byte for byte
}

var reportHeader = regexp.MustCompile(`^\d+\. ([A-Z][A-Z_]*)$`)

// isReportSeparator reports whether line is a separator of the report: a
// line of box-drawing "─" only (a Markdown rule is "---", not this).
func isReportSeparator(line string) bool {
	line = strings.TrimSpace(line)
	return len(line) >= 10*len("─") && strings.Trim(line, "─") == ""
}

// reportSections returns the report's complete sections, in order; one the
// output does not close (it was cut) is left out.
func reportSections(stdout []byte) []reportSection {
	if bytes.IndexByte(stdout, 0x1b) >= 0 {
		// chalk colours every line when it thinks it writes to a terminal.
		stdout = ansiEscape.ReplaceAll(stdout, nil)
	}
	lines := strings.SplitAfter(string(stdout), "\n")
	var sections []reportSection
	for i := 0; i+2 < len(lines); i++ {
		m := reportHeader.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil || !isReportSeparator(lines[i+1]) || !isLabel(lines[i+2]) {
			continue
		}
		start := i + 3
		end := start
		for end < len(lines) && !isReportSeparator(lines[end]) {
			end++
		}
		if end == len(lines) {
			break
		}
		sections = append(sections, reportSection{kind: m[1], body: strings.Join(lines[start:end], "")})
		i = end
	}
	return sections
}

// isLabel reports whether line introduces a section's content ("内容:",
// "最终文章（图片已嵌入）:", "图片 URL:").
func isLabel(line string) bool {
	line = strings.TrimSpace(line)
	return strings.HasSuffix(line, ":") || strings.HasSuffix(line, "：")
}

// reportCount matches the count lines printed after an article.
var reportCount = regexp.MustCompile(`^(字数|图片数量)[:：]\s*(\d+)$`)

// emptyContent is what the CLI prints for a result without content.
const emptyContent = "(无内容)"

// article splits an article section's body into the Markdown (without the
// newlines around it) and the "字数" it reports, if any.
func (s reportSection) article() (content string, words *int) {
	lines := strings.SplitAfter(s.body, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for len(lines) > 0 {
		m := reportCount.FindStringSubmatch(strings.TrimSpace(lines[len(lines)-1]))
		if m == nil {
			break
		}
		if n, err := strconv.Atoi(m[2]); err == nil && m[1] == "字数" {
			words = &n
		}
		lines = lines[:len(lines)-1]
	}
	content = strings.Trim(strings.Join(lines, ""), "\r\n")
	if content == emptyContent {
		return "", words
	}
	return content, words
}

// parseResultReport reads the article from the text report: the
// FINALARTICLE's Markdown when there is one (its images are embedded), else
// the ARTICLE's; images from the IMAGE sections' JSON lists. Without an
// article it says why, for the error.
func parseResultReport(stdout []byte) (domain.Result, string) {
	var article, final *reportSection
	var images []string
	sections := reportSections(stdout)
	for i, s := range sections {
		switch s.kind {
		case "ARTICLE":
			article = &sections[i]
		case "FINALARTICLE":
			final = &sections[i]
		case "IMAGE":
			images = append(images, creatorwire.ImageURLs(json.RawMessage(strings.TrimSpace(s.body)))...)
		}
	}
	var r domain.Result
	for _, s := range []*reportSection{final, article} {
		if s == nil {
			continue
		}
		if r.Content, r.WordCount = s.article(); r.Content != "" {
			r.Images = images
			return r, ""
		}
	}
	lines := textLines(stdout)
	if l, ok := notFinishedLine(lines); ok {
		return domain.Result{}, l
	}
	for _, l := range lines {
		if strings.Contains(l, "未生成结果") {
			return domain.Result{}, l
		}
	}
	if final != nil || article != nil {
		return domain.Result{}, "the report's article is empty"
	}
	return domain.Result{}, "no article in the text report"
}
