package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kazooPython is the interpreter Debian's python3-kazoo installs for.
const kazooPython = "/usr/bin/python3"

// requireKazoo fails t unless kazoo can be imported.
func requireKazoo(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(kazooPython, "-c", "import kazoo.recipe.cache").CombinedOutput(); err != nil {
		t.Fatalf("kazoo is missing for %s (%v: %s); %s", kazooPython, err, out, zkInstallMsg)
	}
}

// kazooPrelude starts every recipe script. A failed check ends the whole
// process at once with os._exit: kazoo's threads would otherwise keep a
// failing script alive, or an exception in a worker thread would only be
// printed. The script's last line is OK when every check passed.
const kazooPrelude = `
import os, sys, threading, time, traceback
from kazoo.client import KazooClient

HOSTS, ROOT = sys.argv[1], sys.argv[2]
mu = threading.Lock()
_clients = []

def fail(msg):
    print("FAIL: " + msg, flush=True)
    os._exit(1)

def _excepthook(*exc):
    traceback.print_exception(*exc)
    fail("uncaught exception")
sys.excepthook = _excepthook

def check(cond, msg):
    if not cond:
        fail(msg)

def eq(got, want, what):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))

def client(**kw):
    c = KazooClient(hosts=HOSTS, timeout=10, **kw)
    c.start(timeout=10)
    _clients.append(c)
    return c

def wait_until(pred, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            fail("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.005)

def spawn(fn, *args):
    def run():
        try:
            fn(*args)
        except BaseException:
            fail("thread %s: %s" % (fn.__name__, traceback.format_exc()))
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th

def join(threads, timeout=30):
    deadline = time.monotonic() + timeout
    for th in threads:
        th.join(max(0, deadline - time.monotonic()))
        if th.is_alive():
            fail("threads still running after %ss" % timeout)

def done():
    for c in _clients:
        try:
            c.stop()
            c.close()
        except Exception:
            pass
    print("OK", flush=True)
`

