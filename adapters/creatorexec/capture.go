package creatorexec

// headBuffer keeps the first limit bytes written to it and counts the rest. It
// never fails a write, so a chatty child is not killed by a broken pipe.
type headBuffer struct {
	limit int
	buf   []byte
	total int64
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.total += int64(len(p))
	if room := h.limit - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *headBuffer) Bytes() []byte   { return h.buf }
func (h *headBuffer) Truncated() bool { return h.total > int64(len(h.buf)) }

// tailBuffer keeps the last limit bytes written to it: a ring once full, so
// memory stays at limit however much the child writes.
type tailBuffer struct {
	limit int
	buf   []byte // grows to limit, then is reused as a ring
	start int    // the oldest byte once the ring is full
	total int64
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	t.total += int64(n)
	if len(p) > t.limit {
		p = p[len(p)-t.limit:]
	}
	if room := t.limit - len(t.buf); room > 0 {
		k := min(room, len(p))
		t.buf = append(t.buf, p[:k]...)
		p = p[k:]
	}
	for len(p) > 0 {
		k := copy(t.buf[t.start:], p)
		t.start = (t.start + k) % t.limit
		p = p[k:]
	}
	return n, nil
}

// Bytes returns the kept bytes in order, in a new slice.
func (t *tailBuffer) Bytes() []byte {
	out := make([]byte, 0, len(t.buf))
	out = append(out, t.buf[t.start:]...)
	return append(out, t.buf[:t.start]...)
}

func (t *tailBuffer) Truncated() bool { return t.total > int64(len(t.buf)) }
