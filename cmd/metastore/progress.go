package main

import (
	"os"
	"sync"
	"time"

	"github.com/kylin-tools/metastore/snapshot"
	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// progress returns a progress display on stderr when stderr is a terminal
// (and neither --quiet nor --json is set), otherwise nil.
func (e *env) progress() snapshot.Progress {
	if e.quiet || e.json {
		return nil
	}
	f, ok := e.stderr.(*os.File)
	if !ok || !(isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		return nil
	}
	return &bar{out: f}
}

// bar adapts progressbar to snapshot.Progress.
type bar struct {
	out *os.File
	mu  sync.Mutex
	b   *progressbar.ProgressBar
}

func (p *bar) Start(phase string, total int64) { p.StartUnit(phase, "resources", total) }

// StartUnit begins a phase counted in some unit ("objects").
func (p *bar) StartUnit(phase, unit string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.b = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.out),
		progressbar.OptionSetDescription(phase),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
}

// StartBytes begins a phase counted in bytes (a transfer).
func (p *bar) StartBytes(phase string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.b = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.out),
		progressbar.OptionSetDescription(phase),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
}

func (p *bar) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.b != nil {
		p.b.Add64(n)
	}
}

func (p *bar) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.b != nil {
		p.b.Finish()
		p.b = nil
	}
}
