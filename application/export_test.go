package application

// DecodeCallbackStd is DecodeCallback through encoding/json alone.
func DecodeCallbackStd(body []byte) (CallbackPayload, error) { return decodeCallback(body, false) }

// PeekCallback exposes peekCallback to the tests.
func PeekCallback(body []byte) (event, taskID string, ok bool) {
	p, ok := peekCallback(body)
	return p.Event, p.TaskID, ok
}

// ValidJSON exposes validJSON to the tests.
func ValidJSON(body []byte) bool { return validJSON(body) }
