//go:build !unix && !windows

package sqlite

// freeBytes is unknown on this platform.
func freeBytes(string) (uint64, bool) { return 0, false }
