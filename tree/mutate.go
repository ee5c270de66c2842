package tree

// The primitives below are the only code that changes the tree's structure
// or a node's fields. Each marks what it changed as dirty for TakeChanges
// and, inside a multi, records how to undo itself.

// touch is called before changing a node's meta fields.
func (t *Tree) touch(n *node) {
	t.markNode(n.path)
	if t.undo != nil {
		saved := n.meta
		t.pushUndo(func() { n.meta = saved })
	}
}

func (t *Tree) pushUndo(f func()) {
	*t.undo = append(*t.undo, f)
}

func (t *Tree) markNode(path string) {
	if _, ok := t.dirtyNodes[path]; ok {
		return
	}
	t.dirtyNodes[path] = struct{}{}
	if t.undo != nil {
		t.pushUndo(func() { delete(t.dirtyNodes, path) })
	}
}

func (t *Tree) markSession(id int64) {
	if _, ok := t.dirtySessions[id]; ok {
		return
	}
	t.dirtySessions[id] = struct{}{}
	if t.undo != nil {
		t.pushUndo(func() { delete(t.dirtySessions, id) })
	}
}

// insertNode links a new node under parent with the given ACL.
func (t *Tree) insertNode(n, parent *node, acl []ACL) {
	n.acl = t.acls.acquire(acl)
	t.link(n, parent)
	t.markNode(n.path)
	if t.undo != nil {
		t.pushUndo(func() {
			t.unlink(n, parent)
			t.acls.release(n.acl)
		})
	}
}

// removeNode unlinks a childless node from its parent.
func (t *Tree) removeNode(n, parent *node) {
	t.unlink(n, parent)
	t.acls.release(n.acl)
	t.markNode(n.path)
	if t.undo != nil {
		t.pushUndo(func() {
			t.acls.retain(n.acl)
			t.link(n, parent)
		})
	}
}

// link adds n to the path index, its parent's children and the indexes
// that depend on its ephemeralOwner.
func (t *Tree) link(n, parent *node) {
	parent.addChild(n)
	t.nodes[n.path] = n
	switch ephemeralKind(n.owner) {
	case ephemeralNormal:
		if s := t.sessions[n.owner]; s != nil {
			if s.ephemerals == nil {
				s.ephemerals = make(map[string]struct{})
			}
			s.ephemerals[n.path] = struct{}{}
		}
	case ephemeralContainer:
		t.containers[n] = struct{}{}
	case ephemeralTTL:
		t.ttls[n] = struct{}{}
	}
}

// unlink reverses link.
func (t *Tree) unlink(n, parent *node) {
	parent.removeChild(n)
	delete(t.nodes, n.path)
	switch ephemeralKind(n.owner) {
	case ephemeralNormal:
		if s := t.sessions[n.owner]; s != nil {
			delete(s.ephemerals, n.path)
		}
	case ephemeralContainer:
		delete(t.containers, n)
	case ephemeralTTL:
		delete(t.ttls, n)
	}
}
