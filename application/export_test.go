package application

// PeekCallback exposes peekCallback to the tests.
func PeekCallback(body []byte) (event, taskID, timestamp string, ok bool) {
	p, ok := peekCallback(body)
	return p.Event, p.TaskID, p.Timestamp, ok
}

// DecodeCallbackStd is DecodeCallback through encoding/json alone.
func DecodeCallbackStd(body []byte) (CallbackPayload, error) { return decodeCallback(body, false) }

// ValidJSON exposes validJSON to the tests.
func ValidJSON(b []byte) bool { return validJSON(b) }
