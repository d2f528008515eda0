package jdbc

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kylin 5.0 beta elects, per project and for "_global", the node that may
// write its metadata: the epoch table IDENTIFIER_epoch holds one row per
// target with its owner ("host:port|start-millis") and the last time the
// owner renewed it (EpochManager; JdbcEpochStore's columns below). Its
// maintenance mode is an owner of its own: MaintainModeTool -on gives every
// epoch (every project's and _global's, inserting the missing ones) to the
// identity "IP:0000|9223372036854775807" with the renew time
// Long.MAX_VALUE, the epoch id plus one and a reason; while the _global
// epoch's owner contains ":0000" (EpochManager.isMaintenanceIdentity) no
// node takes an epoch, schedules jobs or accepts a metadata write, and the
// nodes' transactions begun before fail on the changed epoch id
// (JdbcMetadataStore.checkEpochModified). MaintainModeTool -off empties the
// owners, sets the renew time to now and the reason to NULL, the epoch id
// plus one again; the nodes then race for the epochs as at start. Kylin's
// metastore.sh restore runs MetadataTool -restore between the two.
//
// Kylin 5.0 GA removed the maintenance mode with EpochManager (KYLIN-5945:
// its REST API answers "deprecated") and 5.0.2 the epoch table
// (KYLIN-6051): the per-type layout has no maintenance mode to take.
//
// EnterMaintenance takes the maintenance mode as MaintainModeTool -on does,
// with a reason naming this process and a lease ("metastore restore
// token=...: lease until ..."), renewed while the process lives; Release
// gives it back as MaintainModeTool -off does, only the epochs still
// carrying the token. So that it is given back even when the process is
// killed, a guardian process (MaintenanceOptions.Guardian, RunGuardian)
// waits for this one to end and releases the epochs if it ended without
// releasing them; if the guardian dies too, the lease expires and the next
// EnterMaintenance takes the stale maintenance mode over (and Release gives
// it back).

// epochTable is the epoch table of the metastore.
type epochTable struct {
	name, q string
	cols    map[string]string // lower-cased -> quoted
}

// The epoch table's columns (JdbcEpochStore).
var epochCols = []string{"epoch_id", "epoch_target", "current_epoch_owner", "last_epoch_renew_time", "server_mode", "maintenance_mode_reason", "mvcc"}

// Epoch is one row of Kylin 5.0 beta's epoch table.
type Epoch struct {
	Target     string // a project, or "_global"
	ID         int64
	Owner      string // "host:port|millis", "" when released
	RenewTime  int64  // ms since the epoch; math.MaxInt64 in maintenance mode
	ServerMode string
	Reason     string // maintenance_mode_reason
	MVCC       int64
}

// maintenanceMarker is in the owner of every epoch in Kylin's maintenance
// mode: AddressUtil.MAINTAIN_MODE_MOCK_PORT after a colon.
const maintenanceMarker = ":0000"

// InMaintenance reports whether e's owner is Kylin's maintenance identity.
func (e Epoch) InMaintenance() bool { return strings.Contains(e.Owner, maintenanceMarker) }

// Live reports whether a Kylin node holds e, renewed within expiry
// (kylin.server.leader-race.heart-beat-timeout, 60 s by default).
func (e Epoch) Live(now time.Time, expiry time.Duration) bool {
	if e.Owner == "" || e.InMaintenance() {
		return false
	}
	return now.UnixMilli()-e.RenewTime <= expiry.Milliseconds()
}

// globalEpoch is the target of the whole system's epoch.
const globalEpoch = "_global"

// DefaultEpochExpiry is Kylin's kylin.server.leader-race.heart-beat-timeout
// default (KylinConfigBase.getEpochExpireTimeSecond).
const DefaultEpochExpiry = 60 * time.Second

// ErrMaintenance is wrapped by EnterMaintenance's error when Kylin is in a
// maintenance mode this process did not take.
var ErrMaintenance = errors.New("Kylin is in maintenance mode")

// Epochs returns the rows of the epoch table, by target, and false when the
// database has none (not Kylin 5.0 beta, or no Kylin has started on it).
func (s *Store) Epochs(ctx context.Context) ([]Epoch, bool, error) {
	if s.epoch == nil {
		return nil, false, nil
	}
	eps, err := s.readEpochs(ctx, s.db, false)
	return eps, true, err
}

