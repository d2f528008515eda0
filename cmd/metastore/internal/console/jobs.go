package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A job is a backup or restore started from a page: it runs in the
// background and reports its progress (it is the snapshot.Progress of the
// operation) to the page through server-sent events.
type job struct {
	id    string
	title string
	done  chan struct{} // closed when finished

	mu     sync.Mutex
	phase  string
	total  int64
	result template.HTML // the dialog's body once finished
	ended  time.Time

	count atomic.Int64 // steps done in the phase
	seq   atomic.Int64 // bumped on every change
}

// Start implements snapshot.Progress.
func (j *job) Start(phase string, total int64) {
	j.mu.Lock()
	j.phase, j.total = phase, total
	j.mu.Unlock()
	j.count.Store(0)
	j.seq.Add(1)
}

// Add implements snapshot.Progress.
func (j *job) Add(n int64) {
	j.count.Add(n)
	j.seq.Add(1)
}

// Done implements snapshot.Progress.
func (j *job) Done() { j.seq.Add(1) }

// jobState is what the progress display shows.
type jobState struct {
	Title   string
	Phase   string
	Done    int64
	Total   int64 // negative: unknown
	Percent int
}

func (j *job) state() jobState {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := jobState{Title: j.title, Phase: j.phase, Done: j.count.Load(), Total: j.total}
	if s.Total > 0 {
		s.Percent = int(min(100, s.Done*100/s.Total))
	}
	return s
}

func (j *job) finish(result template.HTML) {
	j.mu.Lock()
	j.result, j.ended = result, time.Now()
	j.mu.Unlock()
	close(j.done)
}

func (j *job) finished() (template.HTML, bool) {
	select {
	case <-j.done:
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.result, true
	default:
		return "", false
	}
}

// jobs are the running and recently finished jobs.
type jobs struct {
	ctx  context.Context
	wg   sync.WaitGroup
	mu   sync.Mutex
	byID map[string]*job
}

// keepFinished is how long a finished job's result stays available to a
// page that reconnects.
const keepFinished = time.Hour

func newJobs(ctx context.Context) *jobs { return &jobs{ctx: ctx, byID: map[string]*job{}} }

// start runs fn in the background as a new job; fn returns the dialog body
// to show when it ends.
func (js *jobs) start(title string, fn func(ctx context.Context, j *job) template.HTML) *job {
	var b [12]byte
	rand.Read(b[:])
	j := &job{id: hex.EncodeToString(b[:]), title: title, done: make(chan struct{})}
	js.mu.Lock()
	for id, old := range js.byID {
		if _, ok := old.finished(); ok && time.Since(old.ended) > keepFinished {
			delete(js.byID, id)
		}
	}
	js.byID[j.id] = j
	js.mu.Unlock()
	js.wg.Add(1)
	go func() {
		defer js.wg.Done()
		j.finish(fn(js.ctx, j))
	}()
	return j
}

func (js *jobs) get(id string) *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.byID[id]
}

func (js *jobs) wait() { js.wg.Wait() }

// progressEvery is how often a job's progress is sent at most.
const progressEvery = 150 * time.Millisecond

// jobEvents streams a job's progress as server-sent events: "progress"
// events carry the progress display, one "done" event the dialog's final
// body, after which the stream ends. A client that connects late gets the
// current state at once.
func (c *Console) jobEvents(w http.ResponseWriter, r *http.Request) {
	j := c.jobs.get(r.PathValue("id"))
	if j == nil {
		c.fail(w, r, http.StatusNotFound, "no such job (finished jobs are kept for an hour)")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	last := int64(-1)
	for {
		if result, ok := j.finished(); ok {
			writeEvent(w, "done", string(result))
			rc.Flush()
			return
		}
		if seq := j.seq.Load(); seq != last {
			last = seq
			var b strings.Builder
			if err := c.pages.fragment(&b, "progress", j.state()); err != nil {
				c.logf("progress: %v", err)
			}
			writeEvent(w, "progress", b.String())
			if rc.Flush() != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-j.done:
		case <-tick.C:
		}
	}
}

// writeEvent writes one server-sent event; each line of data is a "data:"
// line.
func writeEvent(w http.ResponseWriter, name, data string) {
	var b strings.Builder
	b.WriteString("event: " + name + "\n")
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: " + strings.TrimSuffix(line, "\r") + "\n")
	}
	b.WriteString("\n")
	w.Write([]byte(b.String()))
}

// jobPage shows a job's state without events (a reload, or no JavaScript).
func (c *Console) jobPage(w http.ResponseWriter, r *http.Request) {
	j := c.jobs.get(r.PathValue("id"))
	if j == nil {
		c.fail(w, r, http.StatusNotFound, "no such job (finished jobs are kept for an hour)")
		return
	}
	result, ok := j.finished()
	c.render(w, r, http.StatusOK, "job", j.title, jobPageData{ID: j.id, State: j.state(), Finished: ok, Result: result})
}

type jobPageData struct {
	ID       string
	State    jobState
	Finished bool
	Result   template.HTML
}
