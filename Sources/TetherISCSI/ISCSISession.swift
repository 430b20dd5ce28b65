internal import CISCSI
import Dispatch
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// One iSCSI session to one portal, through libiscsi in userspace.
///
/// libiscsi is not thread-safe, so each session owns a serial queue and touches its context only
/// there. libiscsi 1.19's auto-reconnect blocks forever while a target is down and can crash on
/// destroy (LAB.md), so it is off: a broken session is closed and a new one opened. Every call
/// drives libiscsi's async API from Tether's own poll loop under a deadline, so no call can hang.
public final class ISCSISession: @unchecked Sendable {
    // Touched only on `queue`; that is the whole of the thread-safety argument.
    private let context: OpaquePointer
    private let queue: DispatchQueue
    private let timeouts: ISCSITimeouts
    private var pending: [Completion] = []
    private var closed = false
    public let portal: Portal
    public let target: String

    private init(context: OpaquePointer, portal: Portal, target: String, timeouts: ISCSITimeouts) {
        self.context = context
        self.portal = portal
        self.target = target
        self.timeouts = timeouts
        self.queue = DispatchQueue(label: "tether.iscsi.\(portal)")
    }

    deinit {
        if !closed {
            iscsi_destroy_context(context)
        }
    }

    /// Connects to `portal` and logs in to `target` (a normal session).
    /// The corresponding C functions are `iscsi_connect_async` and `iscsi_login_async`.
    public static func login(
        portal: Portal, target: String, initiator: String, chap: CHAPCredentials?, mutualCHAP: CHAPCredentials? = nil,
        timeouts: ISCSITimeouts = ISCSITimeouts()
    ) async throws -> ISCSISession {
        let session = try makeSession(portal: portal, target: target, initiator: initiator, chap: chap, mutualCHAP: mutualCHAP, discovery: false, timeouts: timeouts)
        do {
            try await session.perform { try $0.connectAndLogin() }
        } catch {
            await session.close()
            throw error
        }
        return session
    }

    /// A target and the portals it is reachable on, as SendTargets reports them.
    public struct DiscoveredTarget: Sendable, Hashable {
        public var iqn: String
        public var portals: [Portal]
    }

    /// Runs SendTargets discovery on `portal`. The corresponding C function is `iscsi_discovery_async`.
    public static func discover(
        portal: Portal, initiator: String, chap: CHAPCredentials?, timeouts: ISCSITimeouts = ISCSITimeouts()
    ) async throws -> [DiscoveredTarget] {
        let session = try makeSession(portal: portal, target: "", initiator: initiator, chap: chap, mutualCHAP: nil, discovery: true, timeouts: timeouts)
        do {
            let found = try await session.discoverOnQueue()
            await session.close()
            return found
        } catch {
            await session.close()
            throw error
        }
    }

    /// Logs in to `target` on `portal`, sends REPORT LUNS, INQUIRY VPD 0x83 and READ CAPACITY(16)
    /// for `lun` at once, and closes: the whole look in one job on the session's queue (one
    /// thread hop, one round trip for the three commands), as the network connector's attach needs.
    public static func probe(
        portal: Portal, target: String, initiator: String, lun: Int, chap: CHAPCredentials?, mutualCHAP: CHAPCredentials? = nil,
        timeouts: ISCSITimeouts = ISCSITimeouts()
    ) async throws -> LUNProbe {
        let lun32 = try cLUN(lun)
        let session = try makeSession(portal: portal, target: target, initiator: initiator, chap: chap, mutualCHAP: mutualCHAP, discovery: false, timeouts: timeouts)
        return try await session.perform { session in
            defer { session.closeOnQueue() }
            try session.connectAndLogin()
            let results = try session.scsiBatchOnQueue([
                ("REPORT LUNS", { context, callback, box in iscsi_reportluns_task(context, 0, 4096, callback, box) }),
                ("INQUIRY VPD 0x83", { context, callback, box in iscsi_inquiry_task(context, lun32, 1, 0x83, 255, callback, box) }),
                ("READ CAPACITY(16)", { context, callback, box in iscsi_readcapacity16_task(context, lun32, callback, box) }),
            ])
            let what = "\(portal) \(target) lun \(lun)"
            return LUNProbe(
                luns: SCSIData.reportedLUNs(try results[0].get()), vpd83: results[1],
                capacity: results[2].flatMap { data in Result { try capacity(data, of: what) }.mapError { $0 as? TetherError ?? TetherError(.iscsiCommandFailed, "\($0)") } })
        }
    }