// EpochTable returns the epoch table's name, and false without one.
func (s *Store) EpochTable() (string, bool) {
	if s.epoch == nil {
		return "", false
	}
	return s.epoch.name, true
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) readEpochs(ctx context.Context, q queryer, lock bool) ([]Epoch, error) {
	e := s.epoch
	c := e.cols
	stmt := fmt.Sprintf("SELECT %s, COALESCE(%s, 0), COALESCE(%s, ''), COALESCE(%s, 0), COALESCE(%s, ''), COALESCE(%s, ''), COALESCE(%s, 0) FROM %s ORDER BY %s",
		c["epoch_target"], c["epoch_id"], c["current_epoch_owner"], c["last_epoch_renew_time"], c["server_mode"], c["maintenance_mode_reason"], c["mvcc"], e.q, s.d.bin(c["epoch_target"]))
	if lock {
		stmt += " FOR UPDATE"
	}
	rows, err := q.QueryContext(ctx, stmt)
	if err != nil {
		return nil, s.translate(ctx, "read "+e.name, err)
	}
	defer rows.Close()
	var out []Epoch
	for rows.Next() {
		var ep Epoch
		var target sql.NullString
		if err := rows.Scan(&target, &ep.ID, &ep.Owner, &ep.RenewTime, &ep.ServerMode, &ep.Reason, &ep.MVCC); err != nil {
			return nil, s.translate(ctx, "read "+e.name, err)
		}
		ep.Target = target.String
		out = append(out, ep)
	}
	if err := rows.Err(); err != nil {
		return nil, s.translate(ctx, "read "+e.name, err)
	}
	return out, nil
}

// MaintenanceOptions say how EnterMaintenance takes the maintenance mode.
type MaintenanceOptions struct {
	// Reason is what Kylin shows as the maintenance mode's reason, before
	// the lease this package adds ("metastore restore").
	Reason string
	// Lease is how long the maintenance mode stays this process's without
	// a renewal; it is renewed every third of it. DefaultLease if zero.
	Lease time.Duration
	// Force lets EnterMaintenance succeed when Kylin is already in a
	// maintenance mode someone else took (an administrator's
	// MaintainModeTool -on): the restore then runs inside it, and Release
	// leaves it on.
	Force bool
	// Guardian, if set, is the command of a guardian process (a copy of
	// this program that calls RunGuardian): EnterMaintenance starts it and
	// hands it what it needs to release the maintenance mode if this
	// process dies without releasing it.
	Guardian GuardianCommand
}

// DefaultLease is the maintenance lease when MaintenanceOptions.Lease is
// zero: Kylin's epoch expiry.
const DefaultLease = DefaultEpochExpiry

// Maintenance is a maintenance mode taken (or joined) by EnterMaintenance.
type Maintenance struct {
	s *Store
	// Taken is true when this process put Kylin in maintenance mode (and
	// Release gives it back); false when there is no epoch table or it ran
	// inside someone else's maintenance mode (MaintenanceOptions.Force).
	Taken bool
	// Joined is true when Kylin was already in maintenance mode and Force
	// let the restore run inside it.
	Joined bool
	// StaleTakenOver is true when a maintenance mode left by a metastore
	// process that died (an expired lease) was taken over.
	StaleTakenOver bool
	// Before are the epochs as they were.
	Before []Epoch
	// Reason is the reason written.
	Reason string

	token    string
	lease    time.Duration
	mu       sync.Mutex
	reason   string // the current reason, with the lease
	stop     chan struct{}
	renewed  sync.WaitGroup
	guardian *guardian
	released bool
}

// Live returns the epochs of Before that Kylin nodes held (see Epoch.Live).
func (m *Maintenance) Live() []Epoch {
	var out []Epoch
	for _, e := range m.Before {
		if e.Live(time.Now(), DefaultEpochExpiry) {
			out = append(out, e)
		}
	}
	return out
}

// reasonRE reads a lease this package wrote into a reason.
var reasonRE = regexp.MustCompile(`metastore .*token=([0-9a-f]{16,}).*lease until (\d+)`)

// leaseOf returns the token and expiry (ms) of a lease in reason, if any.
func leaseOf(reason string) (token string, until int64, ok bool) {
	m := reasonRE.FindStringSubmatch(reason)
	if m == nil {
		return "", 0, false
	}
	n, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return m[1], n, true
}

// maintenanceOwner is the owner this package gives the epochs: Kylin's
// maintenance identity form (EpochManager.MAINTAIN_OWNER), host then the
// mock port and Long.MAX_VALUE.
func maintenanceOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host + maintenanceMarker + "|" + strconv.FormatInt(math.MaxInt64, 10)
}

func (m *Maintenance) reasonUntil(until time.Time) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s (metastore pid %d on %s, token=%s): lease until %d (%s)", m.Reason, os.Getpid(), host, m.token,
		until.UnixMilli(), until.UTC().Format(time.RFC3339))
}

