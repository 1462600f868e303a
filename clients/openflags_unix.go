//go:build unix

package clients

import (
	"os"
	"syscall"
)

// openFlags open the registry file for reading without blocking: opening a
// FIFO for reading otherwise waits for a writer. Reads of a regular file
// ignore O_NONBLOCK.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK
