package main

import (
	"fmt"
	"net"
	"os"
)

// sdNotify sends a state line (READY=1, STOPPING=1, STATUS=...) to the
// service manager, as systemd's sd_notify(3) does: one datagram to the
// unix socket named by $NOTIFY_SOCKET, where a leading '@' names a socket
// in the abstract namespace. Without the variable (not run by systemd
// with Type=notify) it does nothing.
func sdNotify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	return nil
}
