package wire

import "zkfs/tree"

// CreateRequest is the body of create, create2 and createContainer; the
// opcode alone decides whether the reply is a CreateResponse (create) or a
// Create2Response (the other two).
type CreateRequest struct {
	Path string
	Data []byte
	ACL  []ACL
	// Mode is the jute field "flags": CreateMode's numbers, which are the
	// tree's.
	Mode tree.Mode
}

// Encode appends the request.
func (r *CreateRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	e.ACLs(r.ACL)
	e.Int(int32(r.Mode))
}

// Decode reads the request.
func (r *CreateRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = d.ACLs()
	r.Mode = tree.Mode(d.Int())
	return d.Err()
}

// CreateTTLRequest is the body of createTTL: a CreateRequest plus the TTL in
// milliseconds.
type CreateTTLRequest struct {
	Path string
	Data []byte
	ACL  []ACL
	Mode tree.Mode
	TTL  int64
}

// Encode appends the request.
func (r *CreateTTLRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	e.ACLs(r.ACL)
	e.Int(int32(r.Mode))
	e.Long(r.TTL)
}

// Decode reads the request.
func (r *CreateTTLRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = d.ACLs()
	r.Mode = tree.Mode(d.Int())
	r.TTL = d.Long()
	return d.Err()
}

// CreateResponse answers create with the created path, which differs from
// the requested one for sequential nodes.
type CreateResponse struct {
	Path string
}

// Encode appends the response.
func (r *CreateResponse) Encode(e *Encoder) { e.String(r.Path) }

// Decode reads the response.
func (r *CreateResponse) Decode(d *Decoder) error {
	r.Path = d.String()
	return d.Err()
}

// Create2Response answers create2, createContainer and createTTL.
type Create2Response struct {
	Path string
	Stat Stat
}

// Encode appends the response.
func (r *Create2Response) Encode(e *Encoder) {
	e.String(r.Path)
	e.Stat(&r.Stat)
}

// Decode reads the response.
func (r *Create2Response) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Stat = d.Stat()
	return d.Err()
}

// DeleteRequest is the body of delete; its reply has no body.
type DeleteRequest struct {
	Path    string
	Version int32
}

// Encode appends the request.
func (r *DeleteRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Int(r.Version)
}

// Decode reads the request.
func (r *DeleteRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Version = d.Int()
	return d.Err()
}

// SetDataRequest is the body of setData.
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

// Encode appends the request.
func (r *SetDataRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	e.Int(r.Version)
}

// Decode reads the request.
func (r *SetDataRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.Version = d.Int()
	return d.Err()
}

// SetDataResponse answers setData.
type SetDataResponse struct {
	Stat Stat
}

// Encode appends the response.
func (r *SetDataResponse) Encode(e *Encoder) { e.Stat(&r.Stat) }

// Decode reads the response.
func (r *SetDataResponse) Decode(d *Decoder) error {
	r.Stat = d.Stat()
	return d.Err()
}

// SetACLRequest is the body of setACL; Version is the expected aversion.
type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

// Encode appends the request.
func (r *SetACLRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.ACLs(r.ACL)
	e.Int(r.Version)
}

// Decode reads the request.
func (r *SetACLRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	r.ACL = d.ACLs()
	r.Version = d.Int()
	return d.Err()
}

// SetACLResponse answers setACL.
type SetACLResponse struct {
	Stat Stat
}

// Encode appends the response.
func (r *SetACLResponse) Encode(e *Encoder) { e.Stat(&r.Stat) }

// Decode reads the response.
func (r *SetACLResponse) Decode(d *Decoder) error {
	r.Stat = d.Stat()
	return d.Err()
}

// CheckVersionRequest is the body of check, which only occurs inside a multi.
type CheckVersionRequest struct {
	Path    string
	Version int32
}

// Encode appends the request.
func (r *CheckVersionRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Int(r.Version)
}

// Decode reads the request.
func (r *CheckVersionRequest) Decode(d *Decoder) error {
	r.Path = d.String()
	r.Version = d.Int()
	return d.Err()
}

// ErrorResponse carries an error code: inside a multi response for a failed
// operation, and as the whole body of an addWatch reply (with Err 0).
type ErrorResponse struct {
	Err int32
}

// Encode appends the response.
func (r *ErrorResponse) Encode(e *Encoder) { e.Int(r.Err) }

// Decode reads the response.
func (r *ErrorResponse) Decode(d *Decoder) error {
	r.Err = d.Int()
	return d.Err()
}

// ReconfigRequest is the body of reconfig; its reply is a GetDataResponse
// holding the new configuration. Servers without dynamic reconfiguration
// answer ReconfigDisabled.
type ReconfigRequest struct {
	JoiningServers string
	LeavingServers string
	NewMembers     string
	CurConfigID    int64
}

// Encode appends the request.
func (r *ReconfigRequest) Encode(e *Encoder) {
	e.String(r.JoiningServers)
	e.String(r.LeavingServers)
	e.String(r.NewMembers)
	e.Long(r.CurConfigID)
}

// Decode reads the request.
func (r *ReconfigRequest) Decode(d *Decoder) error {
	r.JoiningServers = d.String()
	r.LeavingServers = d.String()
	r.NewMembers = d.String()
	r.CurConfigID = d.Long()
	return d.Err()
}
