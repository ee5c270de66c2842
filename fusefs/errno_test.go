package fusefs

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"zkfs/replication"
	"zkfs/tree"
	"zkfs/xattr"
)

func TestToErrno(t *testing.T) {
	tests := []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{tree.ErrNoNode, syscall.ENOENT},
		{tree.ErrNodeExists, syscall.EEXIST},
		{tree.ErrNotEmpty, syscall.ENOTEMPTY},
		{tree.ErrNoAuth, syscall.EACCES},
		{tree.ErrBadVersion, syscall.EAGAIN},
		{tree.ErrDataTooLarge, syscall.EFBIG},
		{tree.ErrInvalidPath, syscall.EINVAL},
		{tree.ErrInvalidACL, syscall.EINVAL},
		{tree.ErrBadArguments, syscall.EINVAL},
		{tree.ErrNoChildrenForEphemerals, syscall.EPERM},
		{tree.ErrSessionExpired, syscall.EIO},
		{tree.ErrRuntimeInconsistency, syscall.EIO},
		{tree.ErrUnimplemented, syscall.ENOSYS},
		{replication.ErrTimeout, syscall.EIO},
		{replication.ErrReadOnly, syscall.EROFS},
		{replication.ErrNotLeader, syscall.EIO},
		{replication.ErrClosed, syscall.EIO},
		{context.DeadlineExceeded, syscall.EIO},
		{context.Canceled, syscall.EINTR},
		{xattr.ErrNoAttr, syscall.ENODATA},
		{xattr.ErrReadOnly, syscall.EPERM},
		{xattr.ErrInvalid, syscall.EINVAL},
		{syscall.EXDEV, syscall.EXDEV},
		{errors.New("anything else"), syscall.EIO},
		// Wrapped errors map like the sentinel they wrap: the
		// refinements of BadArguments stay apart from it.
		{fmt.Errorf("%w: after 3 tries", replication.ErrTimeout), syscall.EIO},
		{fmt.Errorf("create /a: %w", tree.ErrDataTooLarge), syscall.EFBIG},
		{fmt.Errorf("wrapped: %w", tree.ErrNoAuth), syscall.EACCES},
	}
	for _, tt := range tests {
		if got := toErrno(tt.err); got != tt.want {
			t.Errorf("toErrno(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestInoOf(t *testing.T) {
	// Stable for the same node, different for everything that must not
	// share an inode, and never one of the numbers go-fuse reserves.
	seen := map[uint64]string{}
	for _, tt := range []struct {
		czxid int64
		path  string
		role  byte
	}{
		{0, "/zookeeper", roleDir},
		{0, "/zookeeper/quota", roleDir},
		{5, "/a", roleFile},
		{5, "/a", roleDir},
		{5, "/a", roleData},
		{5, "/a", roleWatch},
		{5, "/b", roleFile},
		{6, "/a", roleFile},
	} {
		ino := inoOf(tt.czxid, tt.path, tt.role)
		if ino <= 1 || ino == ^uint64(0) {
			t.Errorf("inoOf(%d, %s, %c) = %d, a reserved number", tt.czxid, tt.path, tt.role, ino)
		}
		if ino != inoOf(tt.czxid, tt.path, tt.role) {
			t.Errorf("inoOf(%d, %s, %c) is not stable", tt.czxid, tt.path, tt.role)
		}
		key := fmt.Sprintf("%d %s %c", tt.czxid, tt.path, tt.role)
		if other, ok := seen[ino]; ok {
			t.Errorf("%s and %s share inode %d", key, other, ino)
		}
		seen[ino] = key
	}
}

func TestEditReplay(t *testing.T) {
	tests := []struct {
		name  string
		base  string
		edits []edit
		want  string
	}{
		{"overwrite a prefix", "hello world", []edit{{kind: editWrite, off: 0, data: []byte("HELLO")}}, "HELLO world"},
		{"extend", "abc", []edit{{kind: editWrite, off: 2, data: []byte("CDE")}}, "abCDE"},
		{"write past the end zero-fills", "ab", []edit{{kind: editWrite, off: 4, data: []byte("x")}}, "ab\x00\x00x"},
		{"truncate then write", "old content", []edit{{kind: editTruncate}, {kind: editWrite, data: []byte("new\n")}}, "new\n"},
		{"append lands at the end of newer data", "a\nb\n", []edit{{kind: editAppend, data: []byte("c\n")}}, "a\nb\nc\n"},
		{"truncate longer zero-fills", "ab", []edit{{kind: editTruncate, off: 4}}, "ab\x00\x00"},
		{"truncate shorter", "abcdef", []edit{{kind: editTruncate, off: 2}, {kind: editAppend, data: []byte("!")}}, "ab!"},
	}
	for _, tt := range tests {
		b := []byte(tt.base)
		for _, e := range tt.edits {
			b = e.apply(b)
		}
		if string(b) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, b, tt.want)
		}
	}
}

func TestParseAuth(t *testing.T) {
	local := tree.ID{Scheme: "ip", ID: "127.0.0.1"}
	tests := []struct {
		in      string
		want    []tree.ID
		wantErr bool
	}{
		{"", []tree.ID{local}, false},
		// The hash of "alice:secret", as ZooKeeper's
		// DigestAuthenticationProvider.generateDigest computes it.
		{"digest:alice:secret", []tree.ID{local, {Scheme: "digest", ID: "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="}}, false},
		{"digest:alice", nil, true},
		{"digest::pw", nil, true},
		{"kerberos:x", nil, true},
		{"digest", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseAuth(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseAuth(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if fmt.Sprint(got.IDs) != fmt.Sprint(tt.want) || got.Super {
			t.Errorf("ParseAuth(%q) = %+v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestUnescapeMountPath(t *testing.T) {
	if got := unescapeMountPath(`/tmp/with\040space`); got != "/tmp/with space" {
		t.Errorf("unescapeMountPath = %q", got)
	}
}
