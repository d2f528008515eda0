#!/bin/sh
# bench/prune.sh: repository size over simulated days of 1% churn, with
# metastore (backup every day; prune at the end, and every --prune-every
# days if given), next to git (add -A && commit every day; git gc
# --aggressive at the end), restic (backup every day; restic prune at the
# end) and one tar | zstd -3 of the metastore, all on the same folder.
#
# Usage: bench/prune.sh [--resources N] [--shape default|jobs] [--days D]
#                       [--prune-every K] [--metagen BIN] [--out DIR]
#                       [--metastore-only] [--keep]
#
# --metastore-only leaves git and restic out (a quick measure of the goal);
# --keep keeps the working folders.
#
# Output: OUT/sizes.tsv (day tool bytes) and OUT/summary.md; the working
# folders are deleted at the end. Needs git, zstd, Go; restic if installed.
# Run it with nice -n 10 on a shared machine.
set -eu
N=10000
SHAPE=default
DAYS=10
EVERY=0
METAGEN=
OUT=
ONLY=0
KEEP=0
while [ $# -gt 0 ]; do
	case $1 in
	--resources) N=$2; shift 2 ;;
	--shape) SHAPE=$2; shift 2 ;;
	--days) DAYS=$2; shift 2 ;;
	--prune-every) EVERY=$2; shift 2 ;;
	--metagen) METAGEN=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--metastore-only) ONLY=1; shift ;;
	--keep) KEEP=1; shift ;;
	*) echo "bench/prune.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/_out/prune-$SHAPE-$N}
GO=$(command -v go || echo /usr/local/go/bin/go)
rm -rf "$OUT"
mkdir -p "$OUT/bin"
(cd "$ROOT" && "$GO" build -o "$OUT/bin/metastore" ./cmd/metastore)
if [ -z "$METAGEN" ]; then
	(cd "$ROOT" && "$GO" build -o "$OUT/bin/kylin-metagen" ./cmd/kylin-metagen)
	METAGEN=$OUT/bin/kylin-metagen
fi
SHAPEFLAG=
[ "$SHAPE" = default ] || SHAPEFLAG="--shape $SHAPE"
META=$OUT/meta
REPO=$OUT/snap.git
GIT=$OUT/git.git
RESTIC=$OUT/restic
MS="$OUT/bin/metastore -q --metadata-url $META --repo $REPO"
TSV=$OUT/sizes.tsv
LOG=$OUT/run.log
: >"$TSV"
export RESTIC_PASSWORD=bench GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@b
HAVE_RESTIC=0
[ $ONLY = 0 ] && command -v restic >/dev/null && HAVE_RESTIC=1
HAVE_GIT=$((1 - ONLY))

size() { du -sb "$@" | awk '{s += $1} END {print s}'; }
# the metastore repository without its change cache (metastore-cache/)
mssize() { size "$REPO/objects" "$REPO/refs" "$REPO/config" "$REPO/HEAD"; }
now() { date +%s.%N; }
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$TSV"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }

"$METAGEN" generate --out "$META" --resources "$N" --seed 1 $SHAPEFLAG >>"$LOG"
if [ $ONLY = 0 ]; then
	git init -q --bare "$GIT"
	git --git-dir="$GIT" config gc.auto 0
fi
[ $HAVE_RESTIC = 1 ] && restic init -q --repo "$RESTIC" >>"$LOG"

backup_all() {
	sleep 2 # metastore re-reads files changed within 2 s of its listing
	$MS backup >>"$LOG"
	if [ $HAVE_GIT = 1 ]; then
		git --git-dir="$GIT" --work-tree="$META" add -A
		git --git-dir="$GIT" --work-tree="$META" commit -q --allow-empty -m "day $1"
		record "$1" git "$(size "$GIT")"
	fi
	[ $HAVE_RESTIC = 1 ] && (cd "$META" && restic backup -q --repo "$RESTIC" . >>"$LOG")
	record "$1" metastore "$(mssize)"
	[ $HAVE_RESTIC = 1 ] && record "$1" restic "$(size "$RESTIC")"
	return 0
}

backup_all 0
d=1
while [ $d -le "$DAYS" ]; do
	"$METAGEN" churn --dir "$META" --fraction 0.01 --seed "$d" >>"$LOG"
	backup_all "$d"
	if [ "$EVERY" -gt 0 ] && [ $((d % EVERY)) -eq 0 ] && [ $d -lt "$DAYS" ]; then
		$MS prune >>"$LOG"
		record "$d" metastore_pruned "$(mssize)"
	fi
	d=$((d + 1))
