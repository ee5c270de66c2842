package wire

import "strconv"

// EventType is a watch event type, numbered as in ZooKeeper's
// Watcher.Event.EventType. It covers more than tree.EventType: the session
// events (EventNone) and the watch-removal events exist only on the wire.
type EventType int32

// The event types.
const (
	EventNone                   EventType = -1
	EventNodeCreated            EventType = 1
	EventNodeDeleted            EventType = 2
	EventNodeDataChanged        EventType = 3
	EventNodeChildrenChanged    EventType = 4
	EventDataWatchRemoved       EventType = 5
	EventChildWatchRemoved      EventType = 6
	EventPersistentWatchRemoved EventType = 7
)

var eventNames = map[EventType]string{
	EventNone:                   "None",
	EventNodeCreated:            "NodeCreated",
	EventNodeDeleted:            "NodeDeleted",
	EventNodeDataChanged:        "NodeDataChanged",
	EventNodeChildrenChanged:    "NodeChildrenChanged",
	EventDataWatchRemoved:       "DataWatchRemoved",
	EventChildWatchRemoved:      "ChildWatchRemoved",
	EventPersistentWatchRemoved: "PersistentWatchRemoved",
}

// String returns ZooKeeper's name for the event type, as zkCli.sh prints it.
func (t EventType) String() string {
	if s, ok := eventNames[t]; ok {
		return s
	}
	return "Unknown(" + strconv.Itoa(int(t)) + ")"
}

// KeeperState is a session state, numbered as in ZooKeeper's
// Watcher.Event.KeeperState.
type KeeperState int32

// The keeper states. StateNoSyncConnected is deprecated in ZooKeeper and
// never sent.
const (
	StateUnknown           KeeperState = -1
	StateDisconnected      KeeperState = 0
	StateNoSyncConnected   KeeperState = 1
	StateSyncConnected     KeeperState = 3
	StateAuthFailed        KeeperState = 4
	StateConnectedReadOnly KeeperState = 5
	StateSaslAuthenticated KeeperState = 6
	StateExpired           KeeperState = -112
	StateClosed            KeeperState = 7
)

var stateNames = map[KeeperState]string{
	StateUnknown:           "Unknown",
	StateDisconnected:      "Disconnected",
	StateNoSyncConnected:   "NoSyncConnected",
	StateSyncConnected:     "SyncConnected",
	StateAuthFailed:        "AuthFailed",
	StateConnectedReadOnly: "ConnectedReadOnly",
	StateSaslAuthenticated: "SaslAuthenticated",
	StateExpired:           "Expired",
	StateClosed:            "Closed",
}

// String returns ZooKeeper's name for the state.
func (s KeeperState) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "Unknown(" + strconv.Itoa(int(s)) + ")"
}

// AddWatchMode is the mode of an addWatch request, as in ZooKeeper's
// AddWatchMode.
type AddWatchMode int32

// The addWatch modes.
const (
	AddWatchPersistent          AddWatchMode = 0
	AddWatchPersistentRecursive AddWatchMode = 1
)

// WatcherType selects the watches a checkWatches or removeWatches request
// applies to, as in ZooKeeper's Watcher.WatcherType.
type WatcherType int32

// The watcher types.
const (
	WatcherChildren WatcherType = 1
	WatcherData     WatcherType = 2
	WatcherAny      WatcherType = 3
)

// WatcherEvent is the body of a notification (reply xid XidNotification).
// Servers send node events with State StateSyncConnected and the full path;
// clients strip their own chroot.
type WatcherEvent struct {
	Type  EventType
	State KeeperState
	Path  string
}

// Encode appends the event.
func (r *WatcherEvent) Encode(e *Encoder) {
	e.Int(int32(r.Type))
	e.Int(int32(r.State))
	e.String(r.Path)
}

// Decode reads the event.
func (r *WatcherEvent) Decode(d *Decoder) error {
	r.Type = EventType(d.Int())
	r.State = KeeperState(d.Int())
	r.Path = d.String()
	return d.Err()
}
