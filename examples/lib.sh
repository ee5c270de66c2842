# Shared by the examples' run.sh scripts. They run on a three-replica
# ensemble whose mounts are $MNT1, $MNT2 and $MNT3 (one per host, where a
# real deployment has /mnt/zk on every host), whose client ports are $ZK1,
# $ZK2 and $ZK3, with `zkfs` on PATH and a scratch directory $WORK.
set -euo pipefail

# bash cannot trap a signal that was ignored when it started, as SIGHUP is
# under nohup, and the examples' programs reload on signals: start again
# with every signal at its default.
if [ -z "${ZKFS_EXAMPLE_SIGNALS:-}" ] &&
	[ "$(awk '/^SigIgn:/ {print $2}' /proc/$$/status)" != 0000000000000000 ]; then
	ZKFS_EXAMPLE_SIGNALS=default exec env --default-signal bash "$0" "$@"
fi
: "${MNT1:?} ${MNT2:?} ${MNT3:?} ${ZK1:?} ${ZK2:?} ${ZK3:?} ${WORK:?}"

# wait_until CMD...: runs CMD until it succeeds; gives up after 30 s.
wait_until() {
	local deadline=$((SECONDS + 30))
	until "$@"; do
		if ((SECONDS > deadline)); then
			echo "timed out waiting for: $*" >&2
			exit 1
		fi
		sleep 0.1
	done
}

# Background jobs end with the script.
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT
