package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
)

const (
	requestIDHeader = "X-Request-ID"
	requestIDKey    = "request_id"
	logFieldsKey    = "log_fields"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// withRequestID keeps a sane client-supplied X-Request-ID or makes one.
func withRequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(requestIDHeader)
		if !requestIDPattern.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = "req-" + hex.EncodeToString(b[:])
		}
		c.Set(requestIDKey, id)
		c.Header(requestIDHeader, id)
		c.Next()
	}
}

func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// addLogFields attaches fields (task_id, attempt, event, outcome) to the
// request's log line.
func addLogFields(c *gin.Context, fields ...zap.Field) {
	existing, _ := c.Get(logFieldsKey)
	prev, _ := existing.([]zap.Field)
	c.Set(logFieldsKey, append(prev, fields...))
}

// withAccessLog writes one line per request. It logs the path only: the
// query string may hold a callback token.
func withAccessLog(log *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		fields := []zap.Field{
			zap.String("request_id", requestID(c)),
			zap.String("method", c.Request.Method),
			zap.String("path", c.Request.URL.Path),
			zap.Int("status", status),
			zap.Duration("latency", time.Since(start)),
		}
		if extra, ok := c.Get(logFieldsKey); ok {
			fields = append(fields, extra.([]zap.Field)...)
		}
		if len(c.Errors) > 0 {
			fields = append(fields, zap.String("error", c.Errors.Last().Error()))
		}
		switch {
		case status >= 500:
			log.Error("request", fields...)
		case status >= 400:
			log.Warn("request", fields...)
		default:
			log.Info("request", fields...)
		}
	}
}

// withRecovery answers a panic with the error envelope instead of a bare 500.
func withRecovery(log *zap.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, recovered any) {
		log.Error("panic in handler", zap.String("request_id", requestID(c)), zap.Any("panic", recovered))
		abort(c, http.StatusInternalServerError, errorBody{Code: "internal_error", Message: "internal error"})
	})
}

// withBearerTokens guards the task API when API_TOKENS is set. Tokens are
// compared as SHA-256 digests in constant time, so neither content nor length leaks.
func withBearerTokens(tokens []string) gin.HandlerFunc { return guardTokens(tokens, false) }

// withBearerOrQueryToken is withBearerTokens that also takes the token from
// ?access_token=, for the event streams only: browsers' EventSource cannot
// set headers. The access log records the path alone, never the query.
func withBearerOrQueryToken(tokens []string) gin.HandlerFunc { return guardTokens(tokens, true) }

func guardTokens(tokens []string, fromQuery bool) gin.HandlerFunc {
	digests := make([][32]byte, len(tokens))
	for i, t := range tokens {
		digests[i] = sha256.Sum256([]byte(t))
	}
	return func(c *gin.Context) {
		if len(digests) == 0 {
			c.Next()
			return
		}
		given, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok {
			given, ok = strings.CutPrefix(c.GetHeader("Authorization"), "bearer ")
		}
		if !ok && fromQuery {
			given, ok = c.GetQuery("access_token")
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(given)))
		match := 0
		for _, d := range digests {
			match |= subtle.ConstantTimeCompare(sum[:], d[:])
		}
		if !ok || match != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="contenthub"`)
			abort(c, http.StatusUnauthorized, errorBody{Code: "unauthorized", Message: "a valid bearer token is required"})
			return
		}
		c.Next()
	}
}

// queryIsValid answers 422 for a query string that cannot be decoded (bad
// percent-encoding, a ';' separator). net/url drops such parameters
// silently, which would turn `cursor=%%%garbage` into "first page" and
// `status=%zz` into "any status". It reports whether the handler may go on.
func queryIsValid(c *gin.Context) bool {
	for part := range strings.SplitSeq(c.Request.URL.RawQuery, "&") {
		if part == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil || strings.Contains(part, ";") {
			if err != nil {
				key = rawKey
			}
			abortWithError(c, validation(key, "is not a well-formed query parameter (percent-encode it)"))
			return false
		}
		if _, err := url.QueryUnescape(rawValue); err != nil {
			abortWithError(c, validation(key, "is not well-formed percent-encoding"))
			return false
		}
	}
	return true
}
