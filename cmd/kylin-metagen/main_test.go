package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/internal/metagen"
)

// runT runs the command line in-process and returns the exit code and
// output.
func runT(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"kylin-metagen"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "meta")
	code, out, errOut := runT("generate", "--out", dir, "--resources", "300", "--seed", "5")
	if code != exitOK {
		t.Fatalf("generate: exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{"generated 300 resources", "execute_output", "dict", "<1 KiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("generate output lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = runT("churn", "--dir", dir, "--fraction", "0.05", "--json")
	if code != exitOK {
		t.Fatalf("churn: exit %d, stderr %s", code, errOut)
	}
	var st metagen.ChurnStats
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("churn --json: %v\n%s", err, out)
	}
	if st.Before != 300 || st.Touched != st.Added+st.Modified+st.Deleted || st.Touched == 0 {
		t.Errorf("churn --json = %+v", st)
	}

	code, out, _ = runT("churn", "--dir", dir, "--fraction", "0.05")
	if code != exitOK || !strings.Contains(out, "added") || strings.Count(out, "\n") != 1 {
		t.Errorf("churn: exit %d, want a one-line summary, got %q", code, out)
	}

	json2 := filepath.Join(t.TempDir(), "meta")
	code, out, _ = runT("generate", "--out", json2, "--resources", "300", "--json")
	var gs metagen.Stats
	if code != exitOK || json.Unmarshal([]byte(out), &gs) != nil || gs.Resources != 300 {
		t.Errorf("generate --json: exit %d, output %s", code, out)
	}
}

func TestCLIErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	nonEmpty := filepath.Dir(file)
	for _, c := range []struct {
		args     []string
		code     int
		inStderr string
	}{
		{nil, exitUsage, "no command given"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"generate", "--resources", "500"}, exitUsage, "--out is required"},
		{[]string{"generate", "--out", filepath.Join(nonEmpty, "new")}, exitUsage, "--resources is required"},
		{[]string{"generate", "--out", file, "--resources", "500"}, exitUsage, "not a directory"},
		{[]string{"generate", "--out", nonEmpty, "--resources", "500"}, exitUsage, "not empty"},
		{[]string{"generate", "--out", filepath.Join(nonEmpty, "new"), "--resources", "10"}, exitUsage, "too small"},
		{[]string{"generate", "--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"generate", "--out", "x", "--resources", "500", "extra"}, exitUsage, "unexpected argument"},
		{[]string{"churn", "--dir", nonEmpty, "--fraction", "2"}, exitUsage, "--fraction"},
		{[]string{"churn", "--dir", nonEmpty, "--fraction", "0.1"}, exitFailure, "not a kylin-metagen metastore"},
		{[]string{"churn", "--dir", filepath.Join(nonEmpty, "missing"), "--fraction", "0.1"}, exitFailure, "no such file"},
		{[]string{"churn", "--dir", file, "--fraction", "0.1"}, exitFailure, "not a kylin-metagen metastore"},
		{[]string{"churn", "--fraction", "0.1"}, exitUsage, "--dir is required"},
		{[]string{"generate", "--out", filepath.Join(nonEmpty, "new"), "--resources", "500", "--shape", "round"}, exitUsage, `shape "round"`},
		{[]string{"generate", "--out", filepath.Join(nonEmpty, "new"), "--resources", "500", "--create-schema", "4"}, exitUsage, "--create-schema is for database"},
	} {
		code, _, errOut := runT(c.args...)
		if code != c.code || !strings.Contains(errOut, c.inStderr) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errOut, c.code, c.inStderr)
		}
	}
	for _, args := range [][]string{{"-h"}, {"help"}, {"generate", "-h"}, {"churn", "--help"}} {
		if code, out, errOut := runT(args...); code != exitOK || !strings.Contains(out+errOut, "USAGE") {
			t.Errorf("%q: exit %d, no usage", args, code)
		}
	}
}

func TestGenerateRefusesBadOut(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "cube"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		out  string
		want error
	}{
		{file, errOutNotDir},
		{full, errOutNotEmpty},
	} {
		_, err := openOut(context.Background(), c.out, "", 0)
		if !errors.Is(err, c.want) {
			t.Errorf("openOut(%s) = %v, want %v", c.out, err, c.want)
		}
		if code, _, _ := runT("generate", "--out", c.out, "--resources", "500"); code != exitUsage {
			t.Errorf("generate --out %s: exit %d, want %d", c.out, code, exitUsage)
		}
	}
	if entries, _ := os.ReadDir(full); len(entries) != 1 {
		t.Errorf("generate wrote into a non-empty directory: %d entries", len(entries))
	}
}
