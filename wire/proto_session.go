package wire

// ConnectRequest is the first packet of every connection. It has no
// RequestHeader.
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	TimeOut         int32 // requested session timeout, milliseconds
	SessionID       int64 // 0 for a new session
	Passwd          []byte
	// ReadOnly asks for a read-only session when the server is partitioned.
	ReadOnly bool
	// OmitReadOnly records that the client sent no readOnly byte, as clients
	// older than 3.4 do. Such clients must get a ConnectResponse without it.
	OmitReadOnly bool
}

// Encode appends the request, with the readOnly byte unless OmitReadOnly.
func (r *ConnectRequest) Encode(e *Encoder) {
	e.Int(r.ProtocolVersion)
	e.Long(r.LastZxidSeen)
	e.Int(r.TimeOut)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
	if !r.OmitReadOnly {
		e.Bool(r.ReadOnly)
	}
}

// Decode reads the request; a missing trailing readOnly byte sets
// OmitReadOnly, as ZooKeeper's server tolerates it.
func (r *ConnectRequest) Decode(d *Decoder) error {
	r.ProtocolVersion = d.Int()
	r.LastZxidSeen = d.Long()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	r.ReadOnly, r.OmitReadOnly = false, false
	if d.Err() == nil && d.Remaining() == 0 {
		r.OmitReadOnly = true
	} else {
		r.ReadOnly = d.Bool()
	}
	return d.Err()
}

// ConnectResponse answers a ConnectRequest. A TimeOut of 0 (or any value
// <= 0) tells the client its session is invalid: it was expired or its
// password did not match.
type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32 // negotiated session timeout, milliseconds
	SessionID       int64
	Passwd          []byte
	// ReadOnly tells the client the server is in read-only mode.
	ReadOnly bool
	// OmitReadOnly leaves out the readOnly byte, for clients whose request
	// had none.
	OmitReadOnly bool
}

// Encode appends the response, with the readOnly byte unless OmitReadOnly.
func (r *ConnectResponse) Encode(e *Encoder) {
	e.Int(r.ProtocolVersion)
	e.Int(r.TimeOut)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
	if !r.OmitReadOnly {
		e.Bool(r.ReadOnly)
	}
}

// Decode reads the response; a missing readOnly byte sets OmitReadOnly.
func (r *ConnectResponse) Decode(d *Decoder) error {
	r.ProtocolVersion = d.Int()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	r.ReadOnly, r.OmitReadOnly = false, false
	if d.Err() == nil && d.Remaining() == 0 {
		r.OmitReadOnly = true
	} else {
		r.ReadOnly = d.Bool()
	}
	return d.Err()
}

// RequestHeader starts every request after the ConnectRequest.
type RequestHeader struct {
	Xid  int32
	Type OpCode
}

// Encode appends the header.
func (r *RequestHeader) Encode(e *Encoder) {
	e.Int(r.Xid)
	e.Int(int32(r.Type))
}

// Decode reads the header.
func (r *RequestHeader) Decode(d *Decoder) error {
	r.Xid = d.Int()
	r.Type = OpCode(d.Int())
	return d.Err()
}

// ReplyHeader starts every reply and notification. When Err is not 0 the
// reply carries no body.
type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  int32
}

// Encode appends the header.
func (r *ReplyHeader) Encode(e *Encoder) {
	e.Int(r.Xid)
	e.Long(r.Zxid)
	e.Int(r.Err)
}

// Decode reads the header.
func (r *ReplyHeader) Decode(d *Decoder) error {
	r.Xid = d.Int()
	r.Zxid = d.Long()
	r.Err = d.Int()
	return d.Err()
}

// AuthPacket is the body of an auth request (zkCli.sh's addauth). Type is
// always 0 in practice.
type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

// Encode appends the packet.
func (r *AuthPacket) Encode(e *Encoder) {
	e.Int(r.Type)
	e.String(r.Scheme)
	e.Buffer(r.Auth)
}

// Decode reads the packet.
func (r *AuthPacket) Decode(d *Decoder) error {
	r.Type = d.Int()
	r.Scheme = d.String()
	r.Auth = d.Buffer()
	return d.Err()
}

// GetSASLRequest is the body of a sasl request: the client's SASL token.
// Despite its name it is what clients send with OpSASL.
type GetSASLRequest struct {
	Token []byte
}

// Encode appends the request.
func (r *GetSASLRequest) Encode(e *Encoder) { e.Buffer(r.Token) }

// Decode reads the request.
func (r *GetSASLRequest) Decode(d *Decoder) error {
	r.Token = d.Buffer()
	return d.Err()
}

// SetSASLRequest carries a SASL token; ZooKeeper defines it alongside
// GetSASLRequest with the same shape.
type SetSASLRequest struct {
	Token []byte
}

// Encode appends the request.
func (r *SetSASLRequest) Encode(e *Encoder) { e.Buffer(r.Token) }

// Decode reads the request.
func (r *SetSASLRequest) Decode(d *Decoder) error {
	r.Token = d.Buffer()
	return d.Err()
}

// SetSASLResponse answers a sasl request with the server's token.
type SetSASLResponse struct {
	Token []byte
}

// Encode appends the response.
func (r *SetSASLResponse) Encode(e *Encoder) { e.Buffer(r.Token) }

// Decode reads the response.
func (r *SetSASLResponse) Decode(d *Decoder) error {
	r.Token = d.Buffer()
	return d.Err()
}

// PingRequest is the empty body of a ping (xid XidPing). Its reply has no
// body either.
type PingRequest struct{}

// Encode appends nothing.
func (*PingRequest) Encode(*Encoder) {}

// Decode reads nothing.
func (*PingRequest) Decode(d *Decoder) error { return d.Err() }

// CloseSessionRequest is the empty body of a closeSession request.
type CloseSessionRequest struct{}

// Encode appends nothing.
func (*CloseSessionRequest) Encode(*Encoder) {}

// Decode reads nothing.
func (*CloseSessionRequest) Decode(d *Decoder) error { return d.Err() }

// WhoAmIRequest is the empty body of a whoAmI request.
type WhoAmIRequest struct{}

// Encode appends nothing.
func (*WhoAmIRequest) Encode(*Encoder) {}

// Decode reads nothing.
func (*WhoAmIRequest) Decode(d *Decoder) error { return d.Err() }

// WhoAmIResponse lists the identities the session has authenticated as.
type WhoAmIResponse struct {
	ClientInfo []ClientInfo
}

// Encode appends the response.
func (r *WhoAmIResponse) Encode(e *Encoder) {
	EncodeVector(e, r.ClientInfo, func(e *Encoder, c ClientInfo) { c.Encode(e) })
}

// Decode reads the response.
func (r *WhoAmIResponse) Decode(d *Decoder) error {
	r.ClientInfo = DecodeVector(d, minInfoSize, func(d *Decoder) ClientInfo {
		var c ClientInfo
		c.Decode(d)
		return c
	})
	return d.Err()
}
