#!/bin/sh
# bench/million.sh: metastore beside the git CLI on one large job-heavy Kylin
# metastore (issue 16, goal 4: 1,000,000 resources, about 6 GB), in one run.
#
# Usage: bench/million.sh [--resources N] [--out DIR] [--metagen BIN] [--no-fsck] [--profile] [--parallel] [--keep]
#
#   --resources N  resources to generate (default 1000000), kylin-metagen
#                  generate --shape jobs --seed 1
#   --out DIR      working folder (default bench/_out/million); needs about
#                  2.5x the metastore's size free (the metastore, the git
#                  repository, the metastore repository; restores go into a
#                  hard-linked copy)
#   --metagen BIN  a kylin-metagen that knows --shape jobs (default: built
#                  from this checkout)
#   --no-fsck      skip git fsck (beside verify), which is slow on a million
#                  loose objects
#   --profile      every metastore step also writes a CPU profile
#                  (DIR/prof/STEP.cpu, metastore --cpuprofile) and logs the Go
#                  collector's trace (GODEBUG=gctrace=1: the live heap after
#                  each collection) into DIR/prof/STEP.gc
#   --parallel     run git's and metastore's command of each step at the
#                  same time instead of one after the other (on a machine
#                  shared with other work: both then meet the same load, and
#                  the run takes half as long)
#   --keep         keep the working folders
#
# If DIR/meta exists and DIR/generated holds N, the metastore is reused as it
# is (generate takes longer than anything measured here); a metastore that
# was churned is regenerated.
#
# Steps, each timed with /usr/bin/time -v (wall, user, sys, maximum resident
# set size) after a sync, git first, then metastore:
#
#   backup_first       git add -A && git commit      | metastore backup
#                      (-q --metadata-url META --repo REPO)
#   backup_unchanged   the same, nothing changed
#   backup_churn       the same after kylin-metagen churn --fraction 0.01 --seed 1
#   diff, diff_stat    git diff [--stat] HEAD~1 HEAD | metastore diff [--stat] A B
#                      (output to /dev/null)
#   restore_cube       git restore --pathspec-from-file | metastore restore-cube
#   restore_project    git restore --pathspec-from-file | metastore restore-project
#                      (the first project and its first cube; each into a
#                      hard-linked copy of the metastore from which the
#                      scope's resources were deleted, checked byte for byte)
#   verify             git fsck --connectivity-only | metastore verify
#   verify_read_data   git fsck                     | metastore verify --read-data
#
# Output in DIR: results.tsv (scenario tool wall_s user_s sys_s maxrss_kb),
# summary.md (the table with ratios to git), run.log (every command's output
# and GNU time's full report).
#
# Needs git, Go (go on PATH or /usr/local/go/bin/go), GNU time (/usr/bin/time).
set -eu

N=1000000
OUT=
GEN=
FSCK=1
KEEP=0
PROFILE=0
PARALLEL=0
usage() {
	sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--resources) N=$2; shift 2 ;;
	--resources=*) N=${1#*=}; shift ;;
	--out) OUT=$2; shift 2 ;;
	--out=*) OUT=${1#*=}; shift ;;
	--metagen) GEN=$2; shift 2 ;;
	--metagen=*) GEN=${1#*=}; shift ;;
	--no-fsck) FSCK=0; shift ;;
	--profile) PROFILE=1; shift ;;
	--parallel) PARALLEL=1; shift ;;
	--keep) KEEP=1; shift ;;
	-h|--help) usage ;;
	*) echo "million.sh: unknown argument $1" >&2; usage ;;
	esac
done
case $N in ''|*[!0-9]*) echo "million.sh: --resources must be an integer" >&2; exit 2 ;; esac
[ -x /usr/bin/time ] || { echo "million.sh: needs GNU time (/usr/bin/time; apt-get install time)" >&2; exit 2; }
command -v git >/dev/null 2>&1 || { echo "million.sh: needs git" >&2; exit 2; }
GO=$(command -v go 2>/dev/null || true)
[ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; } || true

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ -n "$OUT" ] || OUT=$ROOT/bench/_out/million
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BIN=$OUT/bin
mkdir -p "$BIN"
echo "building metastore into $BIN"
(cd "$ROOT" && "$GO" build -o "$BIN/metastore" ./cmd/metastore)
if [ -z "$GEN" ]; then
	(cd "$ROOT" && "$GO" build -o "$BIN/kylin-metagen" ./cmd/kylin-metagen)
	GEN=$BIN/kylin-metagen
