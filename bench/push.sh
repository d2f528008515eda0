#!/bin/bash
# bench/push.sh: metastore push and pull against the git CLI (and restic copy
# where restic is installed), on one generated Kylin metastore, in one run:
#
#   first push        the repository after its first backup, to an empty remote
#   push after churn  after 1% churn (kylin-metagen churn --fraction 0.01) and
#                     one more backup
#
# with, side by side:
#
#   metastore push    to a bare repository over file:// and over ssh (Debian's
#                     sshd, started on a loopback port with generated keys), and
#                     to S3 (versitygw in posix mode on loopback, if installed)
#   git push          the git CLI pushing the same repository (its branches and
#                     tags) to another bare repository, over file:// and ssh
#   restic copy       restic copying a restic repository of the same metastore
#                     to a second local one (if restic is installed): what restic
#                     offers for an off-machine copy
#
# and the way back: metastore pull from the file:// remote into a new
# repository, against git fetch of the same remote.
#
# Usage: bench/push.sh [--resources 100000] [--out DIR] [--keep]
#
# Output in OUT (default bench/_out/push, git-ignored): results.tsv (scenario,
# tool, wall_s, user_s, sys_s, maxrss_kb, bytes sent or received), summary.md,
# machine.txt, run.log. Every step is timed with bench/timeit after a sync.
# Needs git, ssh, ssh-keygen, /usr/sbin/sshd, Go; restic and versitygw are
# optional. Installs nothing.
set -eu

N=100000
OUT=
KEEP=0
while [ $# -gt 0 ]; do
	case $1 in
	--resources) N=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	*) echo "usage: bench/push.sh [--resources N] [--out DIR] [--keep]" >&2; exit 2 ;;
	esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ -n "$OUT" ] || OUT=$ROOT/bench/_out/push
GO=$(command -v go || echo /usr/local/go/bin/go)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BIN=$OUT/bin
WD=$OUT/work
TSV=$OUT/results.tsv
LOG=$OUT/run.log
TF=$OUT/.time
rm -rf "$WD"
mkdir -p "$BIN" "$WD"
: >"$LOG"
printf 'scenario\ttool\twall_s\tuser_s\tsys_s\tmaxrss_kb\tbytes\n' >"$TSV"

log() { printf '%s  %s\n' "$(date '+%H:%M:%S')" "$*"; }

log "building metastore, kylin-metagen and timeit into $BIN"
(cd "$ROOT" && "$GO" build -o "$BIN/metastore" ./cmd/metastore && "$GO" build -o "$BIN/kylin-metagen" ./cmd/kylin-metagen && "$GO" build -o "$BIN/timeit" ./bench/timeit)
MS=$BIN/metastore

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "command: bench/push.sh --resources $N"
	echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
	echo "kernel: $(uname -sr)"
	echo "go: $("$GO" version | cut -d' ' -f3-)"
	echo "git: $(git --version | sed 's/^git version //')"
	echo "openssh: $(/usr/sbin/sshd -V 2>&1 | head -n 1)"
	command -v restic >/dev/null && echo "restic: $(restic version | head -n 1)"
	command -v versitygw >/dev/null && echo "versitygw: $("$GO" version -m "$(command -v versitygw)" | awk '$1 == "mod" {print $3; exit}')"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt"

# measure SCENARIO TOOL BYTES CMD...: times CMD (after a sync) and appends a
# row; BYTES is a number, or "json" to take "bytes" from CMD's --json output.
measure() {
	m_scen=$1 m_tool=$2 m_bytes=$3
	shift 3
	sync
	echo "### $m_scen $m_tool: $*" >>"$LOG"
	if ! "$BIN/timeit" -o "$TF" "$@" >"$OUT/.stdout" 2>>"$LOG"; then
		cat "$OUT/.stdout" >>"$LOG"
		echo "push.sh: $m_scen with $m_tool failed; see $LOG" >&2
		tail -n 20 "$LOG" >&2
		exit 1
	fi
	cat "$OUT/.stdout" >>"$LOG"
	if [ "$m_bytes" = json ]; then
		m_bytes=$(sed -n 's/^  "bytes": \([0-9]*\),\{0,1\}$/\1/p' "$OUT/.stdout" | head -n 1)
	fi
	tail -n 1 "$TF" | awk -v sc="$m_scen" -v t="$m_tool" -v b="$m_bytes" 'BEGIN {OFS="\t"} {print sc, t, $1, $2, $3, $4, b}' >>"$TSV"
	tail -n 1 "$TSV" | awk -F '\t' '{printf "    %-18s %-22s %8.3fs wall %8.3fs cpu %7.1f MB  %s bytes\n", $1, $2, $3, $4+$5, $6/1024, $7}'
}
dirbytes() { du -sb "$1" | cut -f1; }

