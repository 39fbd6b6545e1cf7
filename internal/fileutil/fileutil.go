// Package fileutil names what a path is, for an error a person reads.
package fileutil

import "os"

// Kind names a file mode that is not a regular file for a person: "a
// FIFO", not "p---------".
func Kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeDevice != 0, m&os.ModeCharDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	default:
		return "not a plain file"
	}
}
