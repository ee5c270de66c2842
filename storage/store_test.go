package storage

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// quietLogger drops Pebble's informational messages so test output shows
// only the tests' own.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

func memOptions(fs vfs.FS) Options {
	if fs != nil {
		fs = reuseFS{fs}
	}
	return Options{FS: fs, Logger: quietLogger{}, CacheSize: 1 << 20, MemTableSize: 4 << 20}
}

// reuseFS works around pebble's MemFS.ReuseForWrite (v2.1.7), which takes
// the crash-clone lock for reading and then again inside Rename: with a
// CrashClone waiting in between, the second RLock never returns, and
// TestCrashRecovery hung for good once in a clean-clone run. A rename and
// an open for writing give the recycled WAL file the same state, each
// under its own lock.
type reuseFS struct{ vfs.FS }

func (f reuseFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if err := f.Rename(oldname, newname); err != nil {
		return nil, err
	}
	return f.OpenReadWrite(newname, c)
}

// openMem opens a store on a fresh in-memory filesystem and closes it when
// the test ends.
func openMem(t testing.TB) *Store {
	t.Helper()
	s, err := Open("db", memOptions(vfs.NewMem()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestOpenSameDirectoryTwiceFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		dir  string
	}{
		{"mem", vfs.NewMem(), "db"},
		{"disk", nil, t.TempDir()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := memOptions(tc.fs)
			s, err := Open(tc.dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(tc.dir, opts)
			if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "data directory is in use") {
				t.Fatalf("second Open: err = %v, want ErrInUse", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err = Open(tc.dir, opts)
			if err != nil {
				t.Fatalf("Open after Close: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// lockHelperEnv makes the test binary a helper process that holds a store
// open: see TestMain.
const lockHelperEnv = "ZKFS_STORAGE_TEST_HOLD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(lockHelperEnv); dir != "" {
		os.Exit(holdStore(dir))
	}
	os.Exit(m.Run())
}

// holdStore opens the store in dir, says so on stdout and keeps it open
// until stdin closes.
func holdStore(dir string) int {
	s, err := Open(dir, Options{Logger: quietLogger{}})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("open")
	bufio.NewReader(os.Stdin).ReadString('\n')
	if err := s.Close(); err != nil {
		return 1
	}
	return 0
}

func TestOpenDirectoryHeldByAnotherProcessFails(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "open\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	_, err = Open(dir, Options{Logger: quietLogger{}})
	if !errors.Is(err, ErrInUse) {
		t.Errorf("Open of a directory held by another process: err = %v, want ErrInUse", err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	s, err := Open(dir, Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatalf("Open after the other process exited: %v", err)
	}
	s.Close()
}

func TestOpenRefusesUnknownLayout(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("db", memOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(metaLayoutKey, []byte{0, 0, 0, 99}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open("db", memOptions(fs))
	if !errors.Is(err, ErrLayoutVersion) || !strings.Contains(err.Error(), "layout version 99") {
		t.Fatalf("Open: err = %v, want ErrLayoutVersion naming version 99", err)
	}
	// The failed Open must have released the directory.
	s, err = Open("db", memOptions(fs))
	if !errors.Is(err, ErrLayoutVersion) {
		t.Fatalf("second Open: err = %v, want ErrLayoutVersion", err)
	}
}

func TestOpenRefusesDataWithoutLayout(t *testing.T) {
	fs := vfs.NewMem()
	db, err := pebble.Open("db", &pebble.Options{FS: fs, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("foreign"), []byte("data"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open("db", memOptions(fs)); !errors.Is(err, ErrLayoutVersion) {
		t.Fatalf("Open of a foreign database: err = %v, want ErrLayoutVersion", err)
	}
}

func TestOpenKeepsLayoutAcrossReopen(t *testing.T) {
	fs := vfs.NewMem()
	for i := 0; i < 3; i++ {
		s, err := Open("db", memOptions(fs))
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if err := s.SetUint64([]byte("k"), uint64(i)); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
}
