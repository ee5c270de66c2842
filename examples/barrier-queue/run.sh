#!/usr/bin/env bash
# Barrier and queue from the shell: mkdir and files for the barrier,
# sequential nodes (zkfs create -s) for the queue, @watch to wait for a
# change instead of polling.
. "$(dirname "$0")/../lib.sh"

# --- Barrier: three workers, one per host, each waits until all three
# have arrived. A worker registers by creating its file, then waits on the
# directory's @watch until it counts three. @watch is opened before the
# count is read, so no arrival can slip between the two.
mkdir -p "$MNT1/barrier/round1"
arrivals() { ls "$1/barrier/round1" | grep -vc '^@'; }
worker() { # worker NAME MOUNT
	local dir="$2/barrier/round1"
	exec 3< "$dir/@watch"
	echo "$1" > "$dir/$1"
	until [ "$(arrivals "$2")" -eq 3 ]; do
		read -r _ <&3
	done
	echo "$1 passed: $(arrivals "$2") of 3 had arrived"
}
worker w1 "$MNT1" > "$WORK/w1" &
worker w2 "$MNT2" > "$WORK/w2" &
# w3 comes late: w1 and w2 must still be waiting for it.
wait_until test -e "$MNT3/barrier/round1/w1" -a -e "$MNT3/barrier/round1/w2"
sleep 0.5
if [ -s "$WORK/w1" ] || [ -s "$WORK/w2" ]; then echo "a worker passed too early"; fi
worker w3 "$MNT3" > "$WORK/w3" &
wait_until test -s "$WORK/w1" -a -s "$WORK/w2" -a -s "$WORK/w3"
cat "$WORK/w1" "$WORK/w2" "$WORK/w3"

# --- Queue: producers on host1 and host3 add jobs as sequential nodes;
# a consumer on host2 takes them in order. Taking a job is rm: if two
# consumers race for one, only one rm succeeds.
mkdir -p "$MNT1/queue"
zkfs create -server "$ZK1" -s /queue/job- "resize a.png" 2>&1
zkfs create -server "$ZK3" -s /queue/job- "resize b.png" 2>&1
zkfs create -server "$ZK1" -s /queue/job- "send report" 2>&1
consume() { # consume MOUNT COUNT
	local q="$1/queue" job data n=0
	exec 3< "$q/@watch"
	while [ "$n" -lt "$2" ]; do
		job=$(ls "$q" | grep '^job-' | sort | head -n1 || true)
		if [ -z "$job" ]; then
			read -r _ <&3 # wait for a producer
			continue
		fi
		data=$(cat "$q/$job" 2>/dev/null) || continue
		rm "$q/$job" 2>/dev/null || continue # another consumer took it
		echo "took $job: $data"
		n=$((n + 1))
	done
}
consume "$MNT2" 4 > "$WORK/consumed" &
consumed() { [ "$(cat "$WORK/consumed" 2>/dev/null | wc -l)" -eq "$1" ]; }
# One more job arrives while the consumer waits on @watch.
wait_until consumed 3
zkfs create -server "$ZK3" -s /queue/job- "late job" 2>&1
wait_until consumed 4
cat "$WORK/consumed"
echo "left in the queue: $(ls "$MNT1/queue" | grep -c '^job-' || true)"
