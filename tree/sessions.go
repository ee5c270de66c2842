package tree

// applyCreateSession registers a session. The id must be one that cannot be
// mistaken for a container or TTL marker in an ephemeralOwner (ZooKeeper
// keeps server ids at or below 254 for the same reason), and 0 stands for
// the server itself; either, or an id already in use, is ErrBadArguments.
func (t *Tree) applyCreateSession(op CreateSession) Result {
	if ephemeralKind(op.ID) != ephemeralNormal || t.sessions[op.ID] != nil {
		return Result{Err: ErrBadArguments}
	}
	s := &session{Session: Session{ID: op.ID, Timeout: op.Timeout, Password: cloneBytes(op.Password)}}
	t.sessions[op.ID] = s
	t.markSession(op.ID)
	return Result{}
}

// applyCloseSession ends a session and deletes its ephemeral nodes in path
// order, each with its NodeDeleted and NodeChildrenChanged events. An unknown
// session is ErrSessionExpired, so a repeated close is harmless.
func (t *Tree) applyCloseSession(h Header, op CloseSession) Result {
	s := t.sessions[op.ID]
	if s == nil {
		return Result{Err: ErrSessionExpired}
	}
	for _, path := range sortedKeys(s.ephemerals) {
		t.deleteNode(h, t.nodes[path])
	}
	delete(t.sessions, op.ID)
	t.markSession(op.ID)
	return Result{}
}

// applyClaimSession records the session's new owner. An unknown session is
// ErrSessionExpired: the client's resume comes too late.
func (t *Tree) applyClaimSession(op ClaimSession) Result {
	s := t.sessions[op.ID]
	if s == nil {
		return Result{Err: ErrSessionExpired}
	}
	s.Owner = op.Owner
	t.markSession(op.ID)
	return Result{}
}

// moved reports whether a command comes from a connection that no longer
// owns its session: one with an owner, for a session another connection
// has claimed since. The session's own lifecycle (create, close, claim)
// and the server's commands are not checked.
func (t *Tree) moved(h Header, op Op) bool {
	if h.Owner == 0 || h.Session == 0 {
		return false
	}
	switch op.(type) {
	case CreateSession, CloseSession, ClaimSession, Reap:
		return false
	}
	s := t.sessions[h.Session]
	return s != nil && s.Owner != 0 && s.Owner != h.Owner
}
