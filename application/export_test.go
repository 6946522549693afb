package application

// DecodeCallbackStd is DecodeCallback through encoding/json alone.
func DecodeCallbackStd(body []byte) (CallbackPayload, error) { return decodeCallback(body, false) }