// kazooRecipes are run at once, each in its own namespace (ROOT) on one
// zkfs server, since they are independent.
var kazooRecipes = []struct {
	name, script string
}{
	{"Lock", `
from kazoo.recipe.lock import Lock
from kazoo.exceptions import LockTimeout

path, counter = ROOT + "/lock", ROOT + "/counter"
clients = [client() for _ in range(4)]
clients[0].create(counter, b"0", makepath=True)
state = {"inside": 0, "turns": 0, "most_contenders": 0}
ROUNDS = 5

def worker(c, name):
    for _ in range(ROUNDS):
        lk = Lock(c, path, name)
        check(lk.acquire(timeout=20), name + " gave up waiting")
        with mu:
            state["inside"] += 1
            check(state["inside"] == 1, "two holders at once")
            state["turns"] += 1
        state["most_contenders"] = max(state["most_contenders"], len(lk.contenders()))
        # A read-modify-write that only mutual exclusion keeps exact.
        v, _ = c.get(counter)
        time.sleep(0.003)
        c.set(counter, str(int(v) + 1).encode())
        with mu:
            state["inside"] -= 1
        lk.release()

threads = [spawn(worker, c, "c%d-t%d" % (i, j)) for i, c in enumerate(clients) for j in range(2)]
join(threads)
eq(state["turns"], 8 * ROUNDS, "turns")
eq(clients[1].get(counter)[0], str(8 * ROUNDS).encode(), "counter under the lock")
check(state["most_contenders"] >= 2, "never saw contention: %r" % state)
eq(clients[2].get_children(path), [], "lock nodes left behind")

# A held lock refuses others; it is freed when the holder's session ends.
holder, other = client(), client()
held = Lock(holder, path, "holder")
check(held.acquire(timeout=5), "holder")
waiting = Lock(other, path, "other")
check(not waiting.acquire(blocking=False), "non-blocking acquire of a held lock")
try:
    waiting.acquire(timeout=0.3)
    fail("acquire of a held lock did not time out")
except LockTimeout:
    pass
eq(waiting.contenders(), ["holder"], "contenders after the timeouts")
holder.stop()
check(waiting.acquire(timeout=10), "lock not freed by the holder's session end")
eq(waiting.contenders(), ["other"], "contenders")
waiting.release()
done()
`},
	{"Semaphore", `
from kazoo.recipe.lock import Semaphore

path, LEASES = ROOT + "/semaphore", 2
clients = [client() for _ in range(3)]

# Two leases at once, a third refused until one is released.
one, two, three = (Semaphore(c, path, n, max_leases=LEASES) for c, n in zip(clients, ["one", "two", "three"]))
check(one.acquire(timeout=5), "first lease")
check(two.acquire(timeout=5), "second lease")
eq(sorted(one.lease_holders()), ["one", "two"], "holders of both leases")
check(not three.acquire(blocking=False), "a third lease granted")
one.release()
check(three.acquire(timeout=10), "the lease given back")
eq(sorted(three.lease_holders()), ["three", "two"], "holders after the hand-over")
two.release()
three.release()

# Under contention, never more holders than leases.
state = {"inside": 0}

def worker(c, name):
    for _ in range(4):
        sem = Semaphore(c, path, name, max_leases=LEASES)
        check(sem.acquire(timeout=20), name + " gave up waiting")
        with mu:
            state["inside"] += 1
            check(state["inside"] <= LEASES, "%d holders of %d leases" % (state["inside"], LEASES))
        holders = sem.lease_holders()
        check(name in holders and len(holders) <= LEASES, "lease holders %r" % holders)
        time.sleep(0.01)
        with mu:
            state["inside"] -= 1
        sem.release()

join([spawn(worker, c, "c%d-t%d" % (i, j)) for i, c in enumerate(clients) for j in range(2)])
eq(Semaphore(clients[0], path, max_leases=LEASES).lease_holders(), [], "holders at the end")
done()
`},
	{"Election", `
from kazoo.recipe.election import Election

path = ROOT + "/election"
names = ["a", "b", "c"]
clients = {n: client() for n in names}
elections = {n: Election(clients[n], path, n) for n in names}
stop = {n: threading.Event() for n in names}
active, order = set(), []

def lead(n):
    with mu:
        check(not active, "%s leads while %s lead" % (n, sorted(active)))
        active.add(n)
        order.append(n)
    stop[n].wait(30)

def runner(n):
    try:
        elections[n].run(lead, n)
    except Exception:
        pass  # its client was stopped under it, as the test intends

observer = client()
watch = Election(observer, path)
for i, n in enumerate(names):
    threading.Thread(target=runner, args=(n,), daemon=True).start()
    wait_until(lambda: len(watch.contenders()) == i + 1, "contender " + n)
wait_until(lambda: order == ["a"], "the first leader")
eq(watch.contenders(), names, "contenders in arrival order")

# The leader's client stops: the next in line takes over, and only then.
for i, n in enumerate(names[:-1]):
    time.sleep(0.2)
    eq(order, names[:i + 1], "leaders while %s leads" % n)
    with mu:
        active.discard(n)
    clients[n].stop()
    stop[n].set()
    wait_until(lambda: len(order) == i + 2, "a leader after %s stopped" % n)
    eq(order[-1], names[i + 1], "the leader after " + n)
eq(watch.contenders(), ["c"], "contenders at the end")

# A leader that returns gives the election up.
with mu:
    active.discard("c")
stop["c"].set()
wait_until(lambda: watch.contenders() == [], "the last leader to step down")
done()
`},
	{"Barrier", `
from kazoo.recipe.barrier import Barrier

path = ROOT + "/barrier"
owner = client()
b = Barrier(owner, path)
check(b.wait(1), "wait with no barrier set")
b.create()
check(not b.wait(0.2), "wait passed a standing barrier")
waiters = [client() for _ in range(3)]
passed = []

def waiter(c):
    check(Barrier(c, path).wait(15), "waiter timed out")
    with mu:
        passed.append(time.monotonic())

threads = [spawn(waiter, c) for c in waiters]
time.sleep(0.5)
eq(len(passed), 0, "waiters past a standing barrier")
removed = time.monotonic()
b.remove()
join(threads)
eq(len(passed), 3, "waiters through")
check(min(passed) >= removed, "a waiter passed before the removal")
check(not owner.exists(path), "barrier node left")
done()
`},
	{"DoubleBarrier", `
from kazoo.recipe.barrier import DoubleBarrier

path, N = ROOT + "/double", 4
clients = [client() for _ in range(N)]
arrived, entered, leaving, left = [], [], [], []

def participant(i):
    db = DoubleBarrier(clients[i], path, N, "p%d" % i)
    time.sleep(0.1 * i)  # staggered arrivals
    with mu:
        arrived.append(i)
    db.enter()
    with mu:
        eq(len(arrived), N, "p%d entered with arrivals" % i)
        entered.append(i)
    time.sleep(0.1 * (N - i))  # staggered departures, in reverse
    with mu:
        leaving.append(i)
    db.leave()
    with mu:
        eq(len(leaving), N, "p%d left with leavers" % i)
        left.append(i)

join([spawn(participant, i) for i in range(N)])
eq(sorted(entered), list(range(N)), "entered")
eq(sorted(left), list(range(N)), "left")
eq(clients[0].get_children(path), [], "participant nodes left behind")
done()
`},
	{"Queue", `
from kazoo.recipe.queue import Queue

path = ROOT + "/queue"
clients = [client() for _ in range(3)]
q = Queue(clients[0], path)
check(q.get() is None, "an item from an empty queue")
q.put(b"low1", priority=200)
q.put(b"high1", priority=10)
q.put(b"mid")
q.put(b"high2", priority=10)
q.put(b"low2", priority=200)
eq(len(q), 5, "length")
eq([q.get() for _ in range(5)], [b"high1", b"high2", b"mid", b"low1", b"low2"], "priority, then FIFO")
check(q.get() is None, "an item after the last")
eq(len(q), 0, "length when empty")

# Concurrent consumers take each item exactly once, each in order.
items = [b"item%03d" % i for i in range(60)]
for it in items:
    q.put(it)
got = {i: [] for i in range(3)}

def consume(i):
    mine = Queue(clients[i], path)
    while True:
        v = mine.get()
        if v is None:
            return
        got[i].append(v)

join([spawn(consume, i) for i in range(3)])
eq(sorted(got[0] + got[1] + got[2]), items, "items taken")
for i in range(3):
    eq(got[i], sorted(got[i]), "consumer %d's order" % i)
done()
`},
	{"LockingQueue", `
from kazoo.recipe.queue import LockingQueue

path = ROOT + "/lqueue"
a, b, c = (LockingQueue(client(), path) for _ in range(3))
check(a.get(0.2) is None, "an entry from an empty queue")
a.put(b"one")
a.put_all([b"two", b"three"])
a.put(b"urgent", priority=1)
eq(len(a), 4, "length")
eq(a.get(1), b"urgent", "a's entry")
check(a.holds_lock(), "a holds its entry")
eq(a.get(1), b"urgent", "get before consume repeats the entry")
eq(b.get(1), b"one", "b skips the locked entry")
check(a.release(), "a releases")
check(not a.holds_lock(), "a still holds after release")
eq(len(a), 4, "length after a release")
eq(c.get(1), b"urgent", "c takes the released entry")
check(c.consume(), "c consumes")
check(not c.consume(), "consume with nothing taken")
check(b.consume(), "b consumes")
eq(a.get(1), b"two", "a's next")
check(a.consume(), "a consumes")
eq(b.get(1), b"three", "b's next")
check(b.consume(), "b consumes")
eq(len(a), 0, "length when empty")

# A consumer blocked on an empty queue wakes for a put.
res = []
th = spawn(lambda: res.append(c.get(10)))
time.sleep(0.3)
eq(res, [], "get returned before the put")
a.put(b"late")
join([th])
eq(res, [b"late"], "the blocked get")
check(c.consume(), "c consumes the late entry")

# An entry locked by a session that ends goes back to the queue.
dc = client()
d = LockingQueue(dc, path)
a.put(b"orphan")
eq(d.get(1), b"orphan", "d's entry")
check(b.get(0.3) is None, "a locked entry handed out twice")
dc.stop()
eq(b.get(10), b"orphan", "the entry after its holder's session ended")
check(b.consume(), "b consumes the orphan")

# Concurrent consumers: each entry exactly once.
items = [b"job%02d" % i for i in range(30)]
a.put_all(items)
got = []

def work(qq):
    while True:
        v = qq.get(0.5)
        if v is None:
            return
        with mu:
            got.append(v)
        check(qq.consume(), "consume of a taken entry")

join([spawn(work, LockingQueue(client(), path)) for _ in range(3)])
eq(sorted(got), items, "entries consumed")
eq(len(a), 0, "length at the end")
done()
`},
	{"Counter", `
from kazoo.recipe.counter import Counter

path = ROOT + "/counter"
# Increments retry on BadVersion; kazoo's default backoff would make the
# contended run slow, not different.
retry = {"max_tries": -1, "delay": 0.002, "backoff": 1.5, "max_delay": 0.05, "max_jitter": 0.9}
clients = [client(command_retry=retry) for _ in range(4)]
THREADS, EACH = 8, 25

def incr(c):
    ctr = Counter(c, path)
    for _ in range(EACH):
        ctr += 1

join([spawn(incr, clients[i % 4]) for i in range(THREADS)], 60)
ctr = Counter(clients[0], path)
eq(ctr.value, THREADS * EACH, "total of concurrent increments")
ctr -= 50
eq((ctr.pre_value, ctr.post_value, ctr.value), (THREADS * EACH, THREADS * EACH - 50, THREADS * EACH - 50), "after -= 50")
f = Counter(clients[1], ROOT + "/float", default=0.0)
f += 1.5
f += 2.25
eq(f.value, 3.75, "float counter")
done()
`},
	{"Party", `
from kazoo.recipe.party import Party, ShallowParty

for kind in (Party, ShallowParty):
    path = ROOT + "/" + kind.__name__
    clients = [client() for _ in range(3)]
    members = [kind(c, path, "member-%d" % i) for i, c in enumerate(clients)]
    eq(len(members[0]), 0, kind.__name__ + " before anyone joined")
    for m in members:
        m.join()
    for m in members:
        eq(len(m), 3, kind.__name__ + " size")
        eq(sorted(m), ["member-0", "member-1", "member-2"], kind.__name__ + " members")
    members[1].leave()
    eq(sorted(members[0]), ["member-0", "member-2"], kind.__name__ + " after a leave")
    eq(len(members[2]), 2, kind.__name__ + " size after a leave")
    members[1].join()
    members[1].join()
    eq(len(members[0]), 3, kind.__name__ + " size after joining twice")
    clients[2].stop()  # a member whose session ends is out of the party
    eq(sorted(members[0]), ["member-0", "member-1"], kind.__name__ + " after a session end")
done()
`},
	{"DataWatch", `
from kazoo.recipe.watchers import DataWatch

path = ROOT + "/data"
watcher, writer = client(), client()
seen = []

def on_change(data, stat, event):
    with mu:
        seen.append((data, stat.version if stat else None, event.type if event else None))

DataWatch(watcher, path, on_change)
wait_until(lambda: len(seen) == 1, "the first call")
eq(seen[0], (None, None, None), "a node not there yet")
steps = [
    (lambda: writer.create(path, b"v0", makepath=True), (b"v0", 0, "CREATED")),
    (lambda: writer.set(path, b"v1"), (b"v1", 1, "CHANGED")),
    (lambda: writer.set(path, b""), (b"", 2, "CHANGED")),
    (lambda: writer.delete(path), (None, None, "DELETED")),
    (lambda: writer.create(path, b"again"), (b"again", 0, "CREATED")),
]
for i, (act, want) in enumerate(steps):
    act()
    wait_until(lambda: len(seen) == i + 2, "the call for %r" % (want,))
    eq(seen[-1], want, "call %d" % (i + 2))

# A burst: calls may merge, but never go back, and end at the last write.
for i in range(1, 21):
    writer.set(path, b"burst%d" % i)
wait_until(lambda: seen[-1][0] == b"burst20", "the last write of the burst")
versions = [s[1] for s in seen[len(steps) + 1:]]
eq(versions, sorted(set(versions)), "versions during the burst")
eq(versions[-1], 20, "last version")
time.sleep(0.2)
eq(seen[-1], (b"burst20", 20, "CHANGED"), "calls after the burst")
done()
`},
	{"ChildrenWatch", `
from kazoo.recipe.watchers import ChildrenWatch

path = ROOT + "/kids"
watcher, writer = client(), client()
writer.create(path, makepath=True)
seen = []

def on_children(children, event):
    with mu:
        seen.append((sorted(children), event.type if event else None))

ChildrenWatch(watcher, path, on_children, send_event=True)
wait_until(lambda: len(seen) == 1, "the first call")
eq(seen[0], ([], None), "no children yet")
steps = [
    (lambda: writer.create(path + "/a"), ["a"]),
    (lambda: writer.create(path + "/b", b"x"), ["a", "b"]),
    (lambda: writer.delete(path + "/a"), ["b"]),
    (lambda: writer.create(path + "/c-", sequence=True), ["b", "c-0000000002"]),
    (lambda: writer.create(path + "/e", ephemeral=True), ["b", "c-0000000002", "e"]),
]
for i, (act, want) in enumerate(steps):
    act()
    wait_until(lambda: len(seen) == i + 2, "the call for %r" % want)
    eq(seen[-1], (want, "CHILD"), "call %d" % (i + 2))

# Neither the parent's data nor a grandchild is a change of children.
writer.set(path, b"data")
writer.create(path + "/b/grandchild")
time.sleep(0.3)
eq(len(seen), len(steps) + 1, "calls after non-child changes")
writer.stop()  # its ephemeral child goes with its session
wait_until(lambda: len(seen) == len(steps) + 2, "the call for the ephemeral's end")
eq(seen[-1], (["b", "c-0000000002"], "CHILD"), "after the writer's session ended")
done()
`},
	{"TreeCache", `
from kazoo.recipe.cache import TreeCache, TreeEvent

path = ROOT + "/tree"
watcher, writer = client(), client()
writer.create(path + "/pre", b"p", makepath=True)
events = []

def on_event(ev):
    d = ev.event_data
    with mu:
        events.append((ev.event_type, d.path if d else None, d.data if d else None))

cache = TreeCache(watcher, path)
cache.listen(on_event)
cache.start()
wait_until(lambda: any(e[0] == TreeEvent.INITIALIZED for e in events), "INITIALIZED")
init = [e[0] for e in events].index(TreeEvent.INITIALIZED)
eq(sorted(events[:init]), [(TreeEvent.NODE_ADDED, path, b""), (TreeEvent.NODE_ADDED, path + "/pre", b"p")], "events before INITIALIZED")
eq(cache.get_data(path + "/pre").data, b"p", "cached data")

A, B = path + "/a", path + "/a/b"
steps = [
    (lambda: writer.create(A, b"1"), (TreeEvent.NODE_ADDED, A, b"1")),
    (lambda: writer.create(B, b"2"), (TreeEvent.NODE_ADDED, B, b"2")),
    (lambda: writer.set(A, b"3"), (TreeEvent.NODE_UPDATED, A, b"3")),
    (lambda: writer.set(B, b"4"), (TreeEvent.NODE_UPDATED, B, b"4")),
    (lambda: writer.delete(B), (TreeEvent.NODE_REMOVED, B, b"4")),
    (lambda: writer.delete(A), (TreeEvent.NODE_REMOVED, A, b"3")),
]
for i, (act, want) in enumerate(steps):
    n = len(events)
    act()
    wait_until(lambda: len(events) == n + 1, "the event for %r" % (want,))
    eq(events[-1], want, "event %d" % i)
eq(cache.get_children(path), frozenset(["pre"]), "cached children")
check(cache.get_data(A) is None, "a removed node still cached")

# A subtree made in one transaction, then a burst of children, then all
# removed: the cache converges on each state.
tx = writer.transaction()
tx.create(path + "/x", b"x")
tx.create(path + "/x/y", b"y")
tx.create(path + "/x/y/z", b"z")
eq(tx.commit(), [path + "/x", path + "/x/y", path + "/x/y/z"], "transaction")
wait_until(lambda: cache.get_data(path + "/x/y/z") is not None, "the deepest node of the transaction")
eq(cache.get_data(path + "/x/y/z").data, b"z", "its data")
kids = ["n%02d" % i for i in range(20)]
for k in kids:
    writer.create(path + "/x/" + k, k.encode())
# A child is listed before its data arrives; only then is it added.
wait_until(lambda: all(cache.get_data(path + "/x/" + k) is not None for k in kids), "the burst of children")
eq(cache.get_children(path + "/x"), frozenset(kids + ["y"]), "cached children of the burst")
eq(cache.get_data(path + "/x/n13").data, b"n13", "a child's data")
writer.delete(path + "/x", recursive=True)
wait_until(lambda: cache.get_children(path) == frozenset(["pre"]), "the subtree's removal")
time.sleep(0.1)
subtree = sorted([path + "/x", path + "/x/y", path + "/x/y/z"] + [path + "/x/" + k for k in kids])
removed = sorted(e[1] for e in events if e[0] == TreeEvent.NODE_REMOVED and e[1].startswith(path + "/x"))
eq(removed, subtree, "NODE_REMOVED events for the subtree")
added = sorted(e[1] for e in events if e[0] == TreeEvent.NODE_ADDED and e[1].startswith(path + "/x"))
eq(added, subtree, "NODE_ADDED events for the subtree")
cache.close()
done()
`},
}

// TestKazooRecipes runs kazoo's recipes against one zkfs server; each
// script checks the recipe's promise (one lock holder, one leader, an
// exact counter, ...) and prints OK last.
func TestKazooRecipes(t *testing.T) {
	requireKazoo(t)
	// The recipes together hold about fifty sessions from 127.0.0.1, near
	// ZooKeeper's default of 60 per address; that limit has its own tests.
	srv := startServer(t, "--max-client-cnxns", "200")
	dir := t.TempDir()
	for _, r := range kazooRecipes {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			script := filepath.Join(dir, r.name+".py")
			if err := os.WriteFile(script, []byte(kazooPrelude+r.script), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, kazooPython, script, srv.Addr(), "/recipes/"+r.name).CombinedOutput()
			text := strings.TrimSpace(string(out))
			if err != nil || !strings.HasSuffix(text, "\nOK") && text != "OK" {
				t.Fatalf("kazoo %s recipe: %v\n%s", r.name, err, text)
			}
		})
	}
}
