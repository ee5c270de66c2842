#!/usr/bin/env bash
# Configuration: a program reads its config file straight from the mount;
# an operator edits it with sed -i on another host; a watcher on @watch
# tells the program to reload. Every replica sees the new file whole.
. "$(dirname "$0")/../lib.sh"

mkdir -p "$MNT1/app"
printf 'color=blue\nsize=10\nmode=fast\n' > "$MNT1/app/app.conf"

# The program, on host2: loads its config at start and on SIGHUP, and says
# so when the config changed.
app() {
	local conf="$MNT2/app/app.conf" loaded=""
	load() {
		local now
		now=$(tr '\n' ' ' < "$conf")
		if [ "$now" != "$loaded" ]; then
			loaded=$now
			echo "app: loaded $now"
		fi
	}
	trap load HUP
	load
	while :; do sleep 0.05; done
}
wait_until test -s "$MNT2/app/app.conf"
app > "$WORK/app.log" &
app_pid=$!

# The watcher, on host2 too: a change of app.conf signals the program.
watcher() {
	while read -r zxid type path; do
		touch "$WORK/watcher-ready"
		[ "$path" = /app/app.conf ] && kill -HUP "$app_pid"
	done < "$MNT2/app/@watch"
}
watcher &
# A heartbeat file gives the watcher an event to prove it is listening.
until [ -e "$WORK/watcher-ready" ]; do date +%s%N > "$MNT1/app/heartbeat"; sleep 0.1; done

# Meanwhile a reader on host1 checks that every read is one whole version.
reader() {
	local old new got
	old=$(printf 'color=blue\nsize=10\nmode=fast')
	new=$(printf 'color=red\nsize=10\nmode=fast')
	while :; do
		got=$(cat "$MNT1/app/app.conf" 2>&1) || got="failed read: $got"
		if [ "$got" != "$old" ] && [ "$got" != "$new" ]; then
			echo "torn read: $got" > "$WORK/torn"
		fi
		sleep 0.01
	done
}
reader &

# The operator, on host3.
sed -i 's/blue/red/' "$MNT3/app/app.conf"

loaded_red() { grep -q 'color=red' "$WORK/app.log"; }
wait_until loaded_red
cat "$WORK/app.log"
for m in "$MNT1" "$MNT2" "$MNT3"; do
	wait_until grep -q red "$m/app/app.conf"
done
echo "every host reads: $(tr '\n' ' ' < "$MNT1/app/app.conf")"
if [ -e "$WORK/torn" ]; then cat "$WORK/torn"; else echo "no torn read"; fi
