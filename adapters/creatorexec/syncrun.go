package creatorexec

import (
	"regexp"
	"strconv"
	"strings"

	"contenthub/adapters/creatorwire"
	"contenthub/domain"
	"contenthub/ports"
)

// The published CLI's `create --mode sync` runs the whole generation in its
// own process and prints the outcome as text (create.ts executeTask):
//
//	✅ 执行成功
//	────────────────────────────────────────
//	任务ID: test-cli-001
//	状态: 已完成                 (or 失败; "执行成功" is printed either way)
//	…
//	📝 生成的内容:
//	────────────────────────────────────────
//	<the article, Markdown, byte for byte>
//	────────────────────────────────────────
//
//	🖼️ 生成的配图:
//	────────────────────────────────────────
//	data/images/test-cli-001_0_….png      (one per line)
//	────────────────────────────────────────
//
//	🔍 文本质检:
//	────────────────────────────────────────
//	状态: 通过
//	评分: 8/100
//	────────────────────────────────────────
//
// A failed run prints no article; its reason is only in the JSON log lines
// before the banner (field "error").

// syncRun is what a sync create's stdout says about the run.
type syncRun struct {
	ref     string             // 任务ID, "" when not printed
	state   ports.CreatorPhase // from 状态; PhaseUnknown when absent or unrecognised
	raw     string             // the 状态 label as printed
	article string
	images  []string
	quality *float64
	reason  string // why it failed, from the log lines
}

// sectionBody returns the lines between the two separators that follow the
// first line containing marker, joined as printed; ok is false when the
// section is missing or not closed (the output was cut).
func sectionBody(lines []string, marker string) (string, bool) {
	for i, l := range lines {
		if !strings.Contains(l, marker) {
			continue
		}
		if i+1 >= len(lines) || !isReportSeparator(lines[i+1]) {
			return "", false
		}
		for j := i + 2; j < len(lines); j++ {
			if isReportSeparator(lines[j]) {
				return strings.Join(lines[i+2:j], "\n"), true
			}
		}
		return "", false
	}
	return "", false
}

// qualityScore reads "评分: 8/100" or "评分: 8.2": the number before any "/".
var qualityScore = regexp.MustCompile(`^评分[:：]\s*([0-9]+(?:\.[0-9]+)?)`)

func parseSyncRun(stdout []byte) syncRun {
	text := ansiEscape.ReplaceAllString(string(stdout), "")
	raw := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	trimmed := make([]string, len(raw))
	for i, l := range raw {
		trimmed[i] = strings.TrimSpace(l)
	}
	run := syncRun{state: ports.PhaseUnknown}
	// 任务ID and 状态 of the result block: the last 任务ID, and the 状态 right
	// after it (the quality block has a 状态 of its own).
	for i := len(trimmed) - 1; i >= 0; i-- {
		ref, ok := textField(trimmed[i:i+1], "任务ID")
		if !ok {
			continue
		}
		run.ref = ref
		for _, l := range trimmed[i+1:] {
			if label, ok := textField([]string{l}, "状态"); ok {
				run.raw = label
				run.state = creatorwire.PhaseOf(stateFromLabel(label))
				break
			}
			if l == "" || isReportSeparator(l) {
				break
			}
		}
		break
	}
	if article, ok := sectionBody(raw, "生成的内容"); ok {
		// The separators are the CLI's; the Markdown between them is kept as
		// printed, surrounding blank lines aside.
		run.article = strings.Trim(article, "\n")
	}
	if images, ok := sectionBody(trimmed, "生成的配图"); ok {
		for _, l := range strings.Split(images, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				run.images = append(run.images, l)
			}
		}
	}
	if quality, ok := sectionBody(trimmed, "文本质检"); ok {
		for _, l := range strings.Split(quality, "\n") {
			if m := qualityScore.FindStringSubmatch(l); m != nil {
				if q, err := strconv.ParseFloat(m[1], 64); err == nil {
					run.quality = &q
				}
			}
		}
	}
	if run.state == ports.PhaseFailed {
		run.reason = lastLoggedError(jsonObjects(stdout))
	}
	return run
}

// result is the run's article as the service keeps it.
func (r syncRun) result() domain.Result {
	return domain.Result{Content: r.article, Images: r.images, QualityScore: r.quality}
}
