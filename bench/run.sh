#!/bin/sh
# bench/run.sh: backup, restore and diff of a generated Kylin metastore with
# four tools, in one run, on the same metastore folder:
#
#   kylin     Kylin's own approach (metastore.sh backup): a full copy of the
#             metastore into a new timestamped folder (cp -a)
#   git       the git CLI: git add -A && git commit, work tree = the metastore
#   restic    restic backup into a local repository
#   metastore metastore backup
#
# and, with --baseline BIN, a fifth: another build of metastore (BIN, say
# the one before a change, built into bench/_out), with a repository of its
# own, run right beside metastore (in alternating order) at every step, so
# that the two builds are compared on the same data under the same load;
# the summary then ends with a table of both.
#
# Usage: bench/run.sh [--sizes "10000 100000"] [--shape "default jobs"] [--rounds 30] [--repeat 5] [--out DIR] [--keep] [--baseline BIN]
#        bench/run.sh --summarize [--rounds N] [--out DIR]   (summary of an earlier run)
#
# --shape is kylin-metagen's: default (jobs take ~45% of the resources) or
# jobs (a job-heavy metastore: /execute and /execute_output ~30% each).
# Several shapes run one after the other, each into OUT/SHAPE with its own
# results and summary; one shape runs into OUT.
#
# For each size it generates a metastore (kylin-metagen, seed 1), then, with
# every tool in turn and the metastore in the same state for all of them:
#
#   backup_first          the first backup
#   backup_unchanged      a second backup with nothing changed
#   churn_round_01..NN    a backup after each of NN rounds of 1% churn (churn
#                         seed = round number); round 01 is "after 1% churn"
#   repo_size             the repository on disk after those backups (du -sb;
#                         Kylin: the NN copies made in the churn rounds), next
#                         to tar_zst (tar cf - | zstd -3 of the metastore);
#                         repo_alloc: the same in blocks allocated (du -sk)
#   diff / diff_stat      a diff of the last two snapshots (1% apart)
#   restore_cube          restore one cube from the latest snapshot
#                         (diffs and cube restores are quick: each is run
#                         --repeat times and the summary takes the median)
#   restore_project       restore one project from the latest snapshot
#   gc                    git gc after all that (git only; size after it)
#
# Every step is timed with bench/timeit (GNU time's %e %U %S %M: wall, user,
# sys, max RSS, but to the microsecond: a cube restore takes milliseconds).
# Restores go into a scratch copy of the metastore from which the scope's
# resources were deleted (as if the cube or project had been dropped); /UUID
# and, for the cube, the project file stay. The scratch copy is re-made
# between tools outside the timing. Each restore is checked byte-for-byte.
#
# Output, in OUT (default bench/_out: git-ignored, and skipped by the go
# command, which ignores folders starting with "_"): results.tsv (size,
# scenario, tool, wall_s, user_s, sys_s, maxrss_kb, bytes), summary.md (the
# tables and the ratios), machine.txt, and run-SIZE.log with every command's
# output. The big working folders (OUT/SIZE) are deleted at the end unless
# --keep is given.
#
# Needs git, restic, zstd, Go (go on PATH or
# /usr/local/go/bin/go), awk, du, df. Installs nothing: on Debian,
#   apt-get install -y restic zstd git
set -eu

SIZES="10000 100000"
SHAPES=default
ROUNDS=30
OUT=
KEEP=0
SUMMARIZE=0
SEED=1
REPEAT=5
BASE=
# Keep at least this many KiB free on the output file system: older Kylin-style
# copies are deleted (after their size was recorded) rather than go below it.
MIN_FREE_KB=${BENCH_MIN_FREE_KB:-20000000}

