import Foundation
import Synchronization
import TetherCore

/// A `Connector` for agent tests: attaches after `delay`, fails when told, and counts how many
/// attaches ran at once.
public final class ScriptedConnector: Connector, Sendable {
    public let driverVolumeTypes: Set<String>
    public let mode: AttachMode
    private let state = Mutex(State())

    private struct State {
        var delay: Duration = .zero
        var failure: TetherError?
        var running = 0
        var peak = 0
        var attached: [String] = []
        var detached: [String] = []
        var detachFailure: TetherError?
        /// What `inspect` finds, per attachment id; healthy when not set.
        var health: [String: AttachmentHealth] = [:]
        /// Whether `inspect(heal: true)` repairs what it finds.
        var healable = true
        var orphans: [Orphan] = []
        var removed: [Orphan] = []
        /// Inspections wait while set, until released.
        var holding = false
        var held: [CheckedContinuation<Void, Never>] = []
    }

    public init(driverVolumeTypes: Set<String> = ["iscsi"], mode: AttachMode = .network) {
        self.driverVolumeTypes = driverVolumeTypes
        self.mode = mode
    }

    public func setDelay(_ delay: Duration) { state.withLock { $0.delay = delay } }
    public func fail(with error: TetherError?) { state.withLock { $0.failure = error } }
    public var peakConcurrency: Int { state.withLock { $0.peak } }
    public var attachedIDs: [String] { state.withLock { $0.attached } }
    public var detachedIDs: [String] { state.withLock { $0.detached } }
    public func failDetach(with error: TetherError?) { state.withLock { $0.detachFailure = error } }
    /// Makes the host show `health` for `attachmentID` until healed.
    public func setHealth(_ health: AttachmentHealth, of attachmentID: String, healable: Bool = true) {
        state.withLock {
            $0.health[attachmentID] = health
            $0.healable = healable
        }
    }
    public func setOrphans(_ orphans: [Orphan]) { state.withLock { $0.orphans = orphans } }
    public var removedOrphans: [Orphan] { state.withLock { $0.removed } }

    public func attach(_ request: AttachRequest) async throws -> AttachedVolume {
        let delay = state.withLock {
            $0.running += 1
            $0.peak = max($0.peak, $0.running)
            return $0.delay
        }
        defer { state.withLock { $0.running -= 1 } }
        try await Task.sleep(for: delay)
        if let failure = state.withLock({ $0.failure }) { throw failure }
        state.withLock { $0.attached.append(request.attachmentID) }
        return AttachedVolume(
            protocolName: "iscsi", mode: mode, paths: [.init(portal: "192.0.2.1:3260", target: "iqn.x:y", lun: 1, state: "ok")],
            wwid: "naa.6fake", sizeBytes: 1 << 20, blockSize: 512, devicePath: nil, diskXML: "<disk type='network' device='disk'>\n  <target dev='vdb' bus='virtio'/>\n</disk>\n", qemuBlockdev: ["driver": "raw"],
            qemuObjects: [], secretFiles: [])
    }

    public func detach(_ volume: AttachedVolume, attachmentID: String, force: Bool) async throws {
        try state.withLock {
            if let failure = $0.detachFailure { throw failure }
            $0.detached.append(attachmentID)
            $0.health[attachmentID] = nil
        }
    }

    /// Makes every inspection from now on wait until `releaseInspections`.
    public func holdInspections() { state.withLock { $0.holding = true } }
    /// Lets the held inspections (and later ones) go on.
    public func releaseInspections() {
        let held = state.withLock { state in
            state.holding = false
            defer { state.held = [] }
            return state.held
        }
        for continuation in held { continuation.resume() }
    }
    /// How many inspections are waiting now.
    public var heldInspections: Int { state.withLock { $0.held.count } }
    /// Returns once `count` inspections wait; throws after `limit`.
    public func waitForHeldInspections(_ count: Int, limit: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + limit
        while heldInspections < count {
            guard ContinuousClock.now < deadline else { throw TetherError(.internalError, "\(heldInspections) inspections held, not \(count), after \(limit)") }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    public func inspect(_ volume: AttachedVolume, attachmentID: String, heal: Bool) async -> Inspection {
        await withCheckedContinuation { continuation in
            let waits = state.withLock { state in
                if state.holding { state.held.append(continuation) }
                return state.holding
            }
            if !waits { continuation.resume() }
        }
        return state.withLock {
            let found = $0.health[attachmentID] ?? .healthy
            guard found != .healthy else { return .healthy(volume) }
            if heal, $0.healable {
                $0.health[attachmentID] = nil
                return .healthy(volume, repairs: ["repaired the \(found) attachment"])
            }
            return Inspection(health: found, problems: ["scripted: \(found)"], volume: volume)
        }
    }

    public func orphans(known: [AttachedVolume]) async throws -> [Orphan] {
        state.withLock { $0.orphans }
    }

    public func remove(_ orphan: Orphan) async throws {
        state.withLock {
            $0.removed.append(orphan)
            $0.orphans.removeAll { $0 == orphan }
        }
    }
}

/// An `Exporter` for agent tests: remembers the last spec per target, fails when told.
public final class RecordingExporter: Exporter, Sendable {
    public let portals: [Portal]
    private let state = Mutex<(specs: [Int: ExportSpec], failure: TetherError?)>(([:], nil))

    public init(portals: [Portal] = [Portal(host: "192.0.2.10", port: 3260), Portal(host: "198.51.100.10", port: 3260)]) {
        self.portals = portals
    }

    public func fail(with error: TetherError?) { state.withLock { $0.failure = error } }
    public var specs: [Int: ExportSpec] { state.withLock { $0.specs } }

    public func apply(_ spec: ExportSpec) async throws {
        try state.withLock {
            if let failure = $0.failure { throw failure }
            $0.specs[spec.targetNumber] = spec
        }
    }

    public func remove(_ spec: ExportSpec) async throws {
        try state.withLock {
            if let failure = $0.failure { throw failure }
            $0.specs[spec.targetNumber] = nil
        }
    }
}
