package bench_test

// BenchmarkJDBCBulkTools compares backup and restore of a JDBC metastore
// with the databases' own bulk tools, on the same rows, in the same run:
//
//	go run ./cmd/kylin-metagen generate --out /tmp/meta100k --resources 100000 [--shape jobs]
//	METASTORE_BENCH_META=/tmp/meta100k \
//	METASTORE_TEST_POSTGRES_DSN='url=jdbc:postgresql://127.0.0.1:5432/metastore_test,username=metastore,password=...' \
//	METASTORE_TEST_MYSQL_DSN='url=jdbc:mysql://127.0.0.1:3306/metastore_test,username=metastore,password=...' \
//	go test ./bench -run '^$' -bench 'JDBCBulkTools' -benchtime 1x -timeout 6h -v
//
// For each database and schema, each round (METASTORE_BENCH_ROUNDS, 3 by
// default; the figures are the medians) runs, one after the other:
//
//	restore (metastore, empty)     metastore's restore of the snapshot into fresh, empty tables
//	backup (metastore)             metastore's backup of those tables into a new repository
//	backup again, nothing changed (metastore)
//	                               a second backup of the same rows into that repository
//	                               (the steady state of daily backups: nothing new to store)
//	backup (metastore, zlib level 1)
//	                               the same with zlib's fastest level (snapshot.Options.Compression)
//	PostgreSQL:
//	COPY TO (psql \copy)           psql -c "\copy T TO FILE (FORMAT binary)", each table
//	COPY TO | gzip -1              psql -c "\copy T TO STDOUT (FORMAT binary)" | gzip -1 > FILE
//	COPY FROM (psql \copy)         psql -c BEGIN -c "\copy T2 FROM FILE (FORMAT binary)" -c COMMIT
//	                               into fresh, empty tables made as metastore makes them
//	pg_dump -Fc                    pg_dump -Fc -t T [-t T_log] (its default compression)
//	pg_dump -t (plain)             pg_dump -t T [-t T_log] -f FILE (plain SQL, uncompressed)
//	pg_restore                     pg_restore --single-transaction of that dump, the tables dropped
//	MySQL, MariaDB:
//	SELECT to a file (mysql -B)    mysql -B -N -e "SELECT ... FROM T" > FILE, each table (SELECT ...
//	                               INTO OUTFILE needs the FILE privilege, and writes on the server)
//	mysql -B | gzip -1             the same through gzip -1
//	LOAD DATA LOCAL INFILE         mysql --local-infile -e "START TRANSACTION; LOAD DATA LOCAL
//	                               INFILE FILE INTO TABLE T2 ...; COMMIT", tables made as above
//	mysqldump                      mysqldump --single-transaction T [T_log] > FILE (its defaults:
//	                               multi-row INSERTs)
//	mysql < dump                   mysql < FILE, the tables dropped
//	restore (metastore, over every row)
//	                               metastore's restore into the restored tables after every
//	                               row's timestamp was changed: every row is rewritten
//
// Every bulk load is checked (row count and bytes of content), and so is
// every restore (the counts it reports). The wall time of each step is
// measured, and its CPU time: this process's and its children's (the
// tools'), and the local database server's (read from /proc: all of
// PostgreSQL's processes, other clients' backends too; MariaDB's whole
// process). The tables of a round are dropped at its end.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore/jdbc"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// bulkServer is a database server under benchmark, for its command-line
// tools.
type bulkServer struct {
	driver                   jdbc.Driver
	host, port, user, pw, db string
	params                   string // the test DSN
}

func newBulkServer(b *testing.B, dsn string) bulkServer {
	b.Helper()
	cfg, err := jdbc.ConfigFromParams("x", jdbcParams(dsn))
	if err != nil {
		b.Fatal(err)
	}
	u, err := jdbc.ParseJDBCURL(cfg.URL)
	if err != nil {
		b.Fatal(err)
	}
	host, port, err := net.SplitHostPort(u.Hosts[0])
	if err != nil {
		b.Fatal(err)
	}
	return bulkServer{driver: u.Driver, host: host, port: port, user: cfg.Username, pw: cfg.Password, db: u.Database, params: dsn}
}