# summarize TSV MACHINE ROUNDS: the Markdown summary (tables, ratios, targets).
summarize() {
	s_awk=$(mktemp)
	cat >"$s_awk" <<'AWK'
# summarize: Markdown tables and ratios from results.tsv.
BEGIN { FS = "\t"; ntools = split("kylin git restic metastore", T, " ")
	name["kylin"] = "Kylin (cp -a)"; name["git"] = "git CLI"; name["restic"] = "restic"; name["metastore"] = "metastore" }
NR == 1 { next }
{
	sz = $1; sc = $2; tl = $3
	if (!(sz in seen)) { seen[sz] = 1; sizes[++nsizes] = sz }
	k = sz SUBSEP sc SUBSEP tl
	wall[k] = $4; cpu[k] = ($4 == "-") ? "-" : $5 + $6; rss[k] = $7; bytes[k] = $8
	if ($4 != "-") { n = ++cnt[k]; RW[k, n] = $4; RC[k, n] = $5 + $6; RR[k, n] = $7 }
	if (sc ~ /^churn_round_/) { nr[sz, tl]++; rv[sz, tl, nr[sz, tl]] = $4; rc[sz, tl, nr[sz, tl]] = $5 + $6; rm[sz, tl, nr[sz, tl]] = $7 }
	if (sc == "restore_cube_resources") cname[sz] = tl
	if (sc == "restore_project_resources") pname[sz] = tl
	if (tl == "metastore" && $7 != "-" && $7 + 0 > peak[sz] + 0) { peak[sz] = $7; peaksc[sz] = sc }
}
function median(a, sz, tl, n,    i, j, x, v) {
	if (n == 0) return "-"
	for (i = 1; i <= n; i++) v[i] = a[sz, tl, i] + 0
	for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
	return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function med(a, k, n,    i, j, x, v) {
	for (i = 1; i <= n; i++) v[i] = a[k, i] + 0
	for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
	return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function secs(x) { if (x == "-" || x == "") return "-"; return (x < 1) ? sprintf("%.3f", x) : (x < 10) ? sprintf("%.2f", x) : sprintf("%.1f", x) }
function mb(x) { if (x == "-" || x == "") return "-"; return sprintf("%.0f", x / 1024) }
function mib(x) { if (x == "-" || x == "") return "-"; return (x < 10 * 1048576) ? sprintf("%.2f MiB", x / 1048576) : sprintf("%.0f MiB", x / 1048576) }
function ratio(a, b) { if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) return "-"; return sprintf("%.2fx", a / b) }
function pct(a, b) { if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) return "-"; return sprintf("%.1f%%", 100 * a / b) }
function grp(n) { n = sprintf("%d", n); while (n ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", n); return n }
function val(m, sz, sc, tl,    k) {
	if (sc == "churn_median") {
		if (m == "wall") return median(rv, sz, tl, nr[sz, tl])
		if (m == "cpu") return median(rc, sz, tl, nr[sz, tl])
		return median(rm, sz, tl, nr[sz, tl])
	}
	k = sz SUBSEP sc SUBSEP tl
	if (!(k in wall)) return "-"
	if (m == "wall") return wall[k]
	if (m == "cpu") return cpu[k]
	return rss[k]
}
function table(m, title, sz,    i, j, sc, v, line, fmt) {
	printf "%s\n\n| scenario | Kylin (cp -a) | git CLI | restic | metastore | metastore / git | metastore / restic | metastore / Kylin |\n|---|--:|--:|--:|--:|--:|--:|--:|\n", title
	for (i = 1; i <= nsc; i++) {
		sc = S[i]
		if (val(m, sz, sc, "kylin") == "-" && val(m, sz, sc, "git") == "-" && val(m, sz, sc, "restic") == "-" && val(m, sz, sc, "metastore") == "-") continue
		line = "| " label[sc]
		for (j = 1; j <= ntools; j++) { v = val(m, sz, sc, T[j]); line = line " | " ((m == "rss") ? mb(v) : secs(v)) }
		line = line " | " ratio(val(m, sz, sc, "metastore"), val(m, sz, sc, "git")) " | " ratio(val(m, sz, sc, "metastore"), val(m, sz, sc, "restic")) " | " ratio(val(m, sz, sc, "metastore"), val(m, sz, sc, "kylin")) " |"
		print line
	}
	print ""
}
function sizerow(title, sz, sc, tl, asc, atl,    b, a, tz) {
	b = bytes[sz, sc, tl]; a = bytes[sz, asc, atl]; tz = bytes[sz, "tar_zst", "zstd"]
	if (b == "") b = "-"
	if (a == "") a = "-"
	printf "| %s | %s | %s | %s | %s | %s |\n", title, b, mib(b), ratio(b, tz), mib(a), ratio(a, tz)
}
function verdict(ok) { return ok ? "**met**" : "**not met**" }
# baseline: metastore against the --baseline build, run beside it.
function baseline(sz,    i, sc, b, m) {
	printf "metastore against the baseline build (`--baseline`), run beside it at every step:\n\n"
	printf "| scenario | baseline wall | metastore wall | metastore / baseline | baseline CPU | metastore CPU | metastore / baseline | baseline MB | metastore MB |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n"
	for (i = 1; i <= nsc; i++) {
		sc = S[i]
		if (val("wall", sz, sc, "baseline") == "-") continue
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label[sc],
			secs(val("wall", sz, sc, "baseline")), secs(val("wall", sz, sc, "metastore")), ratio(val("wall", sz, sc, "metastore"), val("wall", sz, sc, "baseline")),
			secs(val("cpu", sz, sc, "baseline")), secs(val("cpu", sz, sc, "metastore")), ratio(val("cpu", sz, sc, "metastore"), val("cpu", sz, sc, "baseline")),
			mb(val("rss", sz, sc, "baseline")), mb(val("rss", sz, sc, "metastore"))
	}
	b = bytes[sz, "repo_size", "baseline"]; m = bytes[sz, "repo_size", "metastore"]
	printf "| repository after %d backups | %s | %s | %s | | | | | |\n\n", ROUNDS + 2, mib(b), mib(m), ratio(m, b)
}
END {
	# repeated measurements (diffs, cube restores): the median
	for (k in cnt) if (cnt[k] > 1) { wall[k] = med(RW, k, cnt[k]); cpu[k] = med(RC, k, cnt[k]); rss[k] = med(RR, k, cnt[k]); if (cnt[k] > nrep) nrep = cnt[k] }
	nsc = split("backup_first backup_unchanged churn_round_01 churn_median diff diff_stat restore_cube restore_project gc", S, " ")
	label["backup_first"] = "first backup"; label["backup_unchanged"] = "second backup, nothing changed"
	label["churn_round_01"] = "backup after 1% churn"; label["churn_median"] = "1% churn backup, median of " ROUNDS " rounds"
	label["diff"] = "diff of two snapshots 1% apart (full)"; label["diff_stat"] = "diff --stat of the same two"
	if (nrep > 1) { label["diff"] = label["diff"] " (median of " nrep ")"; label["diff_stat"] = label["diff_stat"] " (median of " nrep ")" }
	label["restore_cube"] = (nrep > 1) ? "cube-scope restore (median of " nrep ")" : "cube-scope restore"; label["restore_project"] = "project-scope restore"; label["gc"] = "git gc after everything"
	for (s = 1; s <= nsizes; s++) {
		sz = sizes[s]
		printf "### %s resources (metastore folder: %s)\n\n", grp(sz), mib(bytes[sz, "metastore_size", "folder"])
		table("wall", "Wall time, seconds:", sz)
		table("cpu", "CPU time (user + sys), seconds:", sz)
		table("rss", "Peak memory (max RSS), MB:", sz)
		printf "Ratios to the tool's own first backup (wall time):\n\n| tool | second / first | 1%% churn / first | median churn round / first |\n|---|--:|--:|--:|\n"
		for (j = 1; j <= ntools; j++) {
			t = T[j]
			printf "| %s | %s | %s | %s |\n", name[t], pct(val("wall", sz, "backup_unchanged", t), val("wall", sz, "backup_first", t)), pct(val("wall", sz, "churn_round_01", t), val("wall", sz, "backup_first", t)), pct(val("wall", sz, "churn_median", t), val("wall", sz, "backup_first", t))
		}
		tz = bytes[sz, "tar_zst", "zstd"]
		printf "\nOn disk after %d backups (first, unchanged, %d rounds of 1%% churn), next to one `tar | zstd -3` of the metastore (made in %s s); bytes are `du -sb` (apparent size), allocated is `du -sk` (whole blocks):\n\n| | bytes | size | / tar.zst | allocated | / tar.zst |\n|---|--:|--:|--:|--:|--:|\n", ROUNDS + 2, ROUNDS, secs(wall[sz, "tar_zst", "zstd"])
		sizerow("metastore folder", sz, "metastore_size", "folder", "repo_alloc", "folder")
		sizerow("one tar.zst", sz, "tar_zst", "zstd", "tar_zst", "zstd")
		sizerow("Kylin: " ROUNDS " copies (the churn rounds')", sz, "repo_size", "kylin", "repo_alloc", "kylin")
		sizerow("git repository (loose objects, gc.auto 0)", sz, "repo_size", "git", "repo_alloc", "git")
		if ((sz SUBSEP "gc" SUBSEP "git") in bytes) sizerow("git repository after `git gc`", sz, "gc", "git", "repo_alloc_after_gc", "git")
		sizerow("restic repository (its cache of " mib(bytes[sz, "repo_size_cache", "restic"]) " not counted)", sz, "repo_size", "restic", "repo_alloc", "restic")
		sizerow("metastore repository (with its change cache of " mib(bytes[sz, "repo_size_cache", "metastore"]) ")", sz, "repo_size", "metastore", "repo_alloc", "metastore")
		if (bytes[sz, "kylin_copies_deleted_for_space", "kylin"] + 0 > 0)
			printf "\n%d Kylin-style copies were deleted during the run to keep disk space; the Kylin row sums the du -sb of each copy measured right after it was made.\n", bytes[sz, "kylin_copies_deleted_for_space", "kylin"]
		printf "\nRestores: cube `%s` (%s resources in scope), project `%s` (%s resources in scope).\n", cname[sz], bytes[sz, "restore_cube_resources", cname[sz]], pname[sz], bytes[sz, "restore_project_resources", pname[sz]]
		printf "Peak memory of metastore at %s resources: %s MB (%s).\n\n", grp(sz), mb(peak[sz]), peaksc[sz]
		if ((sz SUBSEP "backup_first" SUBSEP "baseline") in wall) baseline(sz)
	}
	# targets, at the largest size measured
	big = sizes[1]; small = sizes[1]
	for (s = 1; s <= nsizes; s++) { if (sizes[s] + 0 > big + 0) big = sizes[s]; if (sizes[s] + 0 < small + 0) small = sizes[s] }
	printf "### Targets (at %s resources)\n\n| target | measured | |\n|---|---|---|\n", grp(big)
	m1 = val("wall", big, "backup_first", "metastore"); g1 = val("wall", big, "backup_first", "git"); r1 = val("wall", big, "backup_first", "restic")
	printf "| first backup faster than git CLI and restic | metastore %s s, git %s s, restic %s s (%s of git, %s of restic) | %s |\n", secs(m1), secs(g1), secs(r1), ratio(m1, g1), ratio(m1, r1), verdict(m1 + 0 < g1 + 0 && m1 + 0 < r1 + 0)
	c1 = val("cpu", big, "backup_first", "metastore")
	m2 = val("wall", big, "backup_unchanged", "metastore"); c2 = val("cpu", big, "backup_unchanged", "metastore")
	printf "| second backup, nothing changed, < 5%% of the first | %s s = %s of %s s (CPU: %s s = %s of %s s) | %s |\n", secs(m2), pct(m2, m1), secs(m1), secs(c2), pct(c2, c1), secs(c1), verdict(m2 + 0 < 0.05 * m1)
	m3 = val("wall", big, "churn_round_01", "metastore"); m3m = val("wall", big, "churn_median", "metastore")
	c3 = val("cpu", big, "churn_round_01", "metastore"); c3m = val("cpu", big, "churn_median", "metastore")
	printf "| backup after 1%% churn < 10%% of the first | round 1: %s s = %s, median of %d rounds: %s s = %s (CPU: %s, median %s) | %s |\n", secs(m3), pct(m3, m1), ROUNDS, secs(m3m), pct(m3m, m1), pct(c3, c1), pct(c3m, c1), verdict(m3 + 0 < 0.1 * m1 && m3m + 0 < 0.1 * m1)
	rs = bytes[big, "repo_size", "metastore"]; tz = bytes[big, "tar_zst", "zstd"]; rcache = bytes[big, "repo_size_cache", "metastore"]
	printf "| repository after %d churn backups <= 1.5x one tar.zst | %s / %s = %s (%s without the change cache) | %s |\n", ROUNDS, mib(rs), mib(tz), ratio(rs, tz), ratio(rs - rcache, tz), verdict(rs + 0 <= 1.5 * tz)
	if (big != small) {
		cb = val("wall", big, "restore_cube", "metastore"); cs = val("wall", small, "restore_cube", "metastore")
		ccb = val("cpu", big, "restore_cube", "metastore"); ccs = val("cpu", small, "restore_cube", "metastore")
		printf "| cube-scope restore time independent of the metastore's size (criterion: under 2x for %s the resources, wall and CPU) | wall %s s at %s vs %s s at %s resources = %s; CPU %s s vs %s s = %s | %s |\n", ratio(big, small), secs(cb), grp(big), secs(cs), grp(small), ratio(cb, cs), secs(ccb), secs(ccs), ratio(ccb, ccs), (cb + 0 < 2 * cs && ccb + 0 < 2 * ccs) ? verdict(1) : (cb + 0 < 2 * cs) ? "**not met** on CPU time (met on wall time)" : verdict(0)
	} else
		printf "| cube-scope restore time independent of the metastore's size | needs two sizes | - |\n"
	printf "| peak memory < 200 MB | %s MB (%s) | %s |\n", mb(peak[big]), peaksc[big], verdict(peak[big] + 0 < 200 * 1024)
}
AWK
	echo "## Results"
	echo
	sed 's/^/    /' "$2"
	echo
	awk -v ROUNDS="$3" -f "$s_awk" "$1"
	rm -f "$s_awk"
}

usage() {
	sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--sizes) SIZES=$2; shift 2 ;;
	--sizes=*) SIZES=${1#*=}; shift ;;
	--shape) SHAPES=$2; shift 2 ;;
	--shape=*) SHAPES=${1#*=}; shift ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--rounds=*) ROUNDS=${1#*=}; shift ;;
	--out) OUT=$2; shift 2 ;;
	--out=*) OUT=${1#*=}; shift ;;
	--repeat) REPEAT=$2; shift 2 ;;
	--repeat=*) REPEAT=${1#*=}; shift ;;
	--keep) KEEP=1; shift ;;
	--baseline) BASE=$2; shift 2 ;;
	--baseline=*) BASE=${1#*=}; shift ;;
	--summarize) SUMMARIZE=1; shift ;;
	-h|--help) usage ;;
	*) echo "run.sh: unknown argument $1" >&2; usage ;;
	esac
