#!/usr/bin/env bash
# Status board: every server writes its status to /apache/<host> through
# its own replica's mount; a monitor follows /apache/@watch and reacts as
# soon as a server goes from running to stopped.
. "$(dirname "$0")/../lib.sh"

mkdir -p "$MNT1/apache"

# On each host, a heartbeat (every few seconds in real life; faster here).
# host2 reports whatever $WORK/host2.state says.
echo running > "$WORK/host2.state"
heartbeat() { # heartbeat HOST MOUNT STATEFILE
	while :; do
		cat "$3" > "$2/apache/$1"
		sleep 0.5
	done
}
echo running > "$WORK/always-running"
heartbeat host1 "$MNT1" "$WORK/always-running" &
heartbeat host2 "$MNT2" "$WORK/host2.state" &
heartbeat host3 "$MNT3" "$WORK/always-running" &

wait_until test -s "$MNT3/apache/host1" -a -s "$MNT3/apache/host2" -a -s "$MNT3/apache/host3"
echo "board, read on host3:"
for f in "$MNT3"/apache/host*; do echo "  ${f##*/}: $(cat "$f")"; done

# The monitor, on host1: one line per event, "ZXID TYPE PATH".
monitor() {
	while read -r zxid type path; do
		touch "$WORK/monitor-ready"
		[ "$type" = NodeDataChanged ] || continue
		if [ "$(cat "$MNT1$path")" = stopped ]; then
			echo "ALERT: ${path##*/} is stopped"
			return
		fi
	done < "$MNT1/apache/@watch"
}
monitor > "$WORK/alerts" &
wait_until test -e "$WORK/monitor-ready"

# host2's server stops.
echo stopped > "$WORK/host2.state"
wait_until test -s "$WORK/alerts"
cat "$WORK/alerts"
