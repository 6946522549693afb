// Package skipdemo holds one PostgreSQL test, run by sqlstoretest's own
// test as a separate `go test` to see what a skip prints without -v.
package skipdemo