done
case $ROUNDS in ''|*[!0-9]*|0) echo "run.sh: --rounds must be a positive integer" >&2; exit 2 ;; esac
case $REPEAT in ''|*[!0-9]*|0) echo "run.sh: --repeat must be a positive integer" >&2; exit 2 ;; esac
for n in $SIZES; do
	case $n in ''|*[!0-9]*) echo "run.sh: --sizes must be integers" >&2; exit 2 ;; esac
done
for s in $SHAPES; do
	case $s in default|jobs) ;; *) echo "run.sh: --shape must be default or jobs (or both)" >&2; exit 2 ;; esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ -n "$OUT" ] || OUT=$ROOT/bench/_out
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ "$(echo $SHAPES | wc -w)" -gt 1 ] && [ "$SUMMARIZE" = 0 ]; then
	# one run per shape, each into OUT/SHAPE
	k=
	[ "$KEEP" = 0 ] || k=--keep
	for s in $SHAPES; do
		echo "=== shape $s: $OUT/$s"
		"$0" --sizes "$SIZES" --shape "$s" --rounds "$ROUNDS" --repeat "$REPEAT" --out "$OUT/$s" $k ${BASE:+--baseline "$BASE"}
	done
	exit 0
fi
if [ "$SUMMARIZE" = 1 ]; then
	# only print the summary of an earlier run in OUT
	summarize "$OUT/results.tsv" "$OUT/machine.txt" "$ROUNDS"
	exit 0
