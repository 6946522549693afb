package main

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var reviewDocBlock = regexp.MustCompile("(?s)<!-- review-doc-test -->\\s*```sh\\n(.*?)```")

// TestReadmeReviewWalkThroughRuns runs the README's "review and publish one
// article" as written against a service started like `make run`: the
// article it creates ends published, through the review and a claim.
func TestReadmeReviewWalkThroughRuns(t *testing.T) {
	requireCurl(t)
	doc, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	block := reviewDocBlock.FindStringSubmatch(string(doc))
	require.NotNil(t, block, "the README lost its review walk-through")
	svc := startService(t, t.TempDir(), nil)
	// runDocExamples takes the <!-- doc-test --> blocks; this one is marked apart.
	out := runDocExamples(t, "<!-- doc-test -->\n```sh\n"+block[1]+"```", svc, 1)
	require.Contains(t, out, `"review_status":"pending_review"`)
	require.Contains(t, out, `"status":"published"`)
	require.True(t, strings.Contains(out, `"counts":{`) && strings.Contains(out, `"published":1`), out)

	var pool struct {
		Items []struct {
			Status string  `json:"status"`
			URL    *string `json:"url"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/publish-pool", nil, &pool))
	require.Len(t, pool.Items, 1)
	require.Equal(t, "published", pool.Items[0].Status)
	require.Equal(t, "https://mp.example.com/s/1", *pool.Items[0].URL)
}
