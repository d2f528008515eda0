package gitremote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshAuth authenticates with the keys of ssh-agent and ~/.ssh, and checks
// the server's host key against known_hosts. It is a go-git ssh.AuthMethod
// whose client configuration is complete, so go-git adds nothing of its own.
type sshAuth struct {
	user     string
	hostPort string
	signers  func() ([]ssh.Signer, error)
	hostKey  ssh.HostKeyCallback
	algos    []string
	timeout  time.Duration
}

func (a *sshAuth) Name() string   { return gitssh.PublicKeysCallbackName }
func (a *sshAuth) String() string { return "user: " + a.user + ", name: " + a.Name() }

func (a *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	return &ssh.ClientConfig{
		User:              a.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeysCallback(a.signers)},
		HostKeyCallback:   a.hostKey,
		HostKeyAlgorithms: a.algos,
		Timeout:           a.timeout,
	}, nil
}

// hostKeyError says why a host key was refused.
type hostKeyError struct {
	host  string
	files []string
	known bool // the host is in known_hosts, with another key
	err   error
}

func (e *hostKeyError) Error() string {
	if e.known {
		return fmt.Sprintf("%v: the host key of %s does not match the one in %s: refusing to connect (the server was reinstalled, or someone is in the middle; check with its administrator, then update known_hosts)",
			ErrHostKey, e.host, strings.Join(e.files, ", "))
	}
	return fmt.Sprintf("%v: %s is not in %s: refusing to connect to an unknown host (check its key fingerprint with its administrator, then add it, e.g. ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts)",
		ErrHostKey, e.host, strings.Join(e.files, ", "))
}

func (e *hostKeyError) Unwrap() []error { return []error{ErrHostKey, e.err} }

func newSSHAuth(ep *transport.Endpoint, getenv func(string) string, timeout time.Duration) (*sshAuth, error) {
	port := ep.Port
	if port <= 0 {
		port = 22
	}
	hostPort := net.JoinHostPort(ep.Host, strconv.Itoa(port))
	home := homeDir(getenv)
	var files []string
	if v := getenv("SSH_KNOWN_HOSTS"); v != "" {
		files = filepath.SplitList(v)
	} else {
		if home != "" {
			files = append(files, filepath.Join(home, ".ssh", "known_hosts"))
		}
		files = append(files, "/etc/ssh/ssh_known_hosts")
	}
	var present []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			present = append(present, f)
		}
	}
	if len(present) == 0 {
		return nil, fmt.Errorf("%w: no known_hosts file (looked for %s): add the server's host key to ~/.ssh/known_hosts, or name a file with SSH_KNOWN_HOSTS",
			ErrHostKey, strings.Join(files, ", "))
	}
	db, err := gitssh.NewKnownHostsDb(present...)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts: %w", err)
	}
	check := db.HostKeyCallback()
	a := &sshAuth{
		user:     ep.User,
		hostPort: hostPort,
		algos:    db.HostKeyAlgorithms(hostPort),
		timeout:  timeout,
		hostKey: func(host string, remote net.Addr, key ssh.PublicKey) error {
			err := check(host, remote, key)
			if err == nil {
				return nil
			}
			var ke *knownhosts.KeyError
			if errors.As(err, &ke) {
				return &hostKeyError{host: host, files: present, known: len(ke.Want) > 0, err: err}
			}
			return err
		},
	}
	sock := getenv("SSH_AUTH_SOCK")
	var keyFiles []string
	if k := getenv("METASTORE_SSH_KEY"); k != "" {
		keyFiles = append(keyFiles, k)
	} else if home != "" {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			keyFiles = append(keyFiles, filepath.Join(home, ".ssh", n))
		}
	}
	passphrase := getenv("METASTORE_SSH_KEY_PASSPHRASE")
	a.signers = func() ([]ssh.Signer, error) {
		var out []ssh.Signer
		if sock != "" {
			if conn, err := net.DialTimeout("unix", sock, timeout); err == nil {
				// The connection lives as long as the process: the
				// signers use it while authenticating.
				if s, err := agent.NewClient(conn).Signers(); err == nil {
					out = append(out, s...)
				}
			}
		}
		for _, f := range keyFiles {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			s, err := ssh.ParsePrivateKey(data)
			var pm *ssh.PassphraseMissingError
			if errors.As(err, &pm) && passphrase != "" {
				s, err = ssh.ParsePrivateKeyWithPassphrase(data, []byte(passphrase))
			}
			if err == nil {
				out = append(out, s)
			}
		}
		if len(out) == 0 {
			return nil, errors.New("no ssh key: start ssh-agent with a key, put one in ~/.ssh (id_ed25519, id_ecdsa, id_rsa), or name one with METASTORE_SSH_KEY")
		}
		return out, nil
	}
	return a, nil
}
