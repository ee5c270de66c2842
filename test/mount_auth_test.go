package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestMountAuth checks the mount's identity: without --mount-auth it has
// what an unauthenticated local client has (world and ip:127.0.0.1); with
// it, the digest identity too.
func TestMountAuth(t *testing.T) {
	m := startMounted(t, "--mount-auth", "digest:alice:secret")
	zc := connect(t, m.Addr(), 10*time.Second)
	mustCreate := func(path, data string, acl []zk.ACL) {
		t.Helper()
		if _, err := zc.Create(path, []byte(data), 0, acl); err != nil {
			t.Fatalf("create %s: %v", path, err)
		}
	}
	mustCreate("/alice", "mine", zk.DigestACL(zk.PermAll, "alice", "secret"))
	mustCreate("/bob", "his", zk.DigestACL(zk.PermAll, "bob", "pw"))
	mustCreate("/readonly", "ro", append(zk.DigestACL(zk.PermRead, "alice", "secret"), zk.DigestACL(zk.PermAll, "bob", "pw")...))
	mustCreate("/local", "lo", []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.1"}})
	mustCreate("/remote", "re", []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "10.1.2.3"}})

	if got := m.ok(t, "cat alice && echo new > alice && cat alice"); got != "minenew\n" {
		t.Errorf("alice's node through alice's mount: %q", got)
	}
	m.fails(t, "cat bob", "Permission denied")
	m.fails(t, "echo x > bob", "Permission denied")
	m.fails(t, "echo x > readonly", "Permission denied")
	if got := m.ok(t, "cat readonly local"); got != "rolo" {
		t.Errorf("readable nodes: %q", got)
	}
	m.fails(t, "cat remote", "Permission denied")
	// Owner bits: the mount identity's rights; without --allow-other the
	// others' bits are the owner's without w (see
	// TestSecurityAllowOtherStranger for the others' bits with it).
	if got := m.ok(t, "stat -c '%n %a' alice bob readonly local"); got != "alice 644\nbob 0\nreadonly 444\nlocal 644\n" {
		t.Errorf("modes follow READ and WRITE in the ACL: %q", got)
	}
	m.ok(t, "test -w alice && ! test -w readonly")

	// Without --mount-auth the digest nodes are closed, the ip one open.
	if err := m.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	m.Args = []string{"--mount", m.Mnt}
	m.start(t)
	m.fails(t, "cat alice", "Permission denied")
	if got := m.ok(t, "cat local"); got != "lo" {
		t.Errorf("ip:127.0.0.1 node without --mount-auth: %q", got)
	}
}

// TestMountAuthBadFlag checks that a malformed --mount-auth is refused
// with a one-line message and no mount.
func TestMountAuthBadFlag(t *testing.T) {
	dir := t.TempDir()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(dir, "mnt")
	cmd := exec.Command(zkfsBin, "server", "--data-dir", filepath.Join(dir, "data"), "--client-address", "127.0.0.1",
		"--client-port", strconv.Itoa(port), "--mount", mnt, "--mount-auth", "kerberos:x")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the server accepted --mount-auth kerberos:x:\n%s", out)
	}
	if !strings.Contains(string(out), "--mount-auth") {
		t.Errorf("message does not name the flag:\n%s", out)
	}
	if isMounted(mnt) {
		t.Error("a mount appeared")
		exec.Command("umount", "-l", mnt).Run()
	}
	os.RemoveAll(dir)
}

// TestMountAllowOther checks --allow-other: without it only the mounting
// user gets in; with it other users get what world:anyone gets, and the
// modes shown, which the kernel enforces, say so.
func TestMountAllowOther(t *testing.T) {
	m := startMounted(t)
	m.ok(t, "echo data > f")
	// The test's own temporary directories (below the system's, which is
	// left alone) are private to root; let nobody walk to the mount point.
	for d := filepath.Dir(m.Mnt); strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	asNobody := "setpriv --reuid=65534 --regid=65534 --clear-groups "
	r := m.sh(t, asNobody+"cat f")
	if r.Code == 0 {
		t.Errorf("another user read the mount without --allow-other: %q", r.Stdout)
	}
	if err := m.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	m.Args = []string{"--mount", m.Mnt, "--allow-other"}
	m.start(t)
	if got := m.ok(t, asNobody+"cat f"); got != "data\n" {
		t.Errorf("another user with --allow-other read %q", got)
	}
	// f is world-writable, so others may write it, as any local client
	// without credentials may through the client port.
	m.ok(t, asNobody+"sh -c 'echo nobody > f'")
	m.ok(t, "setfattr -n user.zk.acl -v world:anyone:r f")
	m.fails(t, asNobody+"sh -c 'echo x > f'", "Permission denied")
	if got := m.ok(t, "cat f; stat -c %A f"); got != "nobody\n-r--r--r--\n" {
		t.Errorf("after setting world:anyone:r: %q", got)
	}
}
