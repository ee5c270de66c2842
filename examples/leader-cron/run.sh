#!/usr/bin/env bash
# Leader-only cron job: the same crontab line on every host,
#
#   0 3 * * * flock -n /mnt/zk/locks/backup ./backup.sh
#
# runs the backup on exactly one host: flock on the mount is a lock of the
# whole ensemble, and -n makes the other hosts give up at once.
. "$(dirname "$0")/../lib.sh"

mkdir -p "$MNT1/locks"
touch "$MNT1/locks/backup"

# The backup writes who ran it to the mount, and runs for as long as it
# takes the other two hosts to be turned away, as a real one would.
cat > "$WORK/backup.sh" <<'SCRIPT'
#!/usr/bin/env bash
echo "$HOST" >> "$MNT1/backup-runs"
for _ in $(seq 600); do
	[ "$(cat "$WORK"/skipped-* 2>/dev/null | wc -l)" -eq 2 ] && break
	sleep 0.05
done
SCRIPT
chmod +x "$WORK/backup.sh"

# 03:00 on three hosts at once: each runs the crontab line on its mount.
cron() { # cron HOST MOUNT
	if ! HOST=$1 flock -n "$2/locks/backup" "$WORK/backup.sh"; then
		echo "$1" > "$WORK/skipped-$1"
	fi
}
export MNT1 WORK
for i in 1 2 3; do
	m=MNT$i
	cron "host$i" "${!m}" &
done
wait
echo "backups run: $(wc -l < "$MNT1/backup-runs")"
echo "hosts turned away by flock -n: $(cat "$WORK"/skipped-* | wc -l)"