    private func discoverOnQueue() async throws -> [DiscoveredTarget] {
        try await perform { session in
            try session.connectAndLogin()
            var found: [DiscoveredTarget] = []
            try session.call("discovery", limit: session.timeouts.login, start: { context, callback, box in
                iscsi_discovery_async(context, callback, box)
            }, extract: { status, data in
                guard status == Int32(SCSI_STATUS_GOOD.rawValue) else { return }
                var address = data?.assumingMemoryBound(to: iscsi_discovery_address.self)
                while let current = address {
                    var portals: [Portal] = []
                    var portalNode = current.pointee.portals
                    while let node = portalNode {
                        if let text = node.pointee.portal, let parsed = try? Portal(parsing: String(cString: text)) {
                            portals.append(parsed)
                        }
                        portalNode = node.pointee.next
                    }
                    found.append(DiscoveredTarget(iqn: String(cString: current.pointee.target_name), portals: portals))
                    address = current.pointee.next
                }
            })
            return found
        }
    }

    /// The LUNs the target reports to this initiator. The corresponding C function is `iscsi_reportluns_task`.
    public func reportLUNs() async throws -> [Int] {
        let data = try await scsi("REPORT LUNS") { context, callback, box in
            iscsi_reportluns_task(context, 0, 4096, callback, box)
        }
        return SCSIData.reportedLUNs(data)
    }

    /// A VPD page of `lun`. The corresponding C function is `iscsi_inquiry_task`.
    public func inquiryVPD(lun: Int, page: UInt8) async throws -> [UInt8] {
        let lun = try Self.cLUN(lun)
        return try await scsi("INQUIRY VPD 0x\(String(page, radix: 16))") { context, callback, box in
            iscsi_inquiry_task(context, lun, 1, Int32(page), 255, callback, box)
        }
    }

    /// Size in bytes and block length of `lun`. The corresponding C function is `iscsi_readcapacity16_task`.
    public func readCapacity(lun: Int) async throws -> (bytes: UInt64, blockLength: UInt32) {
        let lun32 = try Self.cLUN(lun)
        let data = try await scsi("READ CAPACITY(16)") { context, callback, box in
            iscsi_readcapacity16_task(context, lun32, callback, box)
        }
        return try Self.capacity(data, of: "\(portal) \(target) lun \(lun)")
    }

    /// Size in bytes and block length from READ CAPACITY(16) data of `what`.
    static func capacity(_ data: [UInt8], of what: String) throws -> (bytes: UInt64, blockLength: UInt32) {
        guard let capacity = SCSIData.capacity16(data) else {
            throw TetherError(.iscsiCommandFailed, "READ CAPACITY(16) on \(what) returned \(data.count) bytes")
        }
        // The target's numbers: checked, since a LUN claiming 2^64 blocks must not trap the agent.
        let (blocks, wrapped) = capacity.lastLBA.addingReportingOverflow(1)
        let (bytes, overflow) = blocks.multipliedReportingOverflow(by: UInt64(capacity.blockLength))
        guard !wrapped, !overflow else {
            throw TetherError(.iscsiCommandFailed, "READ CAPACITY(16) on \(what) reports more than 2^64 bytes")
        }
        return (bytes, capacity.blockLength)
    }

    /// Reads `blocks` blocks at `lba`. The corresponding C function is `iscsi_read16_task`.
    public func read(lun: Int, lba: UInt64, blocks: UInt32, blockLength: UInt32) async throws -> [UInt8] {
        let lun = try Self.cLUN(lun)
        return try await scsi("READ(16)") { context, callback, box in
            iscsi_read16_task(context, lun, lba, blocks * blockLength, Int32(blockLength), 0, 0, 0, 0, 0, callback, box)
        }
    }

