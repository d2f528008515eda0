package main

import (
	"os"
	"os/exec"
)

// guardianEnv makes the program run as the guardian of a restore's
// maintenance mode (jdbc.RunGuardian) instead of as the command line.
const guardianEnv = "METASTORE_GUARDIAN"

// guardianCommand is the command of a guardian process: this same
// executable, with guardianEnv set. Its argv[0] is "metastore", so that the
// test binary, which dispatches on argv[0] (testscript.Main), runs Main too.
func guardianCommand() (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Args = []string{"metastore"}
	cmd.Env = append(os.Environ(), guardianEnv+"=1")
	return cmd, nil
}