done

t=$(now); tar cf - -C "$META" . | zstd -3 -q -o "$OUT/meta.tar.zst"; t2=$(now)
record "$DAYS" tar_zst "$(size "$OUT/meta.tar.zst")"
echo "tar | zstd -3: $(secs "$t" "$t2") s" >>"$LOG"
t=$(now); $MS prune >>"$LOG"; t2=$(now)
PRUNE_S=$(secs "$t" "$t2")
record "$DAYS" metastore_pruned "$(mssize)"
t=$(now); $MS verify --read-data >>"$LOG"; t2=$(now)
VERIFY_S=$(secs "$t" "$t2")
GC_S=-
if [ $HAVE_GIT = 1 ]; then
	t=$(now); git --git-dir="$GIT" gc -q --aggressive --prune=now; t2=$(now)
	GC_S=$(secs "$t" "$t2")
	record "$DAYS" git_gc_aggressive "$(size "$GIT")"
fi
RPRUNE_S=-
if [ $HAVE_RESTIC = 1 ]; then
	t=$(now); restic prune -q --repo "$RESTIC" >>"$LOG" 2>&1; t2=$(now)
	RPRUNE_S=$(secs "$t" "$t2")
	record "$DAYS" restic_pruned "$(size "$RESTIC")"
fi

awk -F'\t' -v n="$N" -v shape="$SHAPE" -v days="$DAYS" -v ps="$PRUNE_S" -v vs="$VERIFY_S" -v gs="$GC_S" -v rs="$RPRUNE_S" '
function mib(b) { return sprintf("%.1f MiB", b / 1048576) }
{ v[$1, $2] = $3; if ($1 + 0 > last) last = $1 + 0; tools[$2] = 1 }
END {
	tz = v[days, "tar_zst"]
	printf "### %d resources, shape %s, %d days of 1%% churn\n\n", n, shape, days
	printf "| | bytes | size | / tar.zst |\n|---|--:|--:|--:|\n"
	printf "| one `tar | zstd -3` of the metastore | %d | %s | 1.00x |\n", tz, mib(tz)
	printf "| metastore, after %d backups | %d | %s | %.2fx |\n", days + 1, v[days, "metastore"], mib(v[days, "metastore"]), v[days, "metastore"] / tz
	printf "| metastore, after `metastore prune` (%s s) | %d | %s | %.2fx |\n", ps, v[days, "metastore_pruned"], mib(v[days, "metastore_pruned"]), v[days, "metastore_pruned"] / tz
	if ((days SUBSEP "git") in v) {
	printf "| git, after %d commits | %d | %s | %.2fx |\n", days + 1, v[days, "git"], mib(v[days, "git"]), v[days, "git"] / tz
	printf "| git, after `git gc --aggressive --prune=now` (%s s) | %d | %s | %.2fx |\n", gs, v[days, "git_gc_aggressive"], mib(v[days, "git_gc_aggressive"]), v[days, "git_gc_aggressive"] / tz
	}
	if ((days SUBSEP "restic") in v) {
		printf "| restic, after %d backups | %d | %s | %.2fx |\n", days + 1, v[days, "restic"], mib(v[days, "restic"]), v[days, "restic"] / tz
		printf "| restic, after `restic prune` (%s s) | %d | %s | %.2fx |\n", rs, v[days, "restic_pruned"], mib(v[days, "restic_pruned"]), v[days, "restic_pruned"] / tz
	}
	printf "\n`metastore verify --read-data` after the prune: %s s.\n\nBy day (bytes; metastore without its change cache):\n\n| day | metastore | git | restic |\n|--:|--:|--:|--:|\n", vs
	for (d = 0; d <= days; d++) printf "| %d | %s | %s | %s |\n", d, mib(v[d, "metastore"]), ((d SUBSEP "git") in v) ? mib(v[d, "git"]) : "-", ((d SUBSEP "restic") in v) ? mib(v[d, "restic"]) : "-"
}' "$TSV" >"$OUT/summary.md"
cat "$OUT/summary.md"
[ $KEEP = 1 ] || rm -rf "$META" "$REPO" "$GIT" "$RESTIC" "$OUT/meta.tar.zst"