fi

# --- prerequisites ------------------------------------------------------------
missing=
command -v git >/dev/null 2>&1 || missing="$missing git"
command -v restic >/dev/null 2>&1 || missing="$missing restic"
command -v zstd >/dev/null 2>&1 || missing="$missing zstd"
GO=$(command -v go 2>/dev/null || true)
[ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; } || true
[ -n "$GO" ] || missing="$missing go"
if [ -n "$missing" ]; then
	echo "run.sh: missing:$missing" >&2
	echo "  on Debian/Ubuntu: apt-get install -y restic zstd git   (Go: https://go.dev/dl/)" >&2
	exit 2
fi

BIN=$OUT/bin
mkdir -p "$BIN"
echo "building metastore, kylin-metagen and timeit into $BIN"
(cd "$ROOT" && "$GO" build -o "$BIN/metastore" ./cmd/metastore && "$GO" build -o "$BIN/kylin-metagen" ./cmd/kylin-metagen && "$GO" build -o "$BIN/timeit" ./bench/timeit)
MS=$BIN/metastore
GEN=$BIN/kylin-metagen
if [ -n "$BASE" ]; then
	[ -x "$BASE" ] || { echo "run.sh: --baseline $BASE is not an executable" >&2; exit 2; }
	BASE=$(cd "$(dirname "$BASE")" && pwd)/$(basename "$BASE")
