package signature_test

import (
	"strconv"
	"strings"
	"testing"

	"contenthub/adapters/signature"
	"contenthub/domain"
	"contenthub/ports"
)

func BenchmarkVerify(b *testing.B) {
	// A realistic completed callback: a few KiB of article.
	payload := []byte(`{"event":"completed","taskId":"task-01-1","result":{"content":"` +
		strings.Repeat("Lorem ipsum dolor sit amet. ", 150) + `","wordCount":1834}}`)
	v, err := signature.NewVerifier(signature.Config{Tokens: true, Secrets: []string{"s3cret", whsecSecret}})
	if err != nil {
		b.Fatal(err)
	}
	attempts := make([]domain.Attempt, 3)
	for i := range attempts {
		attempts[i] = domain.Attempt{Number: i + 1, TokenHash: domain.HashToken("token-" + strconv.Itoa(i+1))}
	}
	ts := vectorNow.Unix()
	std, err := signature.SignStandard(whsecSecret, "msg_1", ts, payload)
	if err != nil {
		b.Fatal(err)
	}
	canonical, err := signature.SignCanonical("s3cret", payload)
	if err != nil {
		b.Fatal(err)
	}

	cases := []struct {
		name string
		req  ports.CallbackRequest
	}{
		{"token", request(string(payload))},
		{"raw", request(string(payload), signature.HeaderSignature, signature.SignRaw("s3cret", payload, ts),
			signature.HeaderTimestamp, strconv.FormatInt(ts, 10))},
		{"canonical", request(string(payload), signature.HeaderSignature, canonical)},
		{"standard", request(string(payload), signature.HeaderWebhookID, "msg_1",
			signature.HeaderWebhookTimestamp, strconv.FormatInt(ts, 10), signature.HeaderWebhookSignature, std)},
	}
	cases[0].req.Token = "token-3"
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, err := v.Verify(tc.req, attempts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
