package main

import (
	"bytes"
	"testing"
)

// TestJSONArray: an array written element by element is, byte for byte,
// what printJSON writes of the whole slice.
func TestJSONArray(t *testing.T) {
	type elem struct {
		Path string `json:"path"`
		Size int64  `json:"size"`
		Tags []string
	}
	for name, list := range map[string][]elem{
		"empty":   {},
		"one":     {{Path: "/UUID", Size: 36}},
		"several": {{Path: "/a <&>", Size: 1, Tags: []string{"x", "y"}}, {Path: "/b\n\"c\"", Tags: []string{}}, {Path: "/é"}},
	} {
		var want, got bytes.Buffer
		if err := (&env{stdout: &want}).printJSON(list); err != nil {
			t.Fatal(err)
		}
		a := newJSONArray(&got)
		for _, v := range list {
			if err := a.add(v); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.close(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%s: wrote\n%s\nprintJSON writes\n%s", name, got.String(), want.String())
		}
	}
}
