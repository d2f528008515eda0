package snapshot

// Progress receives the progress of long operations. Implementations must be
// safe for concurrent use.
type Progress interface {
	// Start begins a phase ("scanning", "restoring") of total steps, or of
	// unknown length when total is negative.
	Start(phase string, total int64)
	// Add reports n more steps done.
	Add(n int64)
	// Done ends the phase.
	Done()
}

type noProgress struct{}

func (noProgress) Start(string, int64) {}
func (noProgress) Add(int64)           {}
func (noProgress) Done()               {}

// progressOrNone returns p, or a Progress that reports nothing.
func progressOrNone(p Progress) Progress {
	if p == nil {
		return noProgress{}
	}
	return p
}
