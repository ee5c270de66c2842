package zkclient

import "zkfs/wire"

// The reads below are those that `import/export zookeeper --follow` makes
// on the session that holds its persistent watch, so that the source
// serves one session per invocation (go-zookeeper, which the rest of the
// command line uses, cannot set that watch).

// Get returns the node's data and stat.
func (c *Conn) Get(path string) ([]byte, *wire.Stat, error) {
	var resp wire.GetDataResponse
	if _, err := c.do(wire.OpGetData, &wire.GetDataRequest{Path: path}, &resp); err != nil {
		return nil, nil, err
	}
	return resp.Data, &resp.Stat, nil
}

// GetACL returns the node's ACL and stat.
func (c *Conn) GetACL(path string) ([]wire.ACL, *wire.Stat, error) {
	var resp wire.GetACLResponse
	if _, err := c.do(wire.OpGetACL, &wire.GetACLRequest{Path: path}, &resp); err != nil {
		return nil, nil, err
	}
	return resp.ACL, &resp.Stat, nil
}

// Children returns the names of the node's children and its stat
// (getChildren2).
func (c *Conn) Children(path string) ([]string, *wire.Stat, error) {
	var resp wire.GetChildren2Response
	if _, err := c.do(wire.OpGetChildren2, &wire.GetChildren2Request{Path: path}, &resp); err != nil {
		return nil, nil, err
	}
	return resp.Children, &resp.Stat, nil
}
