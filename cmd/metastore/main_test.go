package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
	_ "time/tzdata" // scripts set TZ to zone names; a machine may lack the zone files

	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/rogpeppe/go-internal/testscript"
)

// sample is the real Kylin 3.1.3 test metastore shared by the team.
var sample = metastoretest.Sample("kylin-3.1.3")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"metastore": func() { os.Exit(Main(os.Args, os.Stdout, os.Stderr, os.Getenv)) },
	})
}

// TestScripts runs the CLI scenarios in testdata/script, the way the go
// command tests itself.
func TestScripts(t *testing.T) {
	abs, err := filepath.Abs(sample)
	if err != nil {
		t.Fatal(err)
	}
	examples, _ := filepath.Abs("../../examples/learn_kylin")
	backups5, _ := filepath.Abs("../../testdata/kylin5-backups")
	sample5, _ := filepath.Abs("../../testdata/kylin5")
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("SAMPLE", abs)
			env.Setenv("EXAMPLES", examples)
			env.Setenv("KYLIN5_BACKUPS", backups5)
			env.Setenv("KYLIN5", sample5)
			env.Setenv("TZ", "UTC")
			env.Setenv("USER", "admin")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"seed":        cmdSeed,
			"setmtime":    cmdSetMtime,
			"folderstamp": cmdFolderStamp,
		},
	})
}

// seed SRC DST copies a metastore folder and gives every file a fixed
// timestamp (1600000000000 ms plus its index), since checkouts lose mtimes.
func cmdSeed(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: seed SRC DST")
	}
	src, dst := ts.MkAbs(args[0]), ts.MkAbs(args[1])
	i := int64(0)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return err
		}
		i++
		mt := time.UnixMilli(1600000000000 + i)
		return os.Chtimes(out, mt, mt)
	})
	if err != nil {
		ts.Fatalf("seed: %v", err)
	}
}

// setmtime FILE MS sets a file's modification time in milliseconds.
func cmdSetMtime(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: setmtime FILE MS")
	}
	ms, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		ts.Fatalf("setmtime: %v", err)
	}
	mt := time.UnixMilli(ms)
	if err := os.Chtimes(ts.MkAbs(args[0]), mt, mt); err != nil {
		ts.Fatalf("setmtime: %v", fmt.Errorf("%w", err))
	}
}

// folderstamp VAR HOURS sets VAR to the name Kylin's metastore.sh backup
// gives a folder (meta_YYYY_MM_DD_HH_MM_SS) HOURS from now in the script's
// $TZ: a folder written now by a Kylin host HOURS east of this one.
func cmdFolderStamp(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: folderstamp VAR HOURS")
	}
	h, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("folderstamp: %v", err)
	}
	loc, err := time.LoadLocation(ts.Getenv("TZ"))
	if err != nil {
		ts.Fatalf("folderstamp: %v", err)
	}
	ts.Setenv(args[0], time.Now().Add(time.Duration(h)*time.Hour).In(loc).Format("meta_2006_01_02_15_04_05"))
}
