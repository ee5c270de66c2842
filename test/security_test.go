package test

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// digestHash is the password hash part of a digest id, as ZooKeeper stores
// it: base64(sha1("user:password")).
func digestHash(userPassword string) string {
	sum := sha1.Sum([]byte(userPassword))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestSecurityACLReadsThroughMount checks that the mount shows an ACL and
// a stat under the rules of the client port's getACL and exists: NoAuth
// (EACCES) without READ or ADMIN, digest hashes redacted without ADMIN, so
// that no hash appears in an xattr, a dump or the log of an identity that
// may not see it.
func TestSecurityACLReadsThroughMount(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	hash := digestHash("u:p")
	secret := zk.DigestACL(zk.PermAll, "u", "p")
	mustCreate(t, zc, "/secret", "s3cret", secret)
	mustCreate(t, zc, "/readable", "r", append(zk.DigestACL(zk.PermAll, "u", "p"), zk.WorldACL(zk.PermRead)...))
	mustCreate(t, zc, "/admin", "a", append(zk.DigestACL(zk.PermAll, "u", "p"), zk.WorldACL(zk.PermAdmin)...))

	// No READ, no ADMIN: the ACL and every stat attribute are refused, as
	// getACL and exists are.
	for _, name := range []string{"acl", "stat", "ephemeralOwner", "version", "dataLength", "mtime"} {
		m.fails(t, "getfattr -n user.zk."+name+" secret", "Permission denied")
	}
	// Nor do ls -l and stat show its size or times, or any permission.
	if got := m.ok(t, "stat -c '%s %Y %A' secret"); got != "0 0 ----------\n" {
		t.Errorf("stat of a node the mount may not read: %q", got)
	}
	// READ without ADMIN: the hash is redacted, exactly as getACL shows it
	// to a client with the same identity.
	acl, _, err := zc.GetACL("/readable")
	if err != nil {
		t.Fatal(err)
	}
	var wire []string
	for _, a := range acl {
		wire = append(wire, fmt.Sprintf("%s:%s:%s", a.Scheme, a.ID, permLetters(a.Perms)))
	}
	if got, want := m.xattr(t, "readable", "user.zk.acl"), strings.Join(wire, ","); got != want || want != "digest:u:x:cdrwa,world:anyone:r" {
		t.Errorf("user.zk.acl of a readable node = %q, getACL = %q, want both digest:u:x:cdrwa,world:anyone:r", got, want)
	}
	// ADMIN: the whole ACL, hash included, as getACL gives it; no READ, so
	// no stat.
	if got := m.xattr(t, "admin", "user.zk.acl"); got != "digest:u:"+hash+":cdrwa,world:anyone:a" {
		t.Errorf("user.zk.acl with ADMIN = %q", got)
	}
	m.fails(t, "getfattr -n user.zk.stat admin", "Permission denied")
	// A dump of every attribute of every node, and listings, never show
	// the hash of a node the identity has no ADMIN on.
	dump := m.sh(t, "getfattr -R -d -m - secret readable; ls -la; getfattr -d -m - .")
	if strings.Contains(dump.Stdout+dump.Stderr, hash) {
		t.Errorf("the hash appears through the mount:\n%s%s", dump.Stdout, dump.Stderr)
	}
	if log := m.LogTail(1 << 20); strings.Contains(log, hash) {
		t.Errorf("the hash appears in the server's log")
	}

	// The identity that holds ADMIN sees the hash, as on the client port.
	if err := m.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	m.Args = []string{"--mount", m.Mnt, "--mount-auth", "digest:u:p"}
	m.start(t)
	if got := m.xattr(t, "secret", "user.zk.acl"); got != "digest:u:"+hash+":cdrwa" {
		t.Errorf("user.zk.acl for the owner of the digest = %q", got)
	}
	if got := m.xattr(t, "secret", "user.zk.dataLength"); got != "6" {
		t.Errorf("user.zk.dataLength for the owner = %q", got)
	}
}

func mustCreate(t *testing.T, zc *zk.Conn, path, data string, acl []zk.ACL) {
	t.Helper()
	if _, err := zc.Create(path, []byte(data), 0, acl); err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
}

// permLetters formats permission bits as zkCli.sh does.
func permLetters(p int32) string {
	var b strings.Builder
	for _, l := range []struct {
		c byte
		p int32
	}{{'c', zk.PermCreate}, {'d', zk.PermDelete}, {'r', zk.PermRead}, {'w', zk.PermWrite}, {'a', zk.PermAdmin}} {
		if p&l.p != 0 {
			b.WriteByte(l.c)
		}
	}
	return b.String()
}

// localUser creates a throw-away local user for the test and removes it at
// cleanup; it returns the setpriv prefix that runs a command as that user.
func localUser(t *testing.T) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name := fmt.Sprintf("zkfs-t%x", b[:])
	if out, err := exec.Command("useradd", "-M", "-N", "-s", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	uid, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	gid, err := exec.Command("id", "-g", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("setpriv --reuid=%s --regid=%s --clear-groups ", strings.TrimSpace(string(uid)), strings.TrimSpace(string(gid)))
}

// openPathTo lets every user walk to dir through the test's private
// temporary directories (the system's own are left alone).
func openPathTo(t *testing.T, dir string) {
	t.Helper()
	for d := filepath.Dir(dir); strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecurityAllowOtherStranger checks that with --allow-other a local
// user other than the mount's owner gets no more than world:anyone and
// ip:127.0.0.1 give: the mount's --mount-auth identity serves only the
// owner. ls -l shows what is enforced.
func TestSecurityAllowOtherStranger(t *testing.T) {
	as := localUser(t)
	m := startMounted(t, "--allow-other", "--mount-auth", "digest:u:p")
	openPathTo(t, m.Mnt)
	zc := connect(t, m.Addr(), 10*time.Second)
	if err := zc.AddAuth("digest", []byte("u:p")); err != nil {
		t.Fatal(err)
	}
	hash := digestHash("u:p")
	mine := zk.DigestACL(zk.PermAll, "u", "p")
	mustCreate(t, zc, "/mine", "s3cret", mine)
	mustCreate(t, zc, "/minedir", "", mine)
	mustCreate(t, zc, "/minedir/kid", "k", zk.WorldACL(zk.PermAll))
	mustCreate(t, zc, "/shared", "all", append(zk.DigestACL(zk.PermAll, "u", "p"), zk.WorldACL(zk.PermRead)...))
	mustCreate(t, zc, "/open", "o", zk.WorldACL(zk.PermAll))

	// The owner (the server's user, as no --uid is given) has u's rights.
	if got := m.ok(t, "echo more >> mine && cat mine && ls minedir"); got != "s3cretmore\n@data\nkid\n" {
		t.Errorf("the owner through the mount: %q", got)
	}
	if got := m.xattr(t, "mine", "user.zk.acl"); got != "digest:u:"+hash+":cdrwa" {
		t.Errorf("the owner's user.zk.acl = %q", got)
	}
	// The stranger can neither read, write, list, nor learn the ACL or
	// the stat of u's nodes.
	m.fails(t, as+"cat mine", "Permission denied")
	m.fails(t, as+"sh -c 'echo x > mine'", "Permission denied")
	m.fails(t, as+"ls minedir", "Permission denied")
	m.fails(t, as+"mkdir minedir/new", "Permission denied")
	m.fails(t, as+"rm minedir/kid", "Permission denied")
	m.fails(t, as+"getfattr -n user.zk.acl mine", "Permission denied")
	m.fails(t, as+"getfattr -n user.zk.acl minedir", "Permission denied")
	m.fails(t, as+"setfattr -n user.zk.acl -v world:anyone:cdrwa mine", "Permission denied")
	m.fails(t, as+"head -c1 minedir/@watch", "Permission denied")
	if r := m.sh(t, as+"sh -c 'getfattr -R -d -m - . ; cat mine minedir/@data'"); strings.Contains(r.Stdout+r.Stderr, hash) || strings.Contains(r.Stdout, "s3cret") {
		t.Errorf("the stranger learned the hash or the data:\n%s%s", r.Stdout, r.Stderr)
	}
	// ...but gets what world may: read a world-readable node (and its ACL,
	// redacted), and write a world-writable one.
	if got := m.ok(t, as+"cat shared"); got != "all" {
		t.Errorf("the stranger reading a world-readable node: %q", got)
	}
	if got := m.ok(t, as+"getfattr --only-values -n user.zk.acl shared"); got != "digest:u:x:cdrwa,world:anyone:r" {
		t.Errorf("the stranger's user.zk.acl of a world-readable node = %q", got)
	}
	m.fails(t, as+"sh -c 'echo x > shared'", "Permission denied")
	m.ok(t, as+"sh -c 'echo stranger > open'")
	if d, _, err := zc.Get("/open"); err != nil || string(d) != "stranger\n" {
		t.Errorf("/open after the stranger's write: %q, %v", d, err)
	}
	// A node the owner creates through the mount has an open ACL, and
	// shows it at once.
	if got := m.ok(t, "echo hi > fresh && mkdir freshdir && stat -c '%A' fresh freshdir"); got != "-rw-rw-rw-\ndrwxrwxrwx\n" {
		t.Errorf("modes of nodes made through the mount: %q", got)
	}
	if got := m.ok(t, as+"cat fresh"); got != "hi\n" {
		t.Errorf("the stranger reading a node made through the mount: %q", got)
	}
	// The modes say the same: owner bits from u's rights, the others'
	// from world's.
	if got := m.ok(t, "stat -c '%n %A' mine minedir shared open"); got != "mine -rw-------\nminedir drwx--x--x\nshared -rw-r--r--\nopen -rw-rw-rw-\n" {
		t.Errorf("modes:\n%s", got)
	}
	// An ACL changed through the client port changes the modes at once.
	if _, err := zc.SetACL("/mine", append(zk.DigestACL(zk.PermAll, "u", "p"), zk.WorldACL(zk.PermRead)...), -1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := m.sh(t, as+"cat mine")
		if r.Code == 0 && r.Stdout == "s3cretmore\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after setACL world:anyone:r, the stranger still cannot read: %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := m.ok(t, "stat -c '%A' mine"); got != "-rw-r--r--\n" {
		t.Errorf("mode after setACL: %s", got)
	}
}
