package creatorapi

// Acknowledged is how many acknowledged ids c remembers.
func (c *Client) Acknowledged() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.known.len()
}
