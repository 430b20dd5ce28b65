import GRDB
import Synchronization

/// Counts the committed transactions that changed the attachment table, whoever wrote them, so
/// a cache of the table (the list's, `AttachmentListCache`) knows when to read it again. GRDB
/// calls a transaction observer on the writer's queue; the count is read from any thread.
final class AttachmentChangeCounter: TransactionObserver, Sendable {
    private let state = Mutex((generation: 0, changed: false))

    var generation: Int { state.withLock { $0.generation } }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        eventKind.tableName == AttachmentRecord.databaseTableName
    }

    func databaseDidChange(with event: DatabaseEvent) {
        state.withLock { $0.changed = true }
    }

    func databaseDidCommit(_ db: Database) {
        state.withLock { state in
            if state.changed { state.generation += 1 }
            state.changed = false
        }
    }

    func databaseDidRollback(_ db: Database) {
        state.withLock { $0.changed = false }
    }
}