fi

export RESTIC_PASSWORD=bench
export GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost

TSV=$OUT/results.tsv
TF=$OUT/.time
printf 'size\tscenario\ttool\twall_s\tuser_s\tsys_s\tmaxrss_kb\tbytes\n' >"$TSV"

# --- machine --------------------------------------------------------------------
MACHINE=$OUT/machine.txt
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "command: bench/run.sh --sizes \"$SIZES\" --shape $SHAPES --rounds $ROUNDS --repeat $REPEAT${BASE:+ --baseline $BASE}"
	echo "shape: $SHAPES (kylin-metagen generate --shape $SHAPES)"
	echo "cpu: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "disk: $(df -PT "$OUT" | awk 'NR==2 {printf "%s (%s), %.0f GiB, %.0f GiB free", $1, $2, $3/1048576, $5/1048576}')"
	echo "kernel: $(uname -sr)"
	echo "go: $("$GO" version | sed 's/^go version //')"
	echo "git: $(git --version | sed 's/^git version //')"
	echo "restic: $(restic version | head -n 1)"
	echo "zstd: $(zstd --version | head -n 1)"
	[ -z "$BASE" ] || echo "baseline: $BASE"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	[ ! -r /proc/pressure/cpu ] || echo "cpu pressure at start: $(head -n 1 /proc/pressure/cpu)"
} >"$MACHINE"
cat "$MACHINE"

# --- helpers --------------------------------------------------------------------
log() { printf '%s  %s\n' "$(date '+%H:%M:%S')" "$*"; }

# measure SIZE SCENARIO TOOL BYTES_PATH CMD...: runs CMD under timeit (after a
# sync, so the previous step's writes are not flushed during this one) and
# appends a row to the TSV; bytes is du -sb of BYTES_PATH after the command
# ("-" for none).
measure() {
	m_size=$1 m_scen=$2 m_tool=$3 m_path=$4
	shift 4
	sync
	echo "### $m_size $m_scen $m_tool: $*" >>"$LOG"
	if ! "$BIN/timeit" -o "$TF" "$@" >>"$LOG" 2>&1; then
		echo "run.sh: $m_scen with $m_tool failed; see $LOG:" >&2
		tail -n 20 "$LOG" >&2
		exit 1
	fi
	m_bytes=-
	[ "$m_path" = - ] || m_bytes=$(du -sb "$m_path" | cut -f1)
	tail -n 1 "$TF" | awk -v s="$m_size" -v sc="$m_scen" -v t="$m_tool" -v b="$m_bytes" \
		'BEGIN {OFS="\t"} {print s, sc, t, $1, $2, $3, $4, b}' >>"$TSV"
	tail -n 1 "$TSV" | awk -F '\t' '{printf "    %-18s %-9s %8.3fs wall %8.3fs cpu %7.1f MB\n", $2, $3, $4, $5+$6, $7/1024}'
}

# row SIZE SCENARIO TOOL BYTES: a size-only row.
row() { printf '%s\t%s\t%s\t-\t-\t-\t-\t%s\n' "$@" >>"$TSV"; }

avail_kb() { df -Pk "$OUT" | awk 'NR==2 {print $4}'; }

