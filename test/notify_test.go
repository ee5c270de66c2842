package test

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNotifyReadyAfterMount stands in for systemd's end of Type=notify: a
// unixgram socket named by NOTIFY_SOCKET. The server must send READY=1
// only once it serves and its mount is up (a unit ordered after zkfs, or
// with RequiresMountsFor=, may use the mount at once), and STOPPING=1
// when it stops.
func TestNotifyReadyAfterMount(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	mnt := filepath.Join(dir, "mnt")
	s, err := NewServer(zkfsBin, dir, "--mount", mnt)
	if err != nil {
		t.Fatal(err)
	}
	s.Env = []string{"NOTIFY_SOCKET=" + sock}
	// Start returns once the client port answers, which may be before the
	// mount and the notification: the server is started without waiting.
	started := make(chan error, 1)
	go func() { started <- s.Start(30 * time.Second) }()
	t.Cleanup(func() {
		s.Stop(20 * time.Second)
		if isMounted(mnt) {
			t.Errorf("%s still mounted after the server stopped", mnt)
		}
		if t.Failed() {
			t.Logf("server log (tail):\n%s", s.LogTail(4000))
		}
	})

	buf := make([]byte, 4096)
	ln.SetReadDeadline(time.Now().Add(60 * time.Second))
	n, err := ln.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	// Checked the moment it arrives: the mount must already be there.
	mountedAtReady := isMounted(mnt)
	msg := string(buf[:n])
	if !strings.Contains(msg, "READY=1") {
		t.Fatalf("first notification %q, want READY=1", msg)
	}
	if !mountedAtReady {
		t.Fatalf("READY=1 arrived before %s was mounted", mnt)
	}
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if out, err := FourLetter(s.Addr(), "ruok", 5*time.Second); err != nil || out != "imok" {
		t.Fatalf("ruok after READY=1: %q %v", out, err)
	}

	if err := s.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	ln.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err = ln.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "STOPPING=1") {
		t.Errorf("after SIGTERM: %q %v, want STOPPING=1", buf[:n], err)
	}
}
