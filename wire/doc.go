// Package wire is ZooKeeper 3.8's client protocol as a codec: the jute
// encoding, the length-prefixed framing, every request and response record,
// the table of opcodes, and the errors the tree has no sentinel for, with
// their codes (the tree maps its own: tree.Code). It imports only tree, so
// that the server (zkserver) and the client (zkclient) share it and a
// client links neither raft nor Pebble.
//
// A connection, as a server sees it:
//
//	fr := wire.NewFrameReader(conn, wire.DefaultMaxPacket)
//	pkt, err := fr.Next()                  // the first packet has no header
//	var creq wire.ConnectRequest
//	err = wire.Unmarshal(pkt, &creq)
//	resp := wire.ConnectResponse{TimeOut: t, SessionID: id, Passwd: pw,
//		OmitReadOnly: creq.OmitReadOnly} // go-zookeeper sends no readOnly byte
//	conn.Write(wire.AppendFrame(nil, &resp))
//	for {
//		pkt, err := fr.Next()
//		h, req, err := wire.ParseRequest(pkt) // switch on h.Type and req's type
//		...
//		conn.Write(wire.AppendFrame(nil, &wire.ReplyHeader{Xid: h.Xid, Zxid: z, Err: wire.CodeOf(err)}, body))
//	}
//
// Replies with a non-zero Err carry no body. Watch events go out as
// AppendFrame(nil, &wire.ReplyHeader{Xid: wire.XidNotification, Zxid: -1}, &wire.WatcherEvent{...}).
//
// Four-letter words ("ruok", "stat") arrive where the first length prefix
// would, and read as one far over the limit (ErrPacketLength), so a server
// that answers them peeks at the first 4 bytes before framing.
//
// Decoding never trusts a length field: every length is checked against the
// bytes actually left before anything is allocated, so a hostile packet costs
// at most its own size, and every failure wraps ErrMalformed.
package wire