// command returns a tool's command with the server's address and login.
func (sv bulkServer) command(name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if sv.driver == jdbc.Postgres {
		cmd = exec.Command(name, append([]string{"-h", sv.host, "-p", sv.port, "-U", sv.user}, args...)...)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+sv.pw)
	} else {
		cmd = exec.Command(name, append([]string{"-h", sv.host, "-P", sv.port, "-u", sv.user}, args...)...)
		cmd.Env = append(os.Environ(), "MYSQL_PWD="+sv.pw)
	}
	return cmd
}

// run runs a tool and fails the benchmark if it fails.
func (sv bulkServer) run(b *testing.B, stdin, stdout string, name string, args ...string) {
	b.Helper()
	cmd := sv.command(name, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if stdin != "" {
		f, err := os.Open(stdin)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	if stdout != "" {
		f, err := os.Create(stdout)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		cmd.Stdout = f
	}
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %q: %v\n%s", name, args, err, errb.String())
	}
}

// pipe runs a tool whose output gzip -1 compresses into the file out (the
// two run side by side, as in a shell pipe), and fails the benchmark if
// either fails.
func (sv bulkServer) pipe(b *testing.B, out string, name string, args ...string) {
	b.Helper()
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cmd := sv.command(name, args...)
	gz := exec.Command("gzip", "-1")
	var errb, gzErr bytes.Buffer
	cmd.Stderr, gz.Stderr, gz.Stdout = &errb, &gzErr, f
	if gz.Stdin, err = cmd.StdoutPipe(); err != nil {
		b.Fatal(err)
	}
	if err := gz.Start(); err != nil {
		b.Fatal(err)
	}
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %q: %v\n%s", name, args, err, errb.String())
	}
	if err := gz.Wait(); err != nil {
		b.Fatalf("gzip -1: %v\n%s", err, gzErr.String())
	}
}

// sql runs statements with the server's client and returns its output.
func (sv bulkServer) sql(b *testing.B, stmts ...string) string {
	b.Helper()
	var args []string
	if sv.driver == jdbc.Postgres {
		args = []string{"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", sv.db}
		for _, s := range stmts {
			args = append(args, "-c", s)
		}
	} else {
		args = []string{"-B", "-N", sv.db, "-e", strings.Join(stmts, "; ")}
	}
	name := "psql"
	if sv.driver == jdbc.MySQL {
		name = "mysql"
	}
	cmd := sv.command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s %q: %v\n%s", name, stmts, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (sv bulkServer) quote(name string) string {
	if sv.driver == jdbc.Postgres {
		return `"` + name + `"`
	}
	return "`" + name + "`"
}

// columns are the columns of a metastore table in the order the bulk
// tools copy them.
func columns(sc jdbc.Schema) string {
	if sc == jdbc.Schema5 {
		return "META_TABLE_KEY, META_TABLE_CONTENT, META_TABLE_TS, META_TABLE_MVCC"
	}
	return "META_TABLE_KEY, META_TABLE_TS, META_TABLE_CONTENT"
}

// fingerprint is the row count and bytes of content of tables.
func (sv bulkServer) fingerprint(b *testing.B, tables []string) string {
	b.Helper()
	var parts []string
	for _, t := range tables {
		length := "octet_length"
		if sv.driver == jdbc.MySQL {
			length = "LENGTH"
		}
		parts = append(parts, sv.sql(b, fmt.Sprintf("SELECT COUNT(*), COALESCE(SUM(%s(META_TABLE_CONTENT)), 0) FROM %s", length, sv.quote(t))))
	}
	return strings.Join(parts, " / ")
}

