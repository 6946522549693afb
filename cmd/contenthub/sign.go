package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"contenthub/adapters/signature"
)

const signUsage = `Usage: contenthub sign --secret SECRET [--scheme a|b|c|all] [--format headers|curl]
                       [--timestamp UNIX] [--id WEBHOOK_ID] [--body JSON | --body-file FILE | < body]

Prints the callback signature headers for a body, so the endpoint can be tested
with curl. Schemes (SERVICE.md §4):
  a  X-Webhook-Timestamp + X-Webhook-Signature: sha256=<hex HMAC of "ts.body">
  b  X-Webhook-Signature: <base64 HMAC of the Python-canonical JSON> (seed-compatible)
  c  Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature (secret whsec_<base64>)
  all  a, plus c when the secret is a whsec_ key (otherwise a note on stderr says c was left out)
--format curl prints "-H Name:value" words to splice into a curl command line.
The secret must be one the service has in WEBHOOK_SECRET_KEY: without any, the
service cannot verify signatures and refuses them (403) unless the callback URL's
?token= is sent too.
`

func sign(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, signUsage) }
	secret := fs.String("secret", "", "signing secret (default: first of WEBHOOK_SECRET_KEY)")
	scheme := fs.String("scheme", "a", "a, b, c or all")
	format := fs.String("format", "headers", "headers or curl")
	timestamp := fs.Int64("timestamp", 0, "unix seconds to sign (default: now)")
	id := fs.String("id", "", "webhook-id for scheme c (default: msg_<timestamp>)")
	body := fs.String("body", "", "the exact body to sign")
	bodyFile := fs.String("body-file", "", "read the body from this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret == "" {
		if secrets := signature.ParseSecrets(os.Getenv("WEBHOOK_SECRET_KEY")); len(secrets) > 0 {
			*secret = secrets[0]
		}
	}
	if *secret == "" {
		return errors.New("--secret is required (or set WEBHOOK_SECRET_KEY)")
	}
	raw, err := signBody(*body, *bodyFile, stdin)
	if err != nil {
		return err
	}
	if *timestamp == 0 {
		*timestamp = time.Now().Unix()
	}
	if *id == "" {
		*id = "msg_" + strconv.FormatInt(*timestamp, 10)
	}
	headers, err := signatureHeaders(*scheme, *secret, *id, *timestamp, raw)
	if err != nil {
		return err
	}
	if *scheme == "all" && !hasHeader(headers, signature.HeaderWebhookSignature) {
		fmt.Fprintln(stderr, "contenthub sign: scheme c (Standard Webhooks) left out: the secret is not a whsec_<base64> key; printing scheme a only")
	}
	switch *format {
	case "headers":
		for _, h := range headers {
			fmt.Fprintf(stdout, "%s: %s\n", h[0], h[1])
		}
	case "curl":
		words := make([]string, 0, len(headers))
		for _, h := range headers {
			words = append(words, "-H "+h[0]+":"+h[1])
		}
		fmt.Fprintln(stdout, strings.Join(words, " "))
	default:
		return fmt.Errorf("unknown --format %q: want headers or curl", *format)
	}
	return nil
}

func hasHeader(headers [][2]string, name string) bool {
	for _, h := range headers {
		if h[0] == name {
			return true
		}
	}
	return false
}

func signBody(body, file string, stdin io.Reader) ([]byte, error) {
	switch {
	case body != "" && file != "":
		return nil, errors.New("give --body or --body-file, not both")
	case body != "":
		return []byte(body), nil
	case file != "":
		return os.ReadFile(file)
	default:
		return io.ReadAll(stdin)
	}
}

// signatureHeaders returns (name, value) pairs for the scheme: a, b, c, or
// all (a and, when the secret is a whsec_ key, c; b shares a's header).
func signatureHeaders(scheme, secret, id string, ts int64, body []byte) ([][2]string, error) {
	tsText := strconv.FormatInt(ts, 10)
	var out [][2]string
	switch scheme {
	case "a", "b", "c", "all":
	default:
		return nil, fmt.Errorf("unknown --scheme %q: want a, b, c or all", scheme)
	}
	if scheme == "a" || scheme == "all" {
		out = append(out,
			[2]string{signature.HeaderTimestamp, tsText},
			[2]string{signature.HeaderSignature, "sha256=" + signature.SignRaw(secret, body, ts)})
	}
	if scheme == "b" {
		sig, err := signature.SignCanonical(secret, body)
		if err != nil {
			return nil, fmt.Errorf("scheme b: %w", err)
		}
		out = append(out, [2]string{signature.HeaderSignature, sig})
	}
	if scheme == "c" || scheme == "all" {
		sig, err := signature.SignStandard(secret, id, ts, body)
		switch {
		case err == nil:
			out = append(out,
				[2]string{signature.HeaderWebhookID, id},
				[2]string{signature.HeaderWebhookTimestamp, tsText},
				[2]string{signature.HeaderWebhookSignature, sig})
		case scheme == "c":
			return nil, fmt.Errorf("scheme c needs a whsec_<base64> secret: %w", err)
		}
	}
	return out, nil
}