# The four tools. Each reads the same folder $META.
kylin_backup() { # SCENARIO
	# Kylin names its copies meta_YYYY_MM_DD_HH_MM_SS: wait for a fresh second.
	while :; do
		k_name=meta_$(date +%Y_%m_%d_%H_%M_%S)
		[ -e "$KB/$k_name" ] || break
		sleep 1
	done
	# Make room if the file system would run short (the size of every copy is
	# recorded in copies.tsv before any is deleted).
	k_need=$(( $(du -sk "$META" | cut -f1) + MIN_FREE_KB ))
	while [ "$(avail_kb)" -lt "$k_need" ]; do
		k_old=$(ls -1 "$KB" | head -n 1)
		[ -n "$k_old" ] || break
		log "  low on disk: deleting the Kylin-style copy $k_old (its size is recorded)"
		rm -rf "${KB:?}/$k_old"
		PRUNED=$((PRUNED + 1))
	done
	measure "$N" "$1" kylin "$KB/$k_name" cp -a "$META" "$KB/$k_name"
	printf '%s\t%s\t%s\t%s\n' "$1" "$k_name" "$(tail -n 1 "$TSV" | cut -f8)" "$(du -sk "$KB/$k_name" | cut -f1)" >>"$WD/copies.tsv"
	LATEST_COPY=$KB/$k_name
}
git_backup() { # SCENARIO BYTES_PATH
	measure "$N" "$1" git "$2" sh -c 'git --git-dir="$1" --work-tree="$2" add -A && git --git-dir="$1" --work-tree="$2" commit -q --allow-empty -m "$3"' \
		sh "$GD" "$META" "$1"
}
restic_backup() { # SCENARIO BYTES_PATH
	measure "$N" "$1" restic "$2" sh -c 'cd "$2" && restic --repo "$1" --cache-dir "$3" backup --quiet --host bench .' \
		sh "$RR" "$META" "$RC"
}
metastore_backup() { # SCENARIO BYTES_PATH
	measure "$N" "$1" metastore "$2" "$MS" -q --metadata-url "$META" --repo "$MR" backup -m "$1"
}
baseline_backup() { # SCENARIO BYTES_PATH
	measure "$N" "$1" baseline "$2" "$BASE" -q --metadata-url "$META" --repo "$BR" backup -m "$1"
}
# both TURN CMD_METASTORE CMD_BASELINE: runs the two builds' steps, the
# baseline first on odd turns, so that neither always runs second.
both() {
	if [ -z "$BASE" ]; then
		eval "$2"
	elif [ $(($1 % 2)) = 1 ]; then
		eval "$3"; eval "$2"
	else
		eval "$2"; eval "$3"
	fi
}
backup_all() { # SCENARIO WITH_BYTES(0|1)
	if [ "$2" = 1 ]; then
		b_g=$GD b_r=$RR b_m=$MR b_b=$BR
	else
		b_g=- b_r=- b_m=- b_b=-
	fi
	kylin_backup "$1"
	git_backup "$1" "$b_g"
	restic_backup "$1" "$b_r"
	TURN=$((TURN + 1)) b_s=$1
	both "$TURN" 'metastore_backup "$b_s" "$b_m"' 'baseline_backup "$b_s" "$b_b"'
}

# Paths of the resources a restore-cube / restore-project of the latest snapshot
# touches, one per line with the leading slash (from the dry-run plan).
plan_paths() {
	sed -n 's/^ *"path": "\(.*\)",\{0,1\}$/\1/p'
}

# delete_scope LIST KIND: removes the listed resources from the scratch copy,
# except /UUID and, for a cube, the project file.
delete_scope() {
	if [ "$2" = cube ]; then
		grep -v -x -F -e /UUID -e "/project/$PROJECT.json" "$1" || true
	else
		grep -v -x -F -e /UUID "$1" || true
	fi | sed 's|^/||' | (cd "$SCR" && xargs rm -f)
}

# check_restore LIST TOOL SCENARIO: every listed resource is back, byte for byte.
check_restore() {
	(cd "$META" && xargs sha1sum <"$1.rel") >"$WD/sum.want"
	(cd "$SCR" && xargs sha1sum <"$1.rel" 2>/dev/null) >"$WD/sum.got" || true
	if ! cmp -s "$WD/sum.want" "$WD/sum.got"; then
		c_bad=$(grep -v -x -F -f "$WD/sum.got" "$WD/sum.want" | wc -l | tr -d ' ')
		echo "    WARNING: $2 $3: $c_bad resources not restored exactly, e.g.:" >&2
		grep -v -x -F -f "$WD/sum.got" "$WD/sum.want" | head -n 3 | sed 's/^/      /' >&2
		echo "$N $3 $2 $c_bad" >>"$OUT/restore-failures.txt"
	fi
}

