package httpapi

import "contenthub/application"

// DecodeCallbackStd is CallbackWire's DecodeCallback through encoding/json
// alone.
func DecodeCallbackStd(body []byte) (application.CallbackPayload, error) {
	return decodeCallback(body, false)
}

// DecodeCallback is CallbackWire's DecodeCallback.
func DecodeCallback(body []byte) (application.CallbackPayload, error) {
	return CallbackWire{}.DecodeCallback(body)
}

// PeekCallback exposes peekCallback to the tests.
func PeekCallback(body []byte) (event, taskID string, ok bool) {
	p, ok := peekCallback(body)
	return p.Event, p.TaskID, ok
}

// ValidJSON exposes validJSON to the tests.
func ValidJSON(body []byte) bool { return validJSON(body) }
