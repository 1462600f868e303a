//go:build !unix

package clients

import "os"

// openFlags open the registry file for reading. Without O_NONBLOCK, readFile
// relies on its Stat before opening to refuse FIFOs.
const openFlags = os.O_RDONLY
