import TetherCore

/// Hands each new attachment a disk target (`vdb`, `vdc`, …) that no other attachment of this
/// node has, so the disk XMLs of several Tether volumes can go into one domain as they are.
/// Volumes attach in parallel under their own locks: a name is reserved here from the moment it
/// is chosen until its attachment is journaled (or has failed), so two never get the same one.
actor DiskTargets {
    private var reserved: Set<Int> = []

    /// The lowest index at or above `DiskTarget.firstIndex` that is neither `used` nor reserved.
    func reserve(avoiding used: Set<Int>) throws -> Int {
        guard let index = (DiskTarget.firstIndex...DiskTarget.lastIndex).first(where: { !used.contains($0) && !reserved.contains($0) }) else {
            throw TetherError(.conflict, "every disk target from vdb to vdzz is taken by an attachment of this node", hint: "detach volumes that are no longer used")
        }
        reserved.insert(index)
        return index
    }

    func release(_ index: Int) {
        reserved.remove(index)
    }
}
