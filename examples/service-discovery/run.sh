#!/usr/bin/env bash
# Service discovery: each instance of a service registers itself with an
# ephemeral node that exists exactly as long as the instance runs; clients
# list the service's directory on any mount.
. "$(dirname "$0")/../lib.sh"

mkdir -p "$MNT1/services/web"

# On each host, the instance runs under `zkfs create -e ... --`, talking
# to its own replica. `sleep` stands in for the server. A short session
# timeout makes a crashed instance disappear sooner (default 10 s).
register() { # register HOST ADDR CLIENTPORT
	exec zkfs create -server "$3" --session-timeout 4s -e "/services/web/$1" "$2" -- sleep 1000 2>/dev/null
}
register host1 10.0.0.1:8080 "$ZK1" &
register host2 10.0.0.2:8080 "$ZK2" &
pid2=$!
register host3 10.0.0.3:8080 "$ZK3" &

# A client on host3 lists the instances (names starting with @ are the
# directory's own @data and @watch).
instances() { ls "$1/services/web" | grep -v '^@' | tr '\n' ' '; }
count() { [ "$(instances "$MNT3" | wc -w)" -eq "$1" ]; }
wait_until count 3
echo "instances seen on host3:"
for h in $(instances "$MNT3"); do echo "  $h $(cat "$MNT3/services/web/$h")"; done

# host2's instance crashes: nothing deregisters it, its session expires.
kill -KILL "$pid2"
gone() { ! instances "$1" | grep -qw host2; }
for m in "$MNT1" "$MNT2" "$MNT3"; do wait_until gone "$m"; done
echo "after host2's instance was killed, on every host:"
for m in "$MNT1" "$MNT2" "$MNT3"; do echo "  $(instances "$m")"; done