restore_all() { # SCENARIO (restore_cube|restore_project) LIST REPEATS
	r_scen=$1 r_list=$2 r_kind=${1#restore_} r_reps=$3
	# restic: one --include per resource (anchored at the snapshot's root).
	{
		printf 'exec restic --repo "%s" --cache-dir "%s" restore latest --target "%s"' "$RR" "$RC" "$SCR"
		sed 's|.*| --include "&"|' "$r_list" | tr -d '\n'
		echo
	} >"$WD/$r_scen.restic.sh"
	for t in kylin git restic metastore; do
	r_i=1
	while [ "$r_i" -le "$r_reps" ]; do
		r_i=$((r_i + 1))
		[ "$t" = metastore ] || delete_scope "$r_list" "$r_kind"
		case $t in
		kylin)
			if [ "$r_kind" = cube ]; then
				# copy the cube's few files back from the latest backup folder
				measure "$N" "$r_scen" kylin - sh -c 'cd "$1" && xargs cp -a --parents -t "$2" <"$3"' sh "$LATEST_COPY" "$SCR" "$r_list.rel"
			else
				# metastore.sh restore: the whole backup folder is copied back
				measure "$N" "$r_scen" kylin - cp -a "$LATEST_COPY/." "$SCR/"
			fi ;;
		git)
			measure "$N" "$r_scen" git - git --literal-pathspecs --git-dir="$GD" --work-tree="$SCR" restore --source=HEAD --worktree --pathspec-from-file="$r_list.rel" ;;
		restic)
			measure "$N" "$r_scen" restic - sh "$WD/$r_scen.restic.sh" ;;
		metastore)
			both "$r_i" 'ms_restore metastore "$MS" "$MR"' 'ms_restore baseline "$BASE" "$BR"'
			continue ;;
		esac
		check_restore "$r_list" "$t" "$r_scen"
	done
	done
}

# ms_restore TOOL BIN REPO: a timed and checked restore with a metastore
# build (in restore_all).
ms_restore() {
	delete_scope "$r_list" "$r_kind"
	if [ "$r_kind" = cube ]; then
		measure "$N" "$r_scen" "$1" - "$2" -q --metadata-url "$SCR" --repo "$3" restore-cube "$PROJECT" latest --cube "$CUBE"
	else
		measure "$N" "$r_scen" "$1" - "$2" -q --metadata-url "$SCR" --repo "$3" restore-project "$PROJECT" latest
	fi
	check_restore "$r_list" "$1" "$r_scen"
}

