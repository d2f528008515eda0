package schedule

import "time"

// Status is the schedule's state: what GET /api/v1/schedule answers and
// the System page shows. Times are in the schedule's zone.
type Status struct {
	// Enabled is false when serve runs without --schedule (the other
	// fields are then empty).
	Enabled bool `json:"enabled"`
	// Schedule is the SPEC, Zone the zone its fields are read in ("Local"
	// for the host's local zone).
	Schedule string `json:"schedule,omitempty"`
	Zone     string `json:"zone,omitempty"`
	// Steps are what a run does, in order.
	Steps []string `json:"steps,omitempty"`
	// Next is when the next run starts.
	Next *time.Time `json:"next,omitempty"`
	// RunningSince is when the run in progress started.
	RunningSince *time.Time `json:"running_since,omitempty"`
	// Runs counts the runs started, Failures those that failed, and
	// ConsecutiveFailures those that failed since the last that worked.
	Runs                int `json:"runs"`
	Failures            int `json:"failures"`
	ConsecutiveFailures int `json:"consecutive_failures"`
	// Overlapped counts the ticks skipped because a run was still going.
	Overlapped int `json:"overlapped"`
	// Last is the last run that ended, LastFailure the last that failed.
	Last        *Run `json:"last,omitempty"`
	LastFailure *Run `json:"last_failure,omitempty"`
}

// Run is one run's result.
type Run struct {
	Number  int       `json:"number"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	// Result is RunOK, RunUnchanged or RunFailed.
	Result string `json:"result"`
	// Error is the first failure ("STEP: message").
	Error string       `json:"error,omitempty"`
	Steps []StepResult `json:"steps"`
}

// StepResult is what one step of a run did.
type StepResult struct {
	Step string `json:"step"`
	// Result is StepDone, StepSkipped or StepFailed.
	Result string `json:"result"`
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`
}
