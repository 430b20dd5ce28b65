/// A named point in a journaled operation where `TETHER_FAILPOINTS` can crash tetherd (as
/// SIGKILL would) or make the step fail, to prove that every cut converges on restart: fully done
/// or fully undone, nothing leaked. Each name says what has just happened when it is reached.
public enum Failpoint: String, Sendable, Hashable, CaseIterable, Codable {
    /// Attach: the intent (state attaching) is journaled; the connector has not started.
    case attachJournaled = "attach.journaled"
    /// Attach: the connector attached; its result is not journaled yet.
    case attachConnected = "attach.connected"
    /// Attach: the result is journaled (state attached); the answer is not sent.
    case attachRecorded = "attach.recorded"
    /// Detach: state detaching is journaled; the connector has not started.
    case detachJournaled = "detach.journaled"
    /// Detach: the connector detached; the record is not removed yet.
    case detachDisconnected = "detach.disconnected"
    /// Export (or a new grant): the export and its grants are journaled; the target is not changed yet.
    case exportJournaled = "export.journaled"
    /// Export: the target has the journaled export (target, LUN, ACL, CHAP); the answer is not sent.
    case exportApplied = "export.applied"
    /// Unexport of the last initiator: the removal intent is journaled; the target is still there.
    case unexportJournaled = "unexport.journaled"
    /// Unexport: the target is removed; the export is still journaled.
    case unexportRemoved = "unexport.removed"
    /// Revoke of one initiator of several: the remaining grants are journaled; the target still admits it.
    case revokeJournaled = "revoke.journaled"
    /// Local attach: state creating is journaled; Cinder has not been asked.
    case localAttachCreating = "local-attach.creating"
    /// Local attach: Cinder created the attachment (or reserved the volume); that is not journaled yet.
    case localAttachCinderReserved = "local-attach.cinder-reserved"
    /// Local attach: state created (with Cinder's attachment id) is journaled.
    case localAttachCreated = "local-attach.created"
    /// Local attach: attached here, state connected journaled; Cinder is not told yet.
    case localAttachConnected = "local-attach.connected"
    /// Local attach: Cinder completed the attachment; state attached is not journaled yet.
    case localAttachCinderCompleted = "local-attach.cinder-completed"
    /// Local attach: state attached is journaled; the answer is not sent.
    case localAttachAttached = "local-attach.attached"
    /// Local attach roll-back: state rolling_back is journaled; nothing is undone yet.
    case localAttachRollingBack = "local-attach.rolling-back"
    /// Local detach: state detaching is journaled; the local attachment is still there.
    case localDetachDetaching = "local-detach.detaching"
    /// Local detach: detached here and journaled; Cinder is not told yet.
    case localDetachDetached = "local-detach.detached"
    /// Local detach: Cinder released the volume; the record is not deleted yet.
    case localDetachCinderReleased = "local-detach.cinder-released"
    /// Connect: state exporting is journaled; the storage node's agent has not been asked.
    case connectJournaled = "connect.journaled"
    /// Connect: the storage node exported the volume and state exported is journaled; nothing
    /// is attached here yet.
    case connectExported = "connect.exported"
    /// Connect: attached here and state attached journaled; the answer is not sent.
    case connectAttached = "connect.attached"
    /// Disconnect: detached here (journaled); the storage node has not revoked the export yet.
    case disconnectDetached = "disconnect.detached"
}