// EnterMaintenance puts Kylin 5.0 beta in maintenance mode for a restore,
// as MaintainModeTool -on does (see the comment at the top of epoch.go). It
// returns a Maintenance whose Release must be called; without an epoch
// table it does nothing and returns one whose Taken is false. Kylin
// already in a maintenance mode this package did not take, or whose lease
// is still running, is an error wrapping ErrMaintenance unless opt.Force.
func (s *Store) EnterMaintenance(ctx context.Context, opt MaintenanceOptions) (*Maintenance, error) {
	m := &Maintenance{s: s, Reason: opt.Reason, lease: opt.Lease}
	if s.epoch == nil {
		return m, nil
	}
	if m.Reason == "" {
		m.Reason = "metastore restore"
	}
	if m.lease <= 0 {
		m.lease = DefaultLease
	}
	var b [12]byte
	rand.Read(b[:])
	m.token = hex.EncodeToString(b[:])
	if opt.Guardian != nil {
		// The guardian starts first: a kill right after the epochs are
		// taken must find it there.
		g, err := startGuardian(opt.Guardian, s.cfg, m.token)
		if err != nil {
			return nil, fmt.Errorf("jdbc: start the maintenance guardian: %w", err)
		}
		m.guardian = g
	}
	taken, err := s.takeMaintenance(ctx, m, opt)
	if !taken && m.guardian != nil {
		// Nothing to give back, unless the failure left it unclear
		// whether the epochs were taken: then the guardian makes sure.
		m.guardian.done(err == nil)
		m.guardian = nil
	}
	if err != nil {
		return nil, err
	}
	if taken {
		m.Taken = true
		m.stop = make(chan struct{})
		m.renewed.Add(1)
		go m.renew()
	}
	return m, nil
}

// takeMaintenance takes the epochs for m in one transaction, and reports
// whether it did (not when Kylin was in maintenance mode and opt.Force
// joined it).
func (s *Store) takeMaintenance(ctx context.Context, m *Maintenance, opt MaintenanceOptions) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, s.translate(ctx, "begin a transaction", err)
	}
	defer tx.Rollback()
	eps, err := s.readEpochs(ctx, tx, true)
	if err != nil {
		return false, err
	}
	m.Before = eps
	now := time.Now()
	for _, e := range eps {
		if e.Target != globalEpoch || !e.InMaintenance() {
			continue
		}
		if _, until, ok := leaseOf(e.Reason); ok && until < now.UnixMilli() {
			m.StaleTakenOver = true
			break
		}
		if opt.Force {
			m.Joined = true
			return false, nil
		}
		what := "someone else's (an administrator's MaintainModeTool -on, or Kylin's metastore.sh restore)"
		if _, until, ok := leaseOf(e.Reason); ok {
			what = fmt.Sprintf("another metastore restore's, whose lease runs until %s", time.UnixMilli(until).UTC().Format(time.RFC3339))
		}
		return false, fmt.Errorf("jdbc: %w: epoch %s of %s is owned by %s with reason %q: %s; wait for it to end, or, if you put Kylin in maintenance mode yourself for this restore, pass --force to restore inside it (it is left on)",
			ErrMaintenance, globalEpoch, s.epoch.name, e.Owner, e.Reason, what)
	}
	projects, err := s.epochTargets(ctx, tx)
	if err != nil {
		return false, err
	}
	m.reason = m.reasonUntil(now.Add(m.lease))
	owner := maintenanceOwner()
	c, d := s.epoch.cols, s.d
	have := map[string]bool{}
	for _, e := range eps {
		have[e.Target] = true
		a := &args{d: d}
		q := fmt.Sprintf("UPDATE %s SET %s = %s, %s = %s, %s = %s, %s = %s, %s = %s WHERE %s = %s AND %s = %s",
			s.epoch.q, c["epoch_id"], a.add(e.ID+1), c["current_epoch_owner"], a.add(owner), c["last_epoch_renew_time"], a.add(int64(math.MaxInt64)),
			c["maintenance_mode_reason"], a.add(m.reason), c["mvcc"], a.add(e.MVCC+1), c["epoch_target"], a.add(e.Target), c["mvcc"], a.add(e.MVCC))
		res, err := tx.ExecContext(ctx, q, a.vals...)
		if err != nil {
			return false, s.translate(ctx, "update "+s.epoch.name, err)
		}
		if n, err := res.RowsAffected(); err == nil && n != 1 {
			return false, fmt.Errorf("jdbc: %w: epoch %s of %s changed while it was taken; retry", ErrDatabase, e.Target, s.epoch.name)
		}
	}
	for _, target := range projects {
		if have[target] {
			continue
		}
		a := &args{d: d}
		q := fmt.Sprintf("INSERT INTO %s (%s, %s, %s, %s, %s, %s, %s) VALUES (1, %s, %s, %s, 'all', %s, 0)",
			s.epoch.q, c["epoch_id"], c["epoch_target"], c["current_epoch_owner"], c["last_epoch_renew_time"], c["server_mode"], c["maintenance_mode_reason"], c["mvcc"],
			a.add(target), a.add(owner), a.add(int64(math.MaxInt64)), a.add(m.reason))
		if _, err := tx.ExecContext(ctx, q, a.vals...); err != nil {
			return false, s.translate(ctx, "insert into "+s.epoch.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, s.translate(ctx, "commit "+s.epoch.name, err)
	}
	return true, nil
}

// epochTargets returns the epochs MaintainModeTool marks: every project
// (the stems of /_global/project/*.json) and _global.
func (s *Store) epochTargets(ctx context.Context, tx *sql.Tx) ([]string, error) {
	r := reader{s: s, q: tx}
	var out []string
	const prefix = "/_global/project/"
	err := r.query(ctx, selection{prefix: prefix}, func(k string) bool { return strings.HasPrefix(k, prefix) }, noContent, func(rw row) error {
		name := strings.TrimPrefix(rw.key, prefix)
		if p, ok := strings.CutSuffix(name, ".json"); ok && p != "" && !strings.Contains(p, "/") {
			out = append(out, p)
		}
		return nil
	})
	return append(out, globalEpoch), err
}

// renew extends the lease every third of it until Release.
func (m *Maintenance) renew() {
	defer m.renewed.Done()
	t := time.NewTicker(m.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.mu.Lock()
			next := m.reasonUntil(time.Now().Add(m.lease))
			ctx, cancel := context.WithTimeout(context.Background(), m.lease/3)
			if m.s.setReason(ctx, m.token, next) == nil {
				m.reason = next
			}
			cancel()
			m.mu.Unlock()
		}
	}
}

