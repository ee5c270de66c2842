package replication

import (
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"sync"

	"zkfs/tree"
)

// The replica-to-replica calls travel over Go's net/rpc (gob-encoded) on
// the peer's RPC address. They are few and simple, and net/rpc multiplexes
// concurrent calls on one connection, so a follower forwarding many writes
// keeps one connection to the leader.

// ResultMsg is tree.Result in a form that crosses the wire: the error is
// an index into resultErrors.
type ResultMsg struct {
	Err   int
	Path  string
	Stat  tree.Stat
	Multi []ResultMsg
}

// ReadIndexReply is the leader's commit index at the time of the call.
type ReadIndexReply struct {
	Index uint64
}

// TouchArgs lists the sessions a replica's clients were active on.
type TouchArgs struct {
	Sessions []int64
}

// Empty is the argument or reply of calls that carry nothing.
type Empty struct{}

// resultErrors is the one place that numbers the tree's errors for the
// replica-to-replica wire. Index 0 is no error; append only.
var resultErrors = []error{
	nil,
	tree.ErrNoNode,
	tree.ErrNodeExists,
	tree.ErrNotEmpty,
	tree.ErrBadVersion,
	tree.ErrNoChildrenForEphemerals,
	tree.ErrBadArguments,
	tree.ErrInvalidACL,
	tree.ErrNoAuth,
	tree.ErrSessionExpired,
	tree.ErrRuntimeInconsistency,
	tree.ErrUnimplemented,
	tree.ErrInvalidPath,
	tree.ErrDataTooLarge,
}

func toMsg(r tree.Result) ResultMsg {
	m := ResultMsg{Path: r.Path, Stat: r.Stat}
	if r.Err != nil {
		m.Err = len(resultErrors) // unknown, unless listed
		for i, e := range resultErrors[1:] {
			if r.Err == e {
				m.Err = i + 1
				break
			}
		}
	}
	for _, sub := range r.Multi {
		m.Multi = append(m.Multi, toMsg(sub))
	}
	return m
}

func fromMsg(m ResultMsg) tree.Result {
	r := tree.Result{Path: m.Path, Stat: m.Stat}
	switch {
	case m.Err == 0:
	case m.Err > 0 && m.Err < len(resultErrors):
		r.Err = resultErrors[m.Err]
	default:
		r.Err = fmt.Errorf("replication: leader reported an unknown error %d", m.Err)
	}
	for _, sub := range m.Multi {
		r.Multi = append(r.Multi, fromMsg(sub))
	}
	return r
}

// PeerService is the RPC receiver that other replicas call.
type PeerService struct {
	r *Replica
}

// ReadIndex returns the leader's commit index once it has confirmed that it
// still leads, so that a follower reading after it is linearizable.
func (s *PeerService) ReadIndex(_ Empty, reply *ReadIndexReply) error {
	idx, err := s.r.leaderReadIndex()
	reply.Index = idx
	return err
}

// Touch records client activity that another replica saw.
func (s *PeerService) Touch(args TouchArgs, _ *Empty) error {
	s.r.sessions.touchAll(args.Sessions)
	return nil
}

// rpcServer serves PeerService on the replica's RPC address.
type rpcServer struct {
	ln  net.Listener
	srv *rpc.Server
	wg  sync.WaitGroup
}

// listenRPC opens the RPC port, so that a taken port fails the start at
// once; serve starts answering, which must wait until the replica's Raft
// exists, since every call uses it.
func listenRPC(r *Replica, addr string) (*rpcServer, error) {
	srv := rpc.NewServer()
	if err := srv.RegisterName("Peer", &PeerService{r: r}); err != nil {
		return nil, err
	}
	ln, err := r.listen(addr)
	if err != nil {
		return nil, fmt.Errorf("replication: listen on %s: %w", addr, err)
	}
	return &rpcServer{ln: ln, srv: srv}, nil
}

func (s *rpcServer) serve() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			go s.srv.ServeConn(c)
		}
	}()
}

func (s *rpcServer) close() {
	s.ln.Close()
	s.wg.Wait()
}

// rpcClients keeps one client per peer RPC address.
type rpcClients struct {
	dial    func(addr string) (net.Conn, error)
	mu      sync.Mutex
	clients map[string]*rpc.Client
}

func (c *rpcClients) get(addr string) (*rpc.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[addr]; ok {
		return cl, nil
	}
	conn, err := c.dial(addr)
	if err != nil {
		return nil, err
	}
	cl := rpc.NewClient(conn)
	if c.clients == nil {
		c.clients = make(map[string]*rpc.Client)
	}
	c.clients[addr] = cl
	return cl, nil
}

// drop forgets a client after a transport error, so the next call redials.
func (c *rpcClients) drop(addr string, cl *rpc.Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clients[addr] == cl {
		delete(c.clients, addr)
		cl.Close()
	}
}

func (c *rpcClients) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for a, cl := range c.clients {
		cl.Close()
		delete(c.clients, a)
	}
}

// isTransportError tells a broken connection from an error the remote
// method returned (which net/rpc delivers as rpc.ServerError).
func isTransportError(err error) bool {
	var se rpc.ServerError
	return err != nil && !errors.As(err, &se)
}
