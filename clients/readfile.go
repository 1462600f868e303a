package clients

import (
	"fmt"
	"io"
	"os"
)

// readFile reads a regular file of at most MaxFileBytes, following symlinks.
// It refuses anything else before opening it: opening a FIFO blocks until a
// writer comes (Reload would hang holding the registry's lock, and every
// later reload with it), and a device may never end.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(path, fi)
	}
	return readOpened(path)
}

// readOpened opens path without blocking where the system allows (see
// openFlags), so that a FIFO swapped in after readFile's Stat is opened at
// once, then checks again what it opened before reading it.
func readOpened(path string) ([]byte, error) {
	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(path, fi)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: the file is larger than %d bytes", path, MaxFileBytes)
	}
	return data, nil
}

func notRegular(path string, fi os.FileInfo) error {
	kind := "a special file"
	switch m := fi.Mode(); {
	case m.IsDir():
		kind = "a directory"
	case m&os.ModeNamedPipe != 0:
		kind = "a named pipe"
	case m&os.ModeSocket != 0:
		kind = "a socket"
	case m&os.ModeDevice != 0:
		kind = "a device"
	}
	return fmt.Errorf("%s: not a regular file (%s)", path, kind)
}