// setReason rewrites the reason of the epochs carrying token.
func (s *Store) setReason(ctx context.Context, token, reason string) error {
	c, a := s.epoch.cols, &args{d: s.d}
	q := fmt.Sprintf("UPDATE %s SET %s = %s, %s = %s + 1 WHERE %s LIKE %s", s.epoch.q, c["maintenance_mode_reason"], a.add(reason), c["mvcc"], c["mvcc"],
		c["maintenance_mode_reason"], a.add("%token="+token+"%"))
	_, err := s.db.ExecContext(ctx, q, a.vals...)
	return s.translate(ctx, "renew the maintenance lease in "+s.epoch.name, err)
}

// Release gives the maintenance mode back as MaintainModeTool -off does:
// every epoch still carrying this Maintenance's token gets an empty owner,
// the renew time now, no reason, its id plus one. It does nothing when the
// mode was not taken, and is safe to call twice.
func (m *Maintenance) Release(ctx context.Context) error {
	if m == nil || !m.Taken {
		return nil
	}
	m.mu.Lock()
	if m.released {
		m.mu.Unlock()
		return nil
	}
	m.released = true
	if m.stop != nil {
		close(m.stop)
	}
	m.mu.Unlock()
	m.renewed.Wait()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	err := m.s.releaseToken(ctx, m.token)
	if m.guardian != nil {
		m.guardian.done(err == nil)
	}
	return err
}

// releaseToken releases the epochs whose reason carries token.
func (s *Store) releaseToken(ctx context.Context, token string) error {
	if s.epoch == nil {
		return nil
	}
	c, d := s.epoch.cols, s.d
	a := &args{d: d}
	q := fmt.Sprintf("UPDATE %s SET %s = %s + 1, %s = '', %s = %s, %s = NULL, %s = %s + 1 WHERE %s LIKE %s",
		s.epoch.q, c["epoch_id"], c["epoch_id"], c["current_epoch_owner"], c["last_epoch_renew_time"], a.add(time.Now().UnixMilli()),
		c["maintenance_mode_reason"], c["mvcc"], c["mvcc"], c["maintenance_mode_reason"], a.add("%token="+token+"%"))
	if _, err := s.db.ExecContext(ctx, q, a.vals...); err != nil {
		return fmt.Errorf("%w; Kylin stays in maintenance mode until it is released: run metastore's restore again, or Kylin's bin/kylin.sh org.apache.kylin.tool.MaintainModeTool -off",
			s.translate(ctx, "give the maintenance mode back in "+s.epoch.name, err))
	}
	return nil
}
