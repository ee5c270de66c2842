package wire

// ExistsRequest is the body of exists. A missing node is answered with
// NoNode, and the watch, if asked for, is still set: it fires on creation.
type ExistsRequest struct {
	Path  string
	Watch bool
}

// Encode appends the request.
func (r *ExistsRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Bool(r.Watch)
}

// Decode reads the request.
func (r *ExistsRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Watch = d.Bool()
	return d.Err()
}

// ExistsResponse answers exists for a node that exists.
type ExistsResponse struct {
	Stat Stat
}

// Encode appends the response.
func (r *ExistsResponse) Encode(e *Encoder) { e.Stat(&r.Stat) }

// Decode reads the response.
func (r *ExistsResponse) Decode(d *Decoder) error {
	r.Stat = d.Stat()
	return d.Err()
}

// GetDataRequest is the body of getData, and of a getData inside a multiRead
// (where Watch is ignored).
type GetDataRequest struct {
	Path  string
	Watch bool
}

// Encode appends the request.
func (r *GetDataRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Bool(r.Watch)
}

// Decode reads the request.
func (r *GetDataRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Watch = d.Bool()
	return d.Err()
}

// GetDataResponse answers getData and reconfig. Nil Data is sent as null,
// which clients show as "null"; ZooKeeper does that for nodes created
// without data.
type GetDataResponse struct {
	Data []byte
	Stat Stat
}

// Encode appends the response.
func (r *GetDataResponse) Encode(e *Encoder) {
	e.Buffer(r.Data)
	e.Stat(&r.Stat)
}

// Decode reads the response.
func (r *GetDataResponse) Decode(d *Decoder) error {
	r.Data = d.Buffer()
	r.Stat = d.Stat()
	return d.Err()
}

// GetACLRequest is the body of getACL.
type GetACLRequest struct {
	Path string
}

// Encode appends the request.
func (r *GetACLRequest) Encode(e *Encoder) { e.String(r.Path) }

// Decode reads the request.
func (r *GetACLRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	return d.Err()
}

// GetACLResponse answers getACL.
type GetACLResponse struct {
	ACL  []ACL
	Stat Stat
}

// Encode appends the response.
func (r *GetACLResponse) Encode(e *Encoder) {
	e.ACLs(r.ACL)
	e.Stat(&r.Stat)
}

// Decode reads the response.
func (r *GetACLResponse) Decode(d *Decoder) error {
	r.ACL = d.ACLs()
	r.Stat = d.Stat()
	return d.Err()
}

// GetChildrenRequest is the body of getChildren, and of a getChildren inside
// a multiRead (where Watch is ignored).
type GetChildrenRequest struct {
	Path  string
	Watch bool
}

// Encode appends the request.
func (r *GetChildrenRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Bool(r.Watch)
}

// Decode reads the request.
func (r *GetChildrenRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Watch = d.Bool()
	return d.Err()
}

// GetChildrenResponse answers getChildren with the child names (not paths).
type GetChildrenResponse struct {
	Children []string
}

// Encode appends the response.
func (r *GetChildrenResponse) Encode(e *Encoder) { e.Strings(r.Children) }

// Decode reads the response.
func (r *GetChildrenResponse) Decode(d *Decoder) error {
	r.Children = d.Strings()
	return d.Err()
}

// GetChildren2Request is the body of getChildren2, which zkCli's "ls -s"
// and most client libraries use.
type GetChildren2Request struct {
	Path  string
	Watch bool
}

// Encode appends the request.
func (r *GetChildren2Request) Encode(e *Encoder) {
	e.String(r.Path)
	e.Bool(r.Watch)
}

// Decode reads the request.
func (r *GetChildren2Request) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Watch = d.Bool()
	return d.Err()
}

// GetChildren2Response answers getChildren2.
type GetChildren2Response struct {
	Children []string
	Stat     Stat
}

// Encode appends the response.
func (r *GetChildren2Response) Encode(e *Encoder) {
	e.Strings(r.Children)
	e.Stat(&r.Stat)
}

// Decode reads the response.
func (r *GetChildren2Response) Decode(d *Decoder) error {
	r.Children = d.Strings()
	r.Stat = d.Stat()
	return d.Err()
}

// GetAllChildrenNumberRequest is the body of getAllChildrenNumber: the count
// of all descendants, zkCli's getAllChildrenNumber.
type GetAllChildrenNumberRequest struct {
	Path string
}

// Encode appends the request.
func (r *GetAllChildrenNumberRequest) Encode(e *Encoder) { e.String(r.Path) }

// Decode reads the request.
func (r *GetAllChildrenNumberRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	return d.Err()
}

// GetAllChildrenNumberResponse answers getAllChildrenNumber.
type GetAllChildrenNumberResponse struct {
	TotalNumber int32
}

// Encode appends the response.
func (r *GetAllChildrenNumberResponse) Encode(e *Encoder) { e.Int(r.TotalNumber) }

// Decode reads the response.
func (r *GetAllChildrenNumberResponse) Decode(d *Decoder) error {
	r.TotalNumber = d.Int()
	return d.Err()
}

// GetEphemeralsRequest is the body of getEphemerals: the session's own
// ephemeral nodes whose path starts with PrefixPath.
type GetEphemeralsRequest struct {
	PrefixPath string
}

// Encode appends the request.
func (r *GetEphemeralsRequest) Encode(e *Encoder) { e.String(r.PrefixPath) }

// Decode reads the request.
func (r *GetEphemeralsRequest) Decode(d *Decoder) error {
	r.PrefixPath = d.String()
	return d.Err()
}

// GetEphemeralsResponse answers getEphemerals with full paths.
type GetEphemeralsResponse struct {
	Ephemerals []string
}

// Encode appends the response.
func (r *GetEphemeralsResponse) Encode(e *Encoder) { e.Strings(r.Ephemerals) }

// Decode reads the response.
func (r *GetEphemeralsResponse) Decode(d *Decoder) error {
	r.Ephemerals = d.Strings()
	return d.Err()
}

// SyncRequest is the body of sync.
type SyncRequest struct {
	Path string
}

// Encode appends the request.
func (r *SyncRequest) Encode(e *Encoder) { e.String(r.Path) }

// Decode reads the request.
func (r *SyncRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	return d.Err()
}

// SyncResponse answers sync with the requested path.
type SyncResponse struct {
	Path string
}

// Encode appends the response.
func (r *SyncResponse) Encode(e *Encoder) { e.String(r.Path) }

// Decode reads the response.
func (r *SyncResponse) Decode(d *Decoder) error {
	r.Path = d.String()
	return d.Err()
}
