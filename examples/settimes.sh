#!/bin/sh
# settimes.sh [DIR] - give every file of the sample metastore its Kylin resource
# timestamp back. git does not keep modification times, and a folder metastore
# stores each resource's timestamp as its file's mtime, so run this after a
# clone or checkout (and after copying the sample without preserving times).
#
# DIR defaults to learn_kylin/ beside this script. The timestamps come from
# learn_kylin.timestamps beside this script: one line per resource,
# "<milliseconds since the epoch> <resource key>", e.g.
#   1710742118589 /cube/kylin_sales_cube.json
# Needs a touch that accepts -d @SECONDS.FRACTION (GNU coreutils, as on Debian).
set -eu

here=$(dirname -- "$0")
dir=${1:-$here/learn_kylin}
list=$here/learn_kylin.timestamps

if [ ! -d "$dir" ]; then
	echo "settimes.sh: $dir is not a directory" >&2
	exit 2
fi
if [ ! -r "$list" ]; then
	echo "settimes.sh: cannot read $list" >&2
	exit 2
fi

n=0
missing=0
while read -r ms key; do
	case $ms in
	'' | '#'*) continue ;;
	esac
	file=$dir$key
	if [ ! -f "$file" ]; then
		echo "settimes.sh: missing $file" >&2
		missing=$((missing + 1))
		continue
	fi
	sec=$((ms / 1000))
	frac=$(printf '%03d' $((ms % 1000)))
	touch -c -d "@$sec.$frac" -- "$file"
	n=$((n + 1))
done <"$list"

echo "settimes.sh: set the timestamps of $n files in $dir"
if [ "$missing" -gt 0 ]; then
	echo "settimes.sh: $missing files listed in $list are missing" >&2
	exit 1
fi