// bulkTarget opens a store of the target for the tables of identifier
// id, creating them (empty) unless they exist.
func (tg jdbcBenchTarget) open(b *testing.B, id string) *jdbc.Store {
	b.Helper()
	cfg, err := jdbc.ConfigFromParams(id, jdbcParams(os.Getenv(tg.env)))
	if err != nil {
		b.Fatal(err)
	}
	cfg.CreateSchema = tg.schema
	s, err := jdbc.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// bulkTimes collects the wall and CPU times of each side, by name, in
// order of first appearance.
type bulkTimes struct {
	driver jdbc.Driver // whose server's CPU to count
	names  []string
	times  map[string][]time.Duration
	cpus   map[string][]string
}

func (bt *bulkTimes) add(name string, d time.Duration, cpu string) {
	if bt.times == nil {
		bt.times, bt.cpus = map[string][]time.Duration{}, map[string][]string{}
	}
	if _, ok := bt.times[name]; !ok {
		bt.names = append(bt.names, name)
	}
	bt.times[name] = append(bt.times[name], d)
	bt.cpus[name] = append(bt.cpus[name], cpu)
}

// time runs fn and records under name its wall time and CPU time: this
// process's and its children's (the tools), and the database server's.
func (bt *bulkTimes) time(name string, fn func()) {
	c0, s0 := clientCPU(), serverCPU(bt.driver)
	start := time.Now()
	fn()
	d := time.Since(start)
	c1, s1 := clientCPU(), serverCPU(bt.driver)
	cpu := fmt.Sprintf("%.1f + %.1f", (c1 - c0).Seconds(), (s1 - s0).Seconds())
	if s0 < 0 || s1 < 0 {
		cpu = fmt.Sprintf("%.1f + ?", (c1 - c0).Seconds())
	}
	bt.add(name, d, cpu)
}

// clientCPU is the CPU time (user and system) of this process and of the
// children it waited for.
func clientCPU() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

// serverCPU is the CPU time the local database server has used (Linux,
// from /proc): PostgreSQL's processes (the postmaster, with the backends
// it has reaped, and the live ones: other clients' too), MariaDB's or
// MySQL's one process; -1 if there is none to read.
func serverCPU(d jdbc.Driver) time.Duration {
	dirs, _ := os.ReadDir("/proc")
	var ticks int64
	found := false
	for _, e := range dirs {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		comm, rest, ok := strings.Cut(string(stat), ") ")
		if !ok {
			continue
		}
		_, comm, _ = strings.Cut(comm, " (")
		f := strings.Fields(rest) // f[0] is field 3 (state) of proc(5)
		if len(f) < 15 {
			continue
		}
		n := func(i int) int64 { v, _ := strconv.ParseInt(f[i-3], 10, 64); return v }
		switch {
		case d == jdbc.Postgres && comm == "postgres" && parentComm(f[1]) != "postgres":
			ticks += n(14) + n(15) + n(16) + n(17) // the postmaster and the reaped
		case d == jdbc.Postgres && comm == "postgres":
			ticks += n(14) + n(15) // a live (or exited, not yet reaped) backend
		case d == jdbc.MySQL && (comm == "mariadbd" || comm == "mysqld"):
			ticks += n(14) + n(15)
		default:
			continue
		}
		found = true
	}
	if !found {
		return -1
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

func parentComm(pid string) string {
	b, _ := os.ReadFile(filepath.Join("/proc", pid, "comm"))
	return strings.TrimSpace(string(b))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// load describes the machine's load now: the load average and the CPU
// pressure (the share of time some task waited for a CPU) of the last 10
// and 60 seconds.
func load() string {
	la, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(la))
	out := "load average " + strings.Join(f[:min(3, len(f))], " ")
	if p, err := os.ReadFile("/proc/pressure/cpu"); err == nil {
		line, _, _ := strings.Cut(string(p), "\n")
		out += ", CPU pressure " + strings.Join(strings.Fields(line)[1:3], " ")
	}
	return out
}

func BenchmarkJDBCBulkTools(b *testing.B) {
	repo, snap := jdbcSnapshot(b)
	defer repo.Close()
	rounds := 3
	if v := os.Getenv("METASTORE_BENCH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("METASTORE_BENCH_ROUNDS=%q", v)
		}
		rounds = n
	}
	for _, tg := range jdbcBenchTargets {
		if tg.env == "" {
			continue
		}
		b.Run(tg.name, func(b *testing.B) {
			dsn := os.Getenv(tg.env)
			if dsn == "" {
				b.Skipf("%s not set", tg.env)
			}
			sv := newBulkServer(b, dsn)
			for b.Loop() {
				bt := bulkTimes{driver: sv.driver}
				before := load()
				for r := range rounds {
					tg.bulkRound(b, sv, repo, snap, &bt)
					b.Logf("round %d done (%s)", r+1, load())
				}
				b.Logf("%s, %d resources, %d rounds; at the start: %s; at the end: %s", tg.name, snap.Resources, rounds, before, load())
				b.Logf("| step | median wall | runs | CPU of each run: this process and its children + the server |")
				for _, name := range bt.names {
					var runs []string
					for _, d := range bt.times[name] {
						runs = append(runs, fmt.Sprintf("%.1f", d.Seconds()))
					}
					m := median(bt.times[name])
					b.Logf("| %s | %.1f s | %s | %s |", name, m.Seconds(), strings.Join(runs, ", "), strings.Join(bt.cpus[name], ", "))
					b.ReportMetric(m.Seconds(), strings.NewReplacer(" ", "_", "(", "", ")", "", ",", "", "<", "", "\\", "", "-", "").Replace(name)+"_s")
				}
			}
		})
	}
}

// bulkRound runs one round of every side on fresh tables.
func (tg jdbcBenchTarget) bulkRound(b *testing.B, sv bulkServer, repo *snapshot.Repository, snap snapshot.Info, bt *bulkTimes) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	id := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	id2 := id + "_bulk"
	if sv.driver == jdbc.Postgres {
		id, id2 = strings.ToLower(id), strings.ToLower(id2)
	}
	s := tg.open(b, id)
	tables := s.Tables()
	defer func() {
		for _, t := range append(slices.Clone(tables), id2, id2+"_log") {
			sv.sql(b, "DROP TABLE IF EXISTS "+sv.quote(t))
		}
	}()
	restore := func(name string, want snapshot.Action, n int) {
		var res *snapshot.RestoreResult
		var err error
		bt.time(name, func() {
			res, err = repo.Restore(ctx, repo.OpenInfo(snap), s, snapshot.RestoreOptions{Scope: scope.SystemScope(), AllowForeign: true})
		})
		if err != nil {
			b.Fatal(err)
		}
		if res.Counts[want] != n {
			b.Fatalf("%s: %v, want %d %s", name, res.Counts, n, want)
		}
	}
	restore("restore (metastore, empty)", snapshot.Added, snap.Resources)
	want := sv.fingerprint(b, tables)

	// A backup into a new repository (level: its zlib level, 0 for the
	// default), which is then removed.
	// again names a second backup into the same repository, of the same
	// rows: the steady state of daily backups, where only changed
	// resources are compressed and stored ("": none).
	backup := func(name string, level int, again string) {
		dst, err := snapshot.Create(filepath.Join(dir, "repo.git"), snapshot.Options{User: "bench", Host: "bench", Compression: level})
		if err != nil {
			b.Fatal(err)
		}
		names := []string{name}
		if again != "" {
			names = append(names, again)
		}
		for i, n := range names {
			var res *snapshot.BackupResult
			bt.time(n, func() {
				if res, err = dst.Backup(ctx, s, snapshot.BackupOptions{Scope: scope.SystemScope()}); err != nil {
					b.Fatal(err)
				}
			})
			if i > 0 && res.NewObjects > 3 {
				// The commit, and at most its root and .metastore trees.
				b.Fatalf("%s: %d new objects: the rows changed?", n, res.NewObjects)
			}
		}
		dst.Close()
		os.RemoveAll(filepath.Join(dir, "repo.git"))
	}
	backup("backup (metastore)", 0, "backup again, nothing changed (metastore)")
	backup("backup (metastore, zlib level 1)", 1, "") // what the compression costs
	s.Close()

	// The bulk tools, on the tables metastore restored.
	file := func(t, ext string) string { return filepath.Join(dir, t+ext) }
	tables2 := []string{id2}
	if len(tables) == 2 {
		tables2 = append(tables2, id2+"_log")
	}
	made := tg.open(b, id2) // the tables to load into, made as metastore makes them
	made.Close()
	cols := columns(tg.schema)
	if sv.driver == jdbc.Postgres {
		bt.time(`COPY TO (psql \copy)`, func() {
			args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", sv.db}
			for _, t := range tables {
				args = append(args, "-c", fmt.Sprintf(`\copy %s (%s) TO '%s' (FORMAT binary)`, sv.quote(t), cols, file(t, ".bin")))
			}
			sv.run(b, "", "", "psql", args...)
		})
		bt.time(`COPY TO | gzip -1`, func() {
			for _, t := range tables {
				sv.pipe(b, file(t, ".bin.gz"), "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", sv.db, "-c",
					fmt.Sprintf(`\copy %s (%s) TO STDOUT (FORMAT binary)`, sv.quote(t), cols))
			}
		})
		bt.time(`COPY FROM (psql \copy)`, func() {
			args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", sv.db, "-c", "BEGIN"}
			for i, t := range tables {
				args = append(args, "-c", fmt.Sprintf(`\copy %s (%s) FROM '%s' (FORMAT binary)`, sv.quote(tables2[i]), cols, file(t, ".bin")))
			}
			sv.run(b, "", "", "psql", append(args, "-c", "COMMIT")...)
		})
		if got := sv.fingerprint(b, tables2); got != want {
			b.Fatalf("COPY FROM loaded %s, want %s", got, want)
		}
		bt.time("pg_dump -Fc", func() {
			args := []string{"-Fc", "-f", file(id, ".dump")}
			for _, t := range tables {
				args = append(args, "-t", sv.quote(t))
			}
			sv.run(b, "", "", "pg_dump", append(args, sv.db)...)
		})
		bt.time("pg_dump -t (plain)", func() {
			args := []string{"-f", file(id, ".sql")}
			for _, t := range tables {
				args = append(args, "-t", sv.quote(t))
			}
			sv.run(b, "", "", "pg_dump", append(args, sv.db)...)
		})
		for _, t := range tables {
			sv.sql(b, "DROP TABLE "+sv.quote(t))
		}
		bt.time("pg_restore", func() {
			sv.run(b, "", "", "pg_restore", "--single-transaction", "--no-owner", "-d", sv.db, file(id, ".dump"))
		})
	} else {
		bt.time("SELECT to a file (mysql -B)", func() {
			for _, t := range tables {
				sv.run(b, "", file(t, ".tsv"), "mysql", "-B", "-N", sv.db, "-e", fmt.Sprintf("SELECT %s FROM %s", cols, sv.quote(t)))
			}
		})
		bt.time("mysql -B | gzip -1", func() {
			for _, t := range tables {
				sv.pipe(b, file(t, ".tsv.gz"), "mysql", "-B", "-N", sv.db, "-e", fmt.Sprintf("SELECT %s FROM %s", cols, sv.quote(t)))
			}
		})
		bt.time("LOAD DATA LOCAL INFILE", func() {
			stmts := []string{"START TRANSACTION"}
			for i, t := range tables {
				stmts = append(stmts, fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE %s (%s)", file(t, ".tsv"), sv.quote(tables2[i]), cols))
			}
			sv.run(b, "", "", "mysql", "--local-infile=1", sv.db, "-e", strings.Join(append(stmts, "COMMIT"), "; "))
		})
		if got := sv.fingerprint(b, tables2); got != want {
			b.Fatalf("LOAD DATA loaded %s, want %s", got, want)
		}
		bt.time("mysqldump", func() {
			sv.run(b, "", file(id, ".sql"), "mysqldump", append([]string{"--single-transaction", sv.db}, tables...)...)
		})
		for _, t := range tables {
			sv.sql(b, "DROP TABLE "+sv.quote(t))
		}
		bt.time("mysql < dump", func() {
			sv.run(b, file(id, ".sql"), "", "mysql", sv.db)
		})
	}
	if got := sv.fingerprint(b, tables); got != want {
		b.Fatalf("the dump restored %s, want %s", got, want)
	}
	for _, f := range []string{".bin", ".tsv", ".bin.gz", ".tsv.gz", ".dump", ".sql"} {
		for _, t := range append(slices.Clone(tables), id) {
			os.Remove(file(t, f))
		}
	}

	// metastore again, over rows that all differ (by their timestamp).
	for _, t := range tables {
		sv.sql(b, fmt.Sprintf("UPDATE %s SET META_TABLE_TS = META_TABLE_TS + 1", sv.quote(t)))
	}
	s = tg.open(b, id)
	defer s.Close()
	restore("restore (metastore, over every row)", snapshot.Changed, snap.Resources-1) // the target's /UUID stays
	if got := sv.fingerprint(b, tables); got != want {
		b.Fatalf("the restore over every row left %s, want %s", got, want)
	}
}