# --- the metastore and its repository --------------------------------------
META=$WD/meta
MR=$WD/snapshots.git
log "generating $N resources"
"$BIN/kylin-metagen" generate --out "$META" --resources "$N" --seed 1 >>"$LOG"
sleep 2
log "first backup"
"$MS" -q --metadata-url "$META" --repo "$MR" backup >>"$LOG"

# --- servers ---------------------------------------------------------------
free_port() {
	for p in $(shuf -i 20000-60000 -n 50); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "no free port" >&2
	exit 1
}
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	[ "$KEEP" = 1 ] || rm -rf "$WD"
}
trap cleanup EXIT

SSHD=$WD/sshd
mkdir -p "$SSHD/home/.ssh" /run/sshd 2>/dev/null || mkdir -p "$SSHD/home/.ssh"
chmod 700 "$SSHD/home/.ssh"
ssh-keygen -q -t ed25519 -N '' -f "$SSHD/host" 
ssh-keygen -q -t ed25519 -N '' -f "$SSHD/home/.ssh/id_ed25519"
cp "$SSHD/home/.ssh/id_ed25519.pub" "$SSHD/authorized_keys"
SSH_PORT=$(free_port)
cat >"$SSHD/config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $SSHD/host
PidFile $SSHD/pid
AuthorizedKeysFile $SSHD/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin yes
StrictModes no
UsePAM no
LogLevel ERROR
EOF
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1-2 "$SSHD/host.pub")" >"$SSHD/known_hosts"
/usr/sbin/sshd -D -e -f "$SSHD/config" 2>>"$LOG" &
PIDS="$PIDS $!"
SSH_USER=$(id -un)
SSH_ENV="HOME=$SSHD/home SSH_KNOWN_HOSTS=$SSHD/known_hosts SSH_AUTH_SOCK="
GIT_SSH="ssh -i $SSHD/home/.ssh/id_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile=$SSHD/known_hosts -o StrictHostKeyChecking=yes"

S3=0
if command -v versitygw >/dev/null; then
	S3=1
	S3_PORT=$(free_port)
	mkdir -p "$WD/s3/bench"
	versitygw --access bench --secret bench-secret --port "127.0.0.1:$S3_PORT" --quiet posix "$WD/s3" >>"$LOG" 2>&1 &
	PIDS="$PIDS $!"
	S3_ENV="AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:$S3_PORT"
fi
RESTIC=0
if command -v restic >/dev/null; then
	RESTIC=1
	export RESTIC_PASSWORD=bench RESTIC_FROM_PASSWORD=bench
	restic --repo "$WD/restic-src" init -q >>"$LOG"
	restic --repo "$WD/restic-dst" init -q >>"$LOG"
	(cd "$META" && restic --repo "$WD/restic-src" --cache-dir "$WD/restic-cache" backup --quiet --host bench . >>"$LOG")
fi
sleep 1

for r in ms-file git-file ms-ssh git-ssh; do git init -q --bare "$WD/$r.git"; done

