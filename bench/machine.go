package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// describeMachine is the results file's preamble: the hardware, the
// software and the settings both systems ran with, so that figures from
// different machines are not compared by mistake.
func describeMachine(work, zkVersion, zkfsVersion string, o *options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Machine\n\n")
	fmt.Fprintf(&b, "- CPU: %d cores, %s\n", runtime.NumCPU(), cpuModel())
	fmt.Fprintf(&b, "- Memory: %s\n", memTotal())
	fmt.Fprintf(&b, "- Kernel: %s\n", kernel())
	fmt.Fprintf(&b, "- Disk (both ensembles' data): %s\n", diskOf(work))
	fmt.Fprintf(&b, "- Go %s; %s\n", strings.TrimPrefix(runtime.Version(), "go"), javaVersion())
	fmt.Fprintf(&b, "\n## Systems\n\n")
	fmt.Fprintf(&b, "- ZooKeeper %s, three servers from Debian's package (`zkServer.sh start-foreground`), JVM heap `-Xmx%s` (SERVER_JVMFLAGS), tickTime %d ms, forceSync on, snapCount 100,000, maxClientCnxns 0.\n", zkVersion, o.zkHeap, zkfsTickTime)
	fmt.Fprintf(&b, "- zkfs %s, three replicas from zoo.cfg files, each with its own data directory and FUSE mount, tickTime %d ms, fsync on, snapCount 100,000.\n", zkfsVersion, zkfsTickTime)
	fmt.Fprintf(&b, "- Both on 127.0.0.1, data on the same disk, driven by one harness process through go-zookeeper; session i of n uses the (i mod 3)-th server alone, the followers first and the leader last (a lone session writes through a follower on both systems); the systems alternate at every measurement, which lasts %v (client operations, after a %v warm-up of each).\n", o.duration, o.warmup)
	if o.profileDir != "" {
		fmt.Fprintf(&b, "- zkfs ran with --pprof-address and was profiled during the run: its figures are slightly pessimistic.\n")
	}
	return b.String()
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown model"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return "unknown"
}

func kernel() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "unknown"
	}
	str := func(a [65]int8) string {
		var s []byte
		for _, c := range a {
			if c == 0 {
				break
			}
			s = append(s, byte(c))
		}
		return string(s)
	}
	return fmt.Sprintf("%s %s %s", str(u.Sysname), str(u.Release), str(u.Machine))
}

// diskOf names the block device and file system under dir, and whether
// the kernel takes the device for a rotating one.
func diskOf(dir string) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "unknown"
	}
	best, dev, fstype := "", "", ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// mount point is field 5; after the " - " separator come the
		// file system type and the source.
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+2 >= len(f) {
			continue
		}
		mp := f[4]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, fstype, dev = mp, f[sep+1], f[sep+2]
		}
	}
	desc := fmt.Sprintf("%s (%s on %s)", dev, fstype, best)
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) == nil {
		desc += fmt.Sprintf(", %.0f GiB", float64(st.Blocks)*float64(st.Bsize)/(1<<30))
	}
	name := filepath.Base(dev)
	if rot, err := os.ReadFile(filepath.Join("/sys/block", name, "queue", "rotational")); err == nil {
		if strings.TrimSpace(string(rot)) == "1" {
			desc += ", reported rotational (virtual disks often are)"
		} else {
			desc += ", non-rotational"
		}
	}
	return desc
}

func javaVersion() string {
	out, err := exec.Command("java", "-version").CombinedOutput()
	if err != nil {
		return "java unknown"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}

func versionOf(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
