//go:build unix && !darwin

package folder

// flushDevice does nothing: fsync(2) itself reaches stable storage here.
func flushDevice(int) error { return nil }
