package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"contenthub/adapters/signature"
)

// callback is one prepared delivery: where it goes and what it carries.
type callback struct {
	taskID string
	url    string // with the attempt's token
	body   []byte
	header http.Header
}

// completedBody is a completed callback shaped like the real sender's
// (CONTENT-CREATOR.md): the article twice (content, and htmlContent, which
// it fills with the Markdown too), image objects, its character count,
// metrics.
func completedBody(ref, topic, article string, sentAt time.Time) []byte {
	type image struct {
		URL       string `json:"url"`
		LocalPath string `json:"localPath"`
		Prompt    string `json:"prompt"`
	}
	var images []image
	for i, u := range imageURLs(article) {
		images = append(images, image{URL: u, LocalPath: fmt.Sprintf("data/images/%s-%d.png", ref, i+1), Prompt: topic + " 配图"})
	}
	body := map[string]any{
		"event": "completed", "taskId": ref, "workflowType": "content-creator", "status": "completed",
		"timestamp": sentAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		"metadata":  map[string]any{"topic": topic, "requirements": "写一篇面向开发者的科普文章", "targetAudience": "开发者"},
		"result": map[string]any{
			"content": article, "htmlContent": article, "images": images, "qualityScore": 8.2,
			"wordCount": utf8.RuneCountInString(article),
			"metrics":   map[string]any{"tokensUsed": 5321, "cost": 0.012, "duration": 95000, "stepsCompleted": []string{"search", "organize", "write", "check_text", "check_image"}},
		},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as JavaScript's JSON.stringify writes it
	if err := enc.Encode(body); err != nil {
		panic(err) // plain data: cannot fail
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// personalised gives each task its own article: its topic as the heading.
func personalised(article, topic string) string {
	_, rest, _ := strings.Cut(article, "\n")
	return "# " + topic + "\n" + rest
}

func imageURLs(md string) []string {
	var urls []string
	for rest := md; ; {
		i := strings.Index(rest, "![")
		if i < 0 {
			return urls
		}
		rest = rest[i+2:]
		j := strings.Index(rest, "](")
		k := strings.IndexByte(rest, ')')
		if j < 0 || k < j {
			continue
		}
		urls = append(urls, rest[j+2:k])
		rest = rest[k:]
	}
}

// signedHeader signs body by scheme a with a timestamp, and adds the
// headers the real sender sends.
func signedHeader(secret string, body []byte, at time.Time) http.Header {
	ts := at.Unix()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "content-creator/1.0")
	h.Set("X-Webhook-Event", "completed")
	h.Set(signature.HeaderSignature, "sha256="+signature.SignRaw(secret, body, ts))
	h.Set(signature.HeaderTimestamp, strconv.FormatInt(ts, 10))
	return h
}
