package objects

// Marks is a set of objects of one repository, for a walk that visits each
// object once (verify): one bit per object of the packs the repository had
// when the set was made, at the object's position in its pack's index, and
// a map for any other object (loose, in a pack added since, or missing).
// A million blobs take 125 KB where a map[ID]bool took about 50 MB. It is
// not safe for concurrent use.
type Marks struct {
	idx   []*packIndex
	bits  [][]uint64
	other ObjectSet
}

// NewMarks returns an empty set of r's objects.
func (r *Repository) NewMarks() *Marks {
	m := &Marks{other: ObjectSet{}}
	if idx, err := r.packIndexes(); err == nil {
		m.idx = idx
		m.bits = make([][]uint64, len(idx))
		for i, x := range idx {
			m.bits[i] = make([]uint64, (x.n+63)/64)
		}
	}
	return m
}

// Add puts id in the set; it reports whether id was not in it yet.
func (m *Marks) Add(id ID) bool {
	i, k, ok := m.find(id)
	if !ok {
		if m.other.Has(id) {
			return false
		}
		m.other.Add(id)
		return true
	}
	w, b := k/64, uint64(1)<<(k%64)
	if m.bits[i][w]&b != 0 {
		return false
	}
	m.bits[i][w] |= b
	return true
}

// Has reports whether id is in the set.
func (m *Marks) Has(id ID) bool {
	i, k, ok := m.find(id)
	if !ok {
		return m.other.Has(id)
	}
	return m.bits[i][k/64]&(1<<(k%64)) != 0
}

// find returns the pack (in m.idx) and position of id; false if no pack
// of the set holds it. An object in several packs is always found in the
// same one.
func (m *Marks) find(id ID) (int, int, bool) {
	for i, x := range m.idx {
		if k, ok := x.pos(id); ok {
			return i, k, true
		}
	}
	return 0, 0, false
}
