package application

// PeekCallback exposes peekCallback to the tests.
func PeekCallback(body []byte) (event, taskID, timestamp string, ok bool) {
	p, ok := peekCallback(body)
	return p.Event, p.TaskID, p.Timestamp, ok
}
