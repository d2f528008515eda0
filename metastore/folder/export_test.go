package folder

// OpenPortable is Open with the portable path (dir_portable.go) even where
// the Linux fast path exists, so that the tests run both on Linux.
func OpenPortable(root string) (*Store, error) {
	s, err := Open(root)
	if err != nil {
		return nil, err
	}
	s.portable = true
	return s, nil
}

// Portable reports whether s takes the portable path.
func (s *Store) Portable() bool { return s.portable }
