package wire

// SetWatches is sent by a client that reconnects, to re-register its
// watches; the server fires at once those whose node changed after
// RelativeZxid. Its reply has no body. Clients split long lists over several
// packets.
type SetWatches struct {
	RelativeZxid int64
	DataWatches  []string
	ExistWatches []string
	ChildWatches []string
}

// Encode appends the request.
func (r *SetWatches) Encode(e *Encoder) {
	e.Long(r.RelativeZxid)
	e.Strings(r.DataWatches)
	e.Strings(r.ExistWatches)
	e.Strings(r.ChildWatches)
}

// Decode reads the request.
func (r *SetWatches) Decode(d *Decoder) error {
	r.RelativeZxid = d.Long()
	r.DataWatches = d.Strings()
	r.ExistWatches = d.Strings()
	r.ChildWatches = d.Strings()
	return d.Err()
}

// SetWatches2 is SetWatches for clients that also hold persistent watches
// (ZooKeeper 3.6 and later).
type SetWatches2 struct {
	RelativeZxid               int64
	DataWatches                []string
	ExistWatches               []string
	ChildWatches               []string
	PersistentWatches          []string
	PersistentRecursiveWatches []string
}

// Encode appends the request.
func (r *SetWatches2) Encode(e *Encoder) {
	e.Long(r.RelativeZxid)
	e.Strings(r.DataWatches)
	e.Strings(r.ExistWatches)
	e.Strings(r.ChildWatches)
	e.Strings(r.PersistentWatches)
	e.Strings(r.PersistentRecursiveWatches)
}

// Decode reads the request.
func (r *SetWatches2) Decode(d *Decoder) error {
	r.RelativeZxid = d.Long()
	r.DataWatches = d.Strings()
	r.ExistWatches = d.Strings()
	r.ChildWatches = d.Strings()
	r.PersistentWatches = d.Strings()
	r.PersistentRecursiveWatches = d.Strings()
	return d.Err()
}

// AddWatchRequest is the body of addWatch, which sets a persistent watch.
// ZooKeeper answers it with ErrorResponse{Err: 0}.
type AddWatchRequest struct {
	Path string
	Mode AddWatchMode
}

// Encode appends the request.
func (r *AddWatchRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Int(int32(r.Mode))
}

// Decode reads the request.
func (r *AddWatchRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Mode = AddWatchMode(d.Int())
	return d.Err()
}

// CheckWatchesRequest is the body of checkWatches: does the session hold a
// watch of this type on Path? The reply has no body; NoWatcher means no.
type CheckWatchesRequest struct {
	Path string
	Type WatcherType
}

// Encode appends the request.
func (r *CheckWatchesRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Int(int32(r.Type))
}

// Decode reads the request.
func (r *CheckWatchesRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Type = WatcherType(d.Int())
	return d.Err()
}

// RemoveWatchesRequest is the body of removeWatches. The reply has no body;
// NoWatcher reports that there was nothing to remove.
type RemoveWatchesRequest struct {
	Path string
	Type WatcherType
}

// Encode appends the request.
func (r *RemoveWatchesRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Int(int32(r.Type))
}

// Decode reads the request.
func (r *RemoveWatchesRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Type = WatcherType(d.Int())
	return d.Err()
}