pushes() { # SCENARIO
	measure "$1" "metastore push file" json "$MS" -q --json --repo "$MR" push "$WD/ms-file.git"
	b=$(dirbytes "$WD/git-file.git")
	measure "$1" "git push file" 0 git --git-dir "$MR" push -q "file://$WD/git-file.git" 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*'
	fix_bytes $(( $(dirbytes "$WD/git-file.git") - b ))
	measure "$1" "metastore push ssh" json env $SSH_ENV "$MS" -q --json --repo "$MR" push "ssh://$SSH_USER@127.0.0.1:$SSH_PORT$WD/ms-ssh.git"
	b=$(dirbytes "$WD/git-ssh.git")
	measure "$1" "git push ssh" 0 env GIT_SSH_COMMAND="$GIT_SSH" git --git-dir "$MR" push -q "ssh://$SSH_USER@127.0.0.1:$SSH_PORT$WD/git-ssh.git" 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*'
	fix_bytes $(( $(dirbytes "$WD/git-ssh.git") - b ))
	if [ "$S3" = 1 ]; then
		measure "$1" "metastore push s3" json env $S3_ENV "$MS" -q --json --repo "$MR" push s3://bench/kylin
	fi
	if [ "$RESTIC" = 1 ]; then
		b=$(dirbytes "$WD/restic-dst")
		measure "$1" "restic copy" 0 restic --repo "$WD/restic-dst" --cache-dir "$WD/restic-cache-dst" copy --quiet --from-repo "$WD/restic-src"
		fix_bytes $(( $(dirbytes "$WD/restic-dst") - b ))
	fi
}
# fix_bytes N: sets the last row's bytes (the growth of the destination).
fix_bytes() {
	awk -F '\t' -v b="$1" 'BEGIN {OFS="\t"} {if (NR == n) $7 = b; print}' n="$(wc -l <"$TSV")" "$TSV" >"$TSV.tmp" && mv "$TSV.tmp" "$TSV"
}
pulls() { # SCENARIO
	measure "$1" "metastore pull file" json "$MS" -q --json --repo "$WD/pulled.git" pull "$WD/ms-file.git"
	[ -d "$WD/fetched.git" ] || git init -q --bare "$WD/fetched.git"
	b=$(dirbytes "$WD/fetched.git")
	measure "$1" "git fetch file" 0 git --git-dir "$WD/fetched.git" fetch -q "file://$WD/ms-file.git" '+refs/metastore/*:refs/remotes/origin/*'
	fix_bytes $(( $(dirbytes "$WD/fetched.git") - b ))
}

log "first push"
pushes first_push
log "first pull"
pulls first_pull

log "1% churn, then a backup"
"$BIN/kylin-metagen" churn --dir "$META" --fraction 0.01 --seed 1 >>"$LOG"
sleep 2
"$MS" -q --metadata-url "$META" --repo "$MR" backup >>"$LOG"
if [ "$RESTIC" = 1 ]; then
	(cd "$META" && restic --repo "$WD/restic-src" --cache-dir "$WD/restic-cache" backup --quiet --host bench . >>"$LOG")
fi
log "push after churn"
pushes churn_push
log "pull after churn"
pulls churn_pull

# --- summary ---------------------------------------------------------------
awk -F '\t' '
NR == 1 { next }
{ k = $1 SUBSEP $2; wall[k] = $3; cpu[k] = $4 + $5; rss[k] = $6; bytes[k] = $7; if (!($2 in seen)) { seen[$2] = 1; tools[++n] = $2 } }
function mib(b) { return (b == "" || b == "-") ? "-" : sprintf("%.1f MiB", b / 1048576) }
function r(a, b) { return (b + 0 == 0) ? "-" : sprintf("%.1f%%", 100 * a / b) }
END {
	print "| tool | first: wall | CPU | sent | after 1% churn: wall | CPU | sent | churn / first (wall) |"
	print "|---|--:|--:|--:|--:|--:|--:|--:|"
	for (i = 1; i <= n; i++) {
		t = tools[i]; f = "first_push" SUBSEP t; c = "churn_push" SUBSEP t
		if (!(f in wall)) { f = "first_pull" SUBSEP t; c = "churn_pull" SUBSEP t }
		printf "| %s | %.2f s | %.2f s | %s | %.3f s | %.3f s | %s | %s |\n", t, wall[f], cpu[f], mib(bytes[f]), wall[c], cpu[c], mib(bytes[c]), r(wall[c], wall[f])
	}
}' "$TSV" >"$OUT/summary.md"
cat "$OUT/summary.md"