fi
"$GEN" generate --help 2>&1 | grep -q -- --shape || { echo "million.sh: $GEN has no --shape (give --metagen BIN)" >&2; exit 2; }
MS=$BIN/metastore
# $MSR SCENARIO ARGS...: metastore ARGS; with --profile, also its CPU
# profile and GC trace (a script, so that GNU time measures metastore itself:
# it execs it).
MSR=$BIN/ms-run
cat >"$MSR" <<EOF
#!/bin/sh
s=\$1
shift
if [ "$PROFILE" = 1 ]; then
	mkdir -p "$OUT/prof"
	GODEBUG=gctrace=1 exec "$MS" --cpuprofile "$OUT/prof/\$s.cpu" "\$@" 2>"$OUT/prof/\$s.gc"
fi
exec "$MS" "\$@"
EOF
chmod +x "$MSR"

export GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost

META=$OUT/meta GD=$OUT/git MR=$OUT/metastore.git SCR=$OUT/scratch
LOG=$OUT/run.log TSV=$OUT/results.tsv
: >"$LOG"
printf 'scenario\ttool\twall_s\tuser_s\tsys_s\tmaxrss_kb\n' >"$TSV"
log() { printf '%s  %s\n' "$(date -u '+%H:%M:%S')" "$*"; }