# --- the run --------------------------------------------------------------------
rm -f "$OUT/restore-failures.txt"
for N in $SIZES; do
	WD=$OUT/$N
	LOG=$OUT/run-$N.log
	rm -rf "$WD"
	mkdir -p "$WD"
	: >"$LOG"
	META=$WD/meta KB=$WD/kylin_backups GD=$WD/git RR=$WD/restic RC=$WD/restic-cache MR=$WD/metastore.git BR=$WD/baseline.git SCR=$WD/scratch
	TURN=0
	PRUNED=0
	: >"$WD/copies.tsv"
	mkdir -p "$KB"

	log "== $N resources: generating (seed $SEED, shape $SHAPES)"
	"$GEN" generate --out "$META" --resources "$N" --seed "$SEED" --shape "$SHAPES" >>"$LOG"
	row "$N" metastore_size folder "$(du -sb "$META" | cut -f1)"
	git init -q --bare "$GD"
	git --git-dir="$GD" config gc.auto 0
	git --git-dir="$GD" config core.bare false
	git --git-dir="$GD" config user.name bench
	git --git-dir="$GD" config user.email bench@localhost
	restic --repo "$RR" --cache-dir "$RC" init >>"$LOG" 2>&1
	# metastore distrusts files changed within 2 s of its listing (git's racy-clean rule)
	sleep 2

	log "first backup"
	backup_all backup_first 1
	log "second backup, nothing changed"
	backup_all backup_unchanged 1

	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		rr=$(printf '%02d' "$r")
		log "1% churn, round $rr"
		"$GEN" churn --dir "$META" --fraction 0.01 --seed "$r" >>"$LOG"
		sleep 2
		if [ "$r" = 1 ] || [ "$r" = "$ROUNDS" ]; then wb=1; else wb=0; fi
		backup_all "churn_round_$rr" "$wb"
		r=$((r + 1))
	done

	log "repository sizes after $((ROUNDS + 2)) backups ($ROUNDS with churn)"
	row "$N" repo_size git "$(du -sb "$GD" | cut -f1)"
	row "$N" repo_size restic "$(du -sb "$RR" | cut -f1)"
	row "$N" repo_size metastore "$(du -sb "$MR" | cut -f1)"
	[ -z "$BASE" ] || row "$N" repo_size baseline "$(du -sb "$BR" | cut -f1)"
	row "$N" repo_size_cache metastore "$(du -sb "$MR/metastore-cache" 2>/dev/null | cut -f1 || echo 0)"
	row "$N" repo_size_cache restic "$(du -sb "$RC" | cut -f1)"
	# Kylin: the copies made by the churn rounds, each measured right after it was made
	row "$N" repo_size kylin "$(awk -F '\t' '$1 ~ /^churn_round_/ {s += $3} END {printf "%d", s}' "$WD/copies.tsv")"
	row "$N" kylin_copies_deleted_for_space kylin "$PRUNED"
	# the same in blocks allocated (du -sk): small files take whole blocks
	row "$N" repo_alloc git "$(( $(du -sk "$GD" | cut -f1) * 1024 ))"
	row "$N" repo_alloc restic "$(( $(du -sk "$RR" | cut -f1) * 1024 ))"
	row "$N" repo_alloc metastore "$(( $(du -sk "$MR" | cut -f1) * 1024 ))"
	row "$N" repo_alloc kylin "$(awk -F '\t' '$1 ~ /^churn_round_/ {s += $4} END {printf "%d", s * 1024}' "$WD/copies.tsv")"
	row "$N" repo_alloc folder "$(( $(du -sk "$META" | cut -f1) * 1024 ))"
	measure "$N" tar_zst zstd "$WD/meta.tar.zst" sh -c 'tar cf - -C "$1" . | zstd -3 -q -c >"$2"' sh "$META" "$WD/meta.tar.zst"
	rm -f "$WD/meta.tar.zst"

	log "diff of the last two snapshots"
	ids=$("$MS" --json --repo "$MR" log --scope system -n 2 | sed -n 's/^    "id": "\([0-9a-f]*\)",$/\1/p')
	new_id=$(echo "$ids" | sed -n 1p) old_id=$(echo "$ids" | sed -n 2p)
	[ -n "$old_id" ] && [ -n "$new_id" ] || { echo "run.sh: cannot read snapshot ids from metastore log" >&2; exit 1; }
	rids=$(restic --repo "$RR" --cache-dir "$RC" snapshots --json | grep -o '"short_id":"[0-9a-f]*"' | sed 's/.*:"\(.*\)"/\1/' | tail -n 2)
	r_old=$(echo "$rids" | sed -n 1p) r_new=$(echo "$rids" | sed -n 2p)
	i=1
	if [ -n "$BASE" ]; then
		bids=$("$BASE" --json --repo "$BR" log --scope system -n 2 | sed -n 's/^    "id": "\([0-9a-f]*\)",$/\1/p')
		b_new=$(echo "$bids" | sed -n 1p) b_old=$(echo "$bids" | sed -n 2p)
		[ -n "$b_old" ] && [ -n "$b_new" ] || { echo "run.sh: cannot read snapshot ids from the baseline's log" >&2; exit 1; }
	fi
	while [ "$i" -le "$REPEAT" ]; do
		both "$i" 'measure "$N" diff metastore - "$MS" --repo "$MR" diff "$old_id" "$new_id"' \
			'measure "$N" diff baseline - "$BASE" --repo "$BR" diff "$b_old" "$b_new"'
		both "$i" 'measure "$N" diff_stat metastore - "$MS" --repo "$MR" diff --stat "$old_id" "$new_id"' \
			'measure "$N" diff_stat baseline - "$BASE" --repo "$BR" diff --stat "$b_old" "$b_new"'
		measure "$N" diff git - git --git-dir="$GD" diff HEAD~1 HEAD
		measure "$N" diff_stat git - git --git-dir="$GD" diff --stat HEAD~1 HEAD
		measure "$N" diff restic - restic --repo "$RR" --cache-dir "$RC" diff "$r_old" "$r_new"
		i=$((i + 1))
	done

	log "restores from the latest snapshot"
	PROJECT=$(ls -1 "$META/project" | sed -n 's/\.json$//p' | head -n 1)
	# the project's first cube: the "realization" after a "type" : "CUBE"
	CUBE=$(awk '/"type" *: *"CUBE"/ {c = 1; next} c && /"realization"/ {sub(/.*"realization" *: *"/, ""); sub(/".*/, ""); print; exit} {c = 0}' "$META/project/$PROJECT.json")
	[ -n "$PROJECT" ] && [ -n "$CUBE" ] || { echo "run.sh: no project or cube found in $META/project" >&2; exit 1; }
	log "  project $PROJECT, cube $CUBE"
	rm -rf "$SCR"
	cp -a "$META" "$SCR"
	"$MS" --json --metadata-url "$SCR" --repo "$MR" restore-cube "$PROJECT" latest --cube "$CUBE" --dry-run | plan_paths >"$WD/cube.list"
	"$MS" --json --metadata-url "$SCR" --repo "$MR" restore-project "$PROJECT" latest --dry-run | plan_paths >"$WD/project.list"
	sed 's|^/||' "$WD/cube.list" >"$WD/cube.list.rel"
	sed 's|^/||' "$WD/project.list" >"$WD/project.list.rel"
	row "$N" restore_cube_resources "$CUBE" "$(wc -l <"$WD/cube.list" | tr -d ' ')"
	row "$N" restore_project_resources "$PROJECT" "$(wc -l <"$WD/project.list" | tr -d ' ')"
	restore_all restore_cube "$WD/cube.list" "$REPEAT"
	restore_all restore_project "$WD/project.list" 1

	log "git gc"
	measure "$N" gc git "$GD" git --git-dir="$GD" gc -q
	row "$N" repo_alloc_after_gc git "$(( $(du -sk "$GD" | cut -f1) * 1024 ))"

	if [ "$KEEP" = 0 ]; then
		log "cleaning up $WD"
		rm -rf "$WD"
	fi
done
{
	echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	[ ! -r /proc/pressure/cpu ] || echo "cpu pressure at end: $(head -n 1 /proc/pressure/cpu)"
} >>"$MACHINE"

# --- summary --------------------------------------------------------------------
rm -f "$TF"
summarize "$TSV" "$MACHINE" "$ROUNDS" >"$OUT/summary.md"
cat "$OUT/summary.md"
echo
echo "results: $TSV, summary: $OUT/summary.md"
