package objects

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/go-git/go-git/v5/plumbing/format/config"
)

// Config is a repository's git configuration, read whole for an edit (see
// EditConfig) or for listing subsections.
type Config struct {
	c *config.Config
}

// Get returns the value of key in section (and subsection, "" for none),
// and whether it is set.
func (c *Config) Get(section, subsection, key string) (string, bool) {
	if !c.c.HasSection(section) {
		return "", false
	}
	s := c.c.Section(section)
	if subsection == "" {
		return s.Option(key), s.HasOption(key)
	}
	if !s.HasSubsection(subsection) {
		return "", false
	}
	ss := s.Subsection(subsection)
	return ss.Option(key), ss.HasOption(key)
}

// Set sets key in section (and subsection, "" for none) to value.
func (c *Config) Set(section, subsection, key, value string) {
	c.c.SetOption(section, subsection, key, value)
}

// Unset removes key from section (and subsection, "" for none).
func (c *Config) Unset(section, subsection, key string) {
	if !c.c.HasSection(section) {
		return
	}
	s := c.c.Section(section)
	if subsection == "" {
		s.RemoveOption(key)
		return
	}
	if s.HasSubsection(subsection) {
		s.Subsection(subsection).RemoveOption(key)
	}
}

// Subsections lists the subsections of section ([remote "origin"] is
// subsection "origin" of section "remote"), sorted, with the last value of
// each of their keys.
func (c *Config) Subsections(section string) []ConfigSubsection {
	if !c.c.HasSection(section) {
		return nil
	}
	var out []ConfigSubsection
	for _, ss := range c.c.Section(section).Subsections {
		kv := map[string]string{}
		for _, o := range ss.Options {
			kv[o.Key] = o.Value
		}
		out = append(out, ConfigSubsection{Name: ss.Name, Values: kv})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// RemoveSubsection removes a subsection and everything in it.
func (c *Config) RemoveSubsection(section, subsection string) {
	c.c.RemoveSubsection(section, subsection)
}

// ConfigSubsection is one subsection of a configuration section.
type ConfigSubsection struct {
	Name   string
	Values map[string]string
}

// ReadConfig reads the repository's git configuration.
func (r *Repository) ReadConfig() (*Config, error) {
	c := config.New()
	data, err := os.ReadFile(filepath.Join(r.path, "config"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := config.NewDecoder(bytes.NewReader(data)).Decode(c); err != nil {
		return nil, fmt.Errorf("%w: config: %v", ErrCorrupt, err)
	}
	return &Config{c: c}, nil
}

// EditConfig reads the repository's git configuration, lets edit change it
// and writes it back whole: to a temporary file, synced, then renamed over
// the old one, so a crash leaves the old or the new configuration. Nothing
// is written if edit fails. Callers that may race hold the repository Lock.
func (r *Repository) EditConfig(edit func(*Config) error) error {
	c, err := r.ReadConfig()
	if err != nil {
		return err
	}
	if err := edit(c); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := config.NewEncoder(&b).Encode(c.c); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	tmp := filepath.Join(r.path, "config.lock")
	if err := writeFileSync(tmp, b.Bytes()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(r.path, "config")); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write config: %w", err)
	}
	syncDir(r.path)
	return nil
}
