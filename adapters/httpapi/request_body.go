package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
)

// readObject reads a request body of at most limit bytes and decodes it as a
// JSON object into dst (decodeObject). It reports whether to go on: false
// when it has answered.
func readObject(c *gin.Context, limit int64, dst any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		abortUnreadableBody(c, err)
		return false
	}
	return decodeObject(c, body, dst, "has the wrong type")
}

// decodeObject decodes body, which must be one JSON object, into dst: a field
// of the wrong type is a 422 naming it, with wrongType as its message;
// anything else that is not an object is a 400 invalid_json. It reports
// whether to go on: false when it has answered.
func decodeObject(c *gin.Context, body []byte, dst any, wrongType string) bool {
	if err := checkJSONObject(body); err != nil {
		abortWithError(c, err)
		return false
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			abortWithError(c, validation(typeErr.Field, wrongType))
			return false
		}
		abort(c, http.StatusBadRequest, errorBody{Code: "invalid_json", Message: "body must be a JSON object"})
		return false
	}
	return true
}