# measure SCENARIO TOOL CMD...: CMD under GNU time after a sync; its output
# goes to the log, a row to the TSV.
measure() {
	m_scen=$1 m_tool=$2 TF=$OUT/.time.$2
	shift 2
	sync
	echo "### $m_scen $m_tool: $*" >>"$LOG"
	if ! /usr/bin/time -v -o "$TF" "$@" >>"$LOG" 2>&1; then
		cat "$TF" >>"$LOG"
		echo "million.sh: $m_scen with $m_tool failed; see $LOG:" >&2
		tail -n 30 "$LOG" >&2
		exit 1
	fi
	cat "$TF" >>"$LOG"
	awk -F': ' -v sc="$m_scen" -v t="$m_tool" '
		/User time/ {u = $2} /System time/ {s = $2} /Maximum resident/ {m = $2}
		/Elapsed \(wall clock\)/ {n = split($NF, a, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + a[i]}
		END {printf "%s\t%s\t%.2f\t%.2f\t%.2f\t%d\n", sc, t, w, u, s, m}' "$TF" >>"$TSV"
	tail -n 1 "$TSV" | awk -F '\t' '{printf "    %-18s %-9s %9.2fs wall %9.2fs cpu %8.1f MB\n", $1, $2, $3, $4+$5, $6/1024}'
}

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "command: bench/million.sh --resources $N"
	echo "cpu: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "git: $(git --version | sed 's/^git version //'); go: $("$GO" version | sed 's/^go version //')"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt"

if [ -d "$META" ] && [ "$(cat "$OUT/generated" 2>/dev/null)" = "$N" ]; then
	log "reusing the generated metastore in $META"
else
	rm -rf "$META" "$OUT/generated"
	log "generating $N resources (job-heavy shape, seed 1)"
	"$GEN" generate --out "$META" --resources "$N" --seed 1 --shape jobs --json >"$OUT/generate.json"
	echo "$N" >"$OUT/generated"
fi
rm -rf "$GD" "$MR" "$SCR" "$SCR.git" "$SCR.metastore"
# kylin-metagen's report: resources and bytes
printf 'metastore_files\t%s\nmetastore_bytes\t%s\n' "$(sed -n 's/^  "resources": \([0-9]*\),$/\1/p' "$OUT/generate.json")" "$(sed -n 's/^  "bytes": \([0-9]*\),$/\1/p' "$OUT/generate.json")" >"$OUT/sizes.tsv"
git init -q --bare "$GD"
git --git-dir="$GD" config gc.auto 0
git --git-dir="$GD" config core.bare false
# metastore re-reads files changed within 2 s of its listing (git's racy-clean rule)
sleep 2

# pair GIT_CMD METASTORE_CMD: the two steps (shell code), in turn or at once.
pair() {
	if [ "$PARALLEL" = 1 ]; then
		eval "$1" &
		p_git=$!
		eval "$2" &
		p_ms=$!
		p_ok=1
		wait "$p_git" || p_ok=0
		wait "$p_ms" || p_ok=0
		[ "$p_ok" = 1 ] || exit 1
	else
		eval "$1"
		eval "$2"
	fi
}
git_backup() {
	measure "$1" git sh -c 'git --git-dir="$1" --work-tree="$2" add -A && git --git-dir="$1" --work-tree="$2" commit -q --allow-empty -m "$3"' sh "$GD" "$META" "$1"
}
ms_backup() {
	measure "$1" metastore "$MSR" "$1" -q --metadata-url "$META" --repo "$MR" backup -m "$1"
}
log "first backup"
pair 'git_backup backup_first' 'ms_backup backup_first'
log "second backup, nothing changed"
pair 'git_backup backup_unchanged' 'ms_backup backup_unchanged'
log "1% churn"
echo churned >"$OUT/generated"
"$GEN" churn --dir "$META" --fraction 0.01 --seed 1 >>"$LOG"
sleep 2
pair 'git_backup backup_churn' 'ms_backup backup_churn'
printf 'git_repo_bytes\t%s\nmetastore_repo_bytes\t%s\n' "$(du -sb "$GD" | cut -f1)" "$(du -sb "$MR" | cut -f1)" >>"$OUT/sizes.tsv"

log "diff of the last two snapshots"
ids=$("$MS" --json --repo "$MR" log --scope system -n 2 | sed -n 's/^    "id": "\([0-9a-f]*\)",$/\1/p')
new_id=$(echo "$ids" | sed -n 1p) old_id=$(echo "$ids" | sed -n 2p)
[ -n "$old_id" ] && [ -n "$new_id" ] || { echo "million.sh: cannot read snapshot ids from metastore log" >&2; exit 1; }
pair 'measure diff git sh -c "exec \"\$@\" >/dev/null" sh git --git-dir="$GD" diff HEAD~1 HEAD' \
	'measure diff metastore sh -c "exec \"\$@\" >/dev/null" sh "$MSR" diff --repo "$MR" diff "$old_id" "$new_id"'
pair 'measure diff_stat git sh -c "exec \"\$@\" >/dev/null" sh git --git-dir="$GD" diff --stat HEAD~1 HEAD' \
	'measure diff_stat metastore sh -c "exec \"\$@\" >/dev/null" sh "$MSR" diff_stat --repo "$MR" diff --stat "$old_id" "$new_id"'

log "restores from the latest snapshot"
PROJECT=$(ls -1 "$META/project" | sed -n 's/\.json$//p' | head -n 1)
CUBE=$(awk '/"type" *: *"CUBE"/ {c = 1; next} c && /"realization"/ {sub(/.*"realization" *: *"/, ""); sub(/".*/, ""); print; exit} {c = 0}' "$META/project/$PROJECT.json")
[ -n "$PROJECT" ] && [ -n "$CUBE" ] || { echo "million.sh: no project or cube found in $META/project" >&2; exit 1; }
log "  project $PROJECT, cube $CUBE; a hard-linked scratch copy per tool (restores write new files and rename them)"
cp -al "$META" "$SCR.git"
cp -al "$META" "$SCR.metastore"
plan_paths() { sed -n 's/^ *"path": "\(.*\)",\{0,1\}$/\1/p'; }
"$MS" --json --metadata-url "$SCR.metastore" --repo "$MR" restore-cube "$PROJECT" latest --cube "$CUBE" --dry-run | plan_paths >"$OUT/cube.list"
"$MS" --json --metadata-url "$SCR.metastore" --repo "$MR" restore-project "$PROJECT" latest --dry-run | plan_paths >"$OUT/project.list"
sed 's|^/||' "$OUT/cube.list" >"$OUT/cube.list.rel"
sed 's|^/||' "$OUT/project.list" >"$OUT/project.list.rel"
printf 'cube\t%s\t%s\nproject\t%s\t%s\n' "$CUBE" "$(wc -l <"$OUT/cube.list")" "$PROJECT" "$(wc -l <"$OUT/project.list")" >>"$OUT/sizes.tsv"
# delete_scope KIND TOOL: removes the scope's resources from the tool's
# scratch copy, except /UUID and, for a cube, the project file.
delete_scope() {
	grep -v -x -F -e /UUID -e "/project/$PROJECT.json" "$OUT/$1.list" | sed 's|^/||' | (cd "$SCR.$2" && xargs rm -f)
}
# check_restore KIND TOOL: every resource of the scope is back, byte for byte.
check_restore() {
	(cd "$META" && xargs sha1sum <"$OUT/$1.list.rel") >"$OUT/sum.want.$2"
	(cd "$SCR.$2" && xargs sha1sum <"$OUT/$1.list.rel" 2>/dev/null) >"$OUT/sum.got.$2" || true
	if ! cmp -s "$OUT/sum.want.$2" "$OUT/sum.got.$2"; then
		echo "    WARNING: $2 restore_$1: resources not restored exactly" >&2
		echo "restore_$1 $2" >>"$OUT/restore-failures.txt"
	fi
}
rm -f "$OUT/restore-failures.txt"
for kind in cube project; do
	delete_scope "$kind" git
	delete_scope "$kind" metastore
	if [ "$kind" = cube ]; then
		ms_restore='measure restore_cube metastore "$MSR" restore_cube -q --metadata-url "$SCR.metastore" --repo "$MR" restore-cube "$PROJECT" latest --cube "$CUBE"'
	else
		ms_restore='measure restore_project metastore "$MSR" restore_project -q --metadata-url "$SCR.metastore" --repo "$MR" restore-project "$PROJECT" latest'
	fi
	pair 'measure "restore_$kind" git git --literal-pathspecs --git-dir="$GD" --work-tree="$SCR.git" restore --source=HEAD --worktree --pathspec-from-file="$OUT/$kind.list.rel"' "$ms_restore"
	check_restore "$kind" git
	check_restore "$kind" metastore
done
rm -rf "$SCR.git" "$SCR.metastore"

log "verify"
if [ "$FSCK" = 1 ]; then
	pair 'measure verify git git --git-dir="$GD" fsck --connectivity-only --no-dangling' 'measure verify metastore "$MSR" verify -q --repo "$MR" verify'
	pair 'measure verify_read_data git git --git-dir="$GD" fsck --no-dangling' 'measure verify_read_data metastore "$MSR" verify_read_data -q --repo "$MR" verify --read-data'
else
	measure verify metastore "$MSR" verify -q --repo "$MR" verify
	measure verify_read_data metastore "$MSR" verify_read_data -q --repo "$MR" verify --read-data
fi

# --- summary ----------------------------------------------------------------------
awk -F '\t' -v files="$(sed -n 's/^metastore_files\t//p' "$OUT/sizes.tsv")" -v bytes="$(sed -n 's/^metastore_bytes\t//p' "$OUT/sizes.tsv")" '
NR == 1 { next }
{ if (!($1 in seen)) { seen[$1] = 1; S[++n] = $1 } w[$1, $2] = $3; c[$1, $2] = $4 + $5; m[$1, $2] = $6 }
function r(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "-" : sprintf("%.2fx", a / b) }
function f(x) { return x == "" ? "-" : sprintf("%.2f", x) }
function mb(x) { return x == "" ? "-" : sprintf("%.0f", x / 1024) }
END {
	printf "%d resources, %.2f GB\n\n", files, bytes / 1e9
	print "| step | git wall s | metastore wall s | metastore / git | git CPU s | metastore CPU s | git peak MB | metastore peak MB |"
	print "|---|--:|--:|--:|--:|--:|--:|--:|"
	for (i = 1; i <= n; i++) { s = S[i]
		printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", s, f(w[s, "git"]), f(w[s, "metastore"]), r(w[s, "metastore"], w[s, "git"]), f(c[s, "git"]), f(c[s, "metastore"]), mb(m[s, "git"]), mb(m[s, "metastore"]) }
}' "$TSV" >"$OUT/summary.md"
cat "$OUT/sizes.tsv" >>"$OUT/summary.md"
cat "$OUT/summary.md"
[ ! -s "$OUT/restore-failures.txt" ] || { echo "million.sh: restore failures: $(cat "$OUT/restore-failures.txt")" >&2; exit 1; }
if [ "$KEEP" = 0 ]; then
	rm -rf "$GD" "$MR" "$META" "$OUT/generated" "$OUT/generate.json"
fi