    /// Writes `data` (whole blocks) at `lba`. The corresponding C function is `iscsi_write16_task`.
    public func write(lun: Int, lba: UInt64, data: [UInt8], blockLength: UInt32) async throws {
        let lun = try Self.cLUN(lun)
        _ = try await perform { session in
            // The call returns only after libiscsi is done with the buffer, or destroyed the context.
            var buffer = data
            return try buffer.withUnsafeMutableBufferPointer { pointer in
                try session.scsiOnQueue("WRITE(16)") { context, callback, box in
                    iscsi_write16_task(context, lun, lba, pointer.baseAddress, UInt32(pointer.count), Int32(blockLength), 0, 0, 0, 0, 0, callback, box)
                }
            }
        }
    }

    /// `lun` as libiscsi's `int`: a LUN from input is range-checked (0-65535) long before, but a
    /// conversion that could trap has no place next to a C call.
    static func cLUN(_ lun: Int) throws -> Int32 {
        guard let value = Int32(exactly: lun), value >= 0 else {
            throw TetherError.invalidInput("LUN \(lun) is out of range", hint: "LUNs are 0-65535")
        }
        return value
    }

    /// Logs out (best effort, bounded) and frees the context. Safe to call twice.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.closeOnQueue()
                continuation.resume()
            }
        }
    }

    // MARK: - On the session's queue

    private static func makeSession(
        portal: Portal, target: String, initiator: String, chap: CHAPCredentials?, mutualCHAP: CHAPCredentials?,
        discovery: Bool, timeouts: ISCSITimeouts
    ) throws -> ISCSISession {
        guard let context = iscsi_create_context(initiator) else {
            throw TetherError(.internalError, "libiscsi could not create a context for initiator \(initiator)")
        }
        let session = ISCSISession(context: context, portal: portal, target: target, timeouts: timeouts)
        iscsi_set_noautoreconnect(context, 1)
        iscsi_set_timeout(context, Int32(clamping: timeouts.command.components.seconds + 1))
        iscsi_set_tcp_user_timeout(context, Int32(clamping: timeouts.connect.components.seconds * 1000))
        iscsi_set_header_digest(context, ISCSI_HEADER_DIGEST_NONE)
        iscsi_set_session_type(context, discovery ? ISCSI_SESSION_DISCOVERY : ISCSI_SESSION_NORMAL)
        if !discovery {
            iscsi_set_targetname(context, target)
        }
        if let chap {
            let accepted = chap.password.reveal { iscsi_set_initiator_username_pwd(context, chap.username, $0) }
            if let mutualCHAP, accepted == 0 {
                _ = mutualCHAP.password.reveal { iscsi_set_target_username_pwd(context, mutualCHAP.username, $0) }
            }
        }
        return session
    }

    private func perform<Value: Sendable>(_ body: @escaping @Sendable (ISCSISession) throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                guard !self.closed else {
                    continuation.resume(throwing: TetherError(.iscsiCommandFailed, "the session to \(self.portal) is closed"))
                    return
                }
                continuation.resume(with: Result { try body(self) })
            }
        }
    }

    private func scsi(
        _ what: String,
        _ start: @escaping @Sendable (OpaquePointer, iscsi_command_cb, UnsafeMutableRawPointer) -> UnsafeMutablePointer<scsi_task>?
    ) async throws -> [UInt8] {
        try await perform { session in try session.scsiOnQueue(what, start) }
    }

    /// Runs one SCSI command. A fresh session's first commands get UNIT ATTENTION (power on,
    /// reset) from tgt and LIO; that is news, not failure, so the command is repeated.
    private func scsiOnQueue(
        _ what: String,
        _ start: (OpaquePointer, iscsi_command_cb, UnsafeMutableRawPointer) -> UnsafeMutablePointer<scsi_task>?
    ) throws -> [UInt8] {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try scsiOnce(what, start)
            } catch let error as UnitAttention where attempt < 4 {
                _ = error
            } catch let error as UnitAttention {
                throw error.failure
            }
        }
    }

    private struct UnitAttention: Error {
        var failure: TetherError
    }

    private func scsiOnce(
        _ what: String,
        _ start: (OpaquePointer, iscsi_command_cb, UnsafeMutableRawPointer) -> UnsafeMutablePointer<scsi_task>?
    ) throws -> [UInt8] {
        let slot = SCSIOutcome()
        try call(what, limit: timeouts.command, start: { context, callback, box in
            start(context, callback, box) == nil ? -1 : 0
        }, extract: scsiExtract(what, into: slot))
        if let unitAttention = slot.unitAttention { throw UnitAttention(failure: unitAttention) }
        if let failure = slot.failure { throw failure }
        return slot.bytes
    }

    /// Sends every command at once and services the context until all have answered, under one
    /// deadline. Each command's own outcome comes back (a missing LUN fails INQUIRY but the caller
    /// reports it from REPORT LUNS); a broken connection or the deadline throws. A command
    /// answered UNIT ATTENTION is sent again, as `scsiOnQueue` does.
    private func scsiBatchOnQueue(
        _ commands: [(what: String, start: (OpaquePointer, iscsi_command_cb, UnsafeMutableRawPointer) -> UnsafeMutablePointer<scsi_task>?)]
    ) throws -> [Result<[UInt8], TetherError>] {
        var results = [Result<[UInt8], TetherError>?](repeating: nil, count: commands.count)
        var attempt = 0
        while true {
            let open = results.indices.filter { results[$0] == nil }
            if open.isEmpty { break }
            attempt += 1
            let slots = open.map { _ in SCSIOutcome() }
            var boxes: [Completion] = []
            for (slot, index) in zip(slots, open) {
                let (what, start) = commands[index]
                boxes.append(try startCall(what, start: { context, callback, box in start(context, callback, box) == nil ? -1 : 0 }, extract: scsiExtract(what, into: slot)))
            }
            try service(until: boxes, what: commands[open[0]].what, limit: timeouts.command)
            for ((slot, index), box) in zip(zip(slots, open), boxes) {
                let what = commands[index].what
                if box.status != Int32(SCSI_STATUS_GOOD.rawValue), box.status != Int32(SCSI_STATUS_CHECK_CONDITION.rawValue) {
                    results[index] = .failure(classify(what, status: box.status))
                } else if let unitAttention = slot.unitAttention {
                    if attempt >= 4 { results[index] = .failure(unitAttention) }
                } else if let failure = slot.failure {
                    results[index] = .failure(failure)
                } else {
                    results[index] = .success(slot.bytes)
                }
            }
        }
        return results.compactMap { $0 }
    }

    /// What one pipelined SCSI command's callback found.
    private final class SCSIOutcome {
        var bytes: [UInt8] = []
        var failure: TetherError?
        var unitAttention: TetherError?
    }

    /// The callback body of a SCSI command: copies the data in, or names the sense.
    private func scsiExtract(_ what: String, into slot: SCSIOutcome) -> (Int32, UnsafeMutableRawPointer?) -> Void {
        let portal = portal, target = target
        return { status, data in
            guard let task = data?.assumingMemoryBound(to: scsi_task.self) else { return }
            defer { scsi_free_scsi_task(task) }
            if status == Int32(SCSI_STATUS_GOOD.rawValue) {
                let datain = task.pointee.datain
                if let pointer = datain.data, datain.size > 0 {
                    slot.bytes = Array(UnsafeBufferPointer(start: pointer, count: Int(datain.size)))
                }
            } else if status == Int32(SCSI_STATUS_CHECK_CONDITION.rawValue) {
                let key = String(cString: scsi_sense_key_str(Int32(task.pointee.sense.key.rawValue)))
                let ascq = String(cString: scsi_sense_ascq_str(task.pointee.sense.ascq))
                let error = TetherError(.iscsiCommandFailed, "\(what) on \(portal) \(target) failed: \(key) / \(ascq)")
                if task.pointee.sense.key == SCSI_SENSE_UNIT_ATTENTION {
                    slot.unitAttention = error
                } else {
                    slot.failure = error
                }
            }
        }
    }

    private func connectAndLogin() throws {
        try call("connect to \(portal)", limit: timeouts.connect, start: { context, callback, box in
            iscsi_connect_async(context, self.portal.description, callback, box)
        }, extract: { _, _ in })
        try call("login to \(target.isEmpty ? "discovery" : target) on \(portal)", limit: timeouts.login, start: { context, callback, box in
            iscsi_login_async(context, callback, box)
        }, extract: { _, _ in })
    }

    /// Starts one async libiscsi operation and services the context until its callback ran,
    /// or the deadline passed. `extract` runs inside the callback, while libiscsi's data lives.
    private func call(
        _ what: String, limit: Duration,
        start: (OpaquePointer, iscsi_command_cb, UnsafeMutableRawPointer) -> Int32,
        extract: @escaping (Int32, UnsafeMutableRawPointer?) -> Void
    ) throws {
        let box = try startCall(what, start: start, extract: extract)
        try service(until: [box], what: what, limit: limit)
        if box.status != Int32(SCSI_STATUS_GOOD.rawValue), box.status != Int32(SCSI_STATUS_CHECK_CONDITION.rawValue) {
            throw classify(what, status: box.status)
        }
    }

    /// Starts one async libiscsi operation; its callback runs while the context is serviced.
    private func startCall(
        _ what: String,
        start: (OpaquePointer, iscsi_command_cb, UnsafeMutableRawPointer) -> Int32,
        extract: @escaping (Int32, UnsafeMutableRawPointer?) -> Void
    ) throws -> Completion {
        let box = Completion(extract: extract)
        // Kept until the context is destroyed: libiscsi may call back late (a connect callback
        // also fires on teardown; cancelled tasks fire on destroy).
        pending.append(box)
        let unmanaged = Unmanaged.passUnretained(box).toOpaque()
        guard start(context, completionCallback, unmanaged) == 0 else {
            throw classify(what, status: Int32(SCSI_STATUS_ERROR.rawValue))
        }
        return box
    }

    /// Services the context until every call in `boxes` has called back, or the deadline passed.
    private func service(until boxes: [Completion], what: String, limit: Duration) throws {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while !boxes.allSatisfy(\.done) {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero {
                closeOnQueue()
                throw TetherError.timedOut("\(what) (\(target.isEmpty ? portal.description : "\(portal) \(target)"))", after: limit)
            }
            let milliseconds = max(1, min(100, Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)))
            var descriptor = pollfd(fd: iscsi_get_fd(context), events: Int16(truncatingIfNeeded: iscsi_which_events(context)), revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0, errno != EINTR {
                throw TetherError(.iscsiCommandFailed, "\(what): poll failed with errno \(errno)")
            }
            if iscsi_service(context, Int32(descriptor.revents)) < 0, !boxes.allSatisfy(\.done) {
                throw classify(what, status: Int32(SCSI_STATUS_ERROR.rawValue))
            }
        }
    }

    private func classify(_ what: String, status: Int32) -> TetherError {
        let detail = iscsi_get_error(context).map { String(cString: $0) } ?? "status \(status)"
        return ISCSIFailure.classify(what: what, portal: portal, target: target, libiscsiError: detail, timedOut: status == Int32(SCSI_STATUS_TIMEOUT.rawValue))
    }

    private func closeOnQueue() {
        guard !closed else { return }
        closed = true
        // A clean logout is polite but not needed for correctness; iscsi_destroy_context closes
        // the socket, and tgt drops the session with it. Skipping it keeps close bounded.
        iscsi_destroy_context(context)
        pending.removeAll()
    }
}

/// The callback every libiscsi call gets; `private_data` is the call's `Completion`.
private let completionCallback: iscsi_command_cb = { _, status, data, privateData in
    guard let privateData else { return }
    Unmanaged<Completion>.fromOpaque(privateData).takeUnretainedValue().complete(status: status, data: data)
}

/// The state of one libiscsi call, shared with its C callback.
private final class Completion {
    var done = false
    var status: Int32 = 0
    private let extract: (Int32, UnsafeMutableRawPointer?) -> Void

    init(extract: @escaping (Int32, UnsafeMutableRawPointer?) -> Void) {
        self.extract = extract
    }

    func complete(status: Int32, data: UnsafeMutableRawPointer?) {
        // A connect callback fires again when the connection is torn down: only the first counts.
        guard !done else { return }
        done = true
        self.status = status
        extract(status, data)
    }
}
