internal import CRBD
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// One librados connection to one Ceph cluster as one user, made from explicit monitor addresses
/// and a key held in memory: no ceph.conf, no keyring file, so several clusters live in one process.
///
/// librados handles are thread-safe; the calls block, so they run on this connection's own threads
/// (`BlockingWorkers`), never on the cooperative pool, up to `parallelCalls` of them at once.
/// Every call holds the connection, so `rados_shutdown` (in `deinit`) runs only after the last
/// call returned, whoever dropped the connection.
public final class RADOSConnection: @unchecked Sendable {
    let cluster: rados_t
    private let workers: BlockingWorkers
    public let clusterName: String
    public let user: String
    public let fsid: String

    /// Connects to `monitors` (Ceph's `mon_host` syntax: "host:port", "v1:…", "[v2:…,v1:…]").
    /// The corresponding C functions are `rados_create`, `rados_conf_set` and `rados_connect`.
    /// - Throws: `ceph.unreachable` ("unreachable or wrong credentials") when it cannot connect in time.
    /// - Parameter parallelCalls: Ceph calls of this connection that may run at once (threads).
    public static func connect(
        clusterName: String, monitors: String, user: String, key: Secret, timeouts: RADOSTimeouts = RADOSTimeouts(),
        parallelCalls: Int = defaultParallelCalls
    ) async throws -> RADOSConnection {
        let workers = BlockingWorkers(name: "tether-rados", limit: max(1, parallelCalls))
        return try await workers.run {
            try connectOnWorker(clusterName: clusterName, monitors: monitors, user: user, key: key, timeouts: timeouts, workers: workers)
        }
    }

    /// Enough for 32 attaches to one cluster to finish in two rounds; each waits on the network,
    /// not the CPU, and a thread ends when it has been idle for a while.
    public static let defaultParallelCalls = 16

    /// Options beside the monitors, timeouts and key. Each spares every attach some work:
    /// - no admin socket: a socket file and its thread per connection, which nobody queries;
    /// - Ceph's debug levels 0/0: with the defaults (e.g. rbd 0/5, monc 0/10) librbd formats and
    ///   keeps in memory every log entry up to the second level, though none is printed;
    /// - no rbd cache: this connection only inspects and locks images (QEMU has its own), and a
    ///   cache starts and joins a flusher thread for every image opened.
    static let quietSettings: [(String, String)] = [
        ("admin_socket", ""), ("log_max_recent", "1"), ("rbd_cache", "false"),
    ] + ["asok", "auth", "context", "crypto", "finisher", "monc", "ms", "objectcacher", "objecter", "rados", "rbd", "throttle", "timer", "tp"]
        .map { ("debug_\($0)", "0/0") }

    private static func connectOnWorker(
        clusterName: String, monitors: String, user: String, key: Secret, timeouts: RADOSTimeouts, workers: BlockingWorkers
    ) throws -> RADOSConnection {
        var handle: rados_t?
        let created = rados_create(&handle, user)
        guard created == 0, let handle else {
            throw RADOSFailure.error(-created, "create a librados handle for client.\(user)", cluster: clusterName)
        }
        let seconds = { (duration: Duration) in String(max(1, duration.components.seconds)) }
        var settings: [(String, String)] = [
            ("mon_host", monitors),
            ("client_mount_timeout", seconds(timeouts.connect)),
            ("rados_mon_op_timeout", seconds(timeouts.operation)),
            ("rados_osd_op_timeout", seconds(timeouts.operation)),
            // Logs go nowhere: librados would otherwise log to stderr or /var/log/ceph.
            ("log_to_stderr", "false"), ("err_to_stderr", "false"), ("log_file", ""),
        ]
        settings.append(("auth_supported", "cephx"))
        settings += quietSettings
        for (option, value) in settings {
            let result = rados_conf_set(handle, option, value)
            guard result == 0 else {
                rados_shutdown(handle)
                throw TetherError.invalidInput("Ceph option \(option)=\(value) for cluster \(clusterName) is not valid (\(RADOSFailure.text(-result)))")
            }
        }
        let keySet = key.reveal { rados_conf_set(handle, "key", $0) }
        guard keySet == 0 else {
            rados_shutdown(handle)
            throw TetherError.invalidInput("the cephx key of client.\(user) for cluster \(clusterName) is malformed", hint: "a key is base64, as in the keyring's \"key = ...\" line")
        }
        let connected = rados_connect(handle)
        guard connected == 0 else {
            rados_shutdown(handle)
            throw RADOSFailure.connect(-connected, cluster: clusterName, user: user, monitors: monitors, limit: timeouts.connect)
        }
        var buffer = [CChar](repeating: 0, count: 64)
        let length = rados_cluster_fsid(handle, &buffer, buffer.count)
        let fsid = length > 0 ? String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return RADOSConnection(cluster: handle, workers: workers, clusterName: clusterName, user: user, fsid: fsid)
    }

    private init(cluster: rados_t, workers: BlockingWorkers, clusterName: String, user: String, fsid: String) {
        self.cluster = cluster
        self.workers = workers
        self.clusterName = clusterName
        self.user = user
        self.fsid = fsid
    }

    deinit {
        rados_shutdown(cluster)
    }

    /// Sends one monitor command (`{"prefix": ..., "format": "json"}`) and answers its output.
    /// The corresponding C function is `rados_mon_command`.
    /// - Throws: `ceph.*` errors when the monitors refuse it (no caps) or do not answer in time.
    public func monitorCommand(_ json: String) async throws -> String {
        try await perform {
            var output: UnsafeMutablePointer<CChar>?
            var outputLength = 0
            var status: UnsafeMutablePointer<CChar>?
            var statusLength = 0
            let result = json.withCString { command in
                var commands: [UnsafePointer<CChar>?] = [command]
                return commands.withUnsafeMutableBufferPointer { list in
                    rados_mon_command(self.cluster, list.baseAddress, 1, nil, 0, &output, &outputLength, &status, &statusLength)
                }
            }
            defer {
                if let output { rados_buffer_free(output) }
                if let status { rados_buffer_free(status) }
            }
            guard result == 0 else {
                let detail = status.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: statusLength), as: UTF8.self) } ?? ""
                throw RADOSFailure.error(-result, "run the monitor command \(json)\(detail.isEmpty ? "" : " (\(detail))")", cluster: self.clusterName)
            }
            return output.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: outputLength), as: UTF8.self) } ?? ""
        }
    }

    /// Opens `pool/image`, reads what an attach needs to know, and closes it again.
    ///
    /// The open is read-write because librbd answers "who holds the exclusive lock" only on such
    /// handles (read-only ones mask the feature: EINVAL). Opening takes no lock; only a write would.
    public func inspect(pool: String, image: String) async throws -> RBDImageInfo {
        try await perform { try self.withImage(pool: pool, image: image, readOnly: false) { try RBDImageInfo.read($0, cluster: self.clusterName, name: "\(pool)/\(image)", ownInstance: rados_get_instance_id(self.cluster)) } }
    }

    /// Creates `pool/image` of `size` bytes with the default features. For tests and the lab.
    public func createImage(pool: String, image: String, size: UInt64) async throws {
        try await perform {
            try self.withPool(pool) { io in
                var order: Int32 = 0
                let result = rbd_create(io, image, size, &order)
                guard result == 0 else { throw RADOSFailure.error(-result, "create image \(pool)/\(image)", cluster: self.clusterName) }
            }
        }
    }

    /// Writes `data` at `offset` of `pool/image`. For tests: the bytes QEMU must read back.
    public func write(pool: String, image: String, offset: UInt64, data: [UInt8]) async throws {
        try await perform {
            try self.withImage(pool: pool, image: image, readOnly: false) { handle in
                let written = data.withUnsafeBytes { rbd_write(handle, offset, $0.count, $0.baseAddress?.assumingMemoryBound(to: CChar.self)) }
                guard written == data.count else {
                    throw RADOSFailure.error(written < 0 ? Int32(clamping: -written) : EIO, "write \(pool)/\(image)", cluster: self.clusterName)
                }
            }
        }
    }

    /// Opens `pool/image` read-write and takes its exclusive lock, as a running VM's librbd does,
    /// until `release` on the returned holder. For tests and the lab: another client's lock.
    /// The corresponding C function is `rbd_lock_acquire`.
    public func holdExclusiveLock(pool: String, image: String) async throws -> RBDLockHolder {
        try await perform {
            try self.withPool(pool) { io in
                var handle: rbd_image_t?
                var result = rbd_open(io, image, &handle, nil)
                guard result == 0, let handle else {
                    throw RADOSFailure.error(-result, "open image \(pool)/\(image)", cluster: self.clusterName, missing: "image \(pool)/\(image)")
                }
                result = rbd_lock_acquire(handle, RBD_LOCK_MODE_EXCLUSIVE)
                guard result == 0 else {
                    rbd_close(handle)
                    throw RADOSFailure.error(-result, "lock \(pool)/\(image)", cluster: self.clusterName)
                }
                // librbd duplicates the I/O context at open, so the pool's may close now.
                return RBDLockHolder(connection: self, image: UnsafeSendable(handle))
            }
        }
    }

    fileprivate func release(_ image: UnsafeSendable<rbd_image_t>) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            workers.submit {
                rbd_lock_release(image.value)
                rbd_close(image.value)
                continuation.resume()
            }
        }
    }

    // MARK: - On the workers

    /// Runs `body` on one of this connection's threads. `body` uses `self`, which keeps the
    /// handle alive until it returns.
    func perform<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await workers.run(body)
    }

    func withPool<Value>(_ pool: String, _ body: (rados_ioctx_t) throws -> Value) throws -> Value {
        var io: rados_ioctx_t?
        let result = rados_ioctx_create(cluster, pool, &io)
        guard result == 0, let io else {
            throw RADOSFailure.error(-result, "open pool \(pool)", cluster: clusterName, missing: "pool \(pool)")
        }
        defer { rados_ioctx_destroy(io) }
        return try body(io)
    }

    func withImage<Value>(pool: String, image: String, readOnly: Bool, _ body: (rbd_image_t) throws -> Value) throws -> Value {
        try withPool(pool) { io in
            var handle: rbd_image_t?
            let result = readOnly ? rbd_open_read_only(io, image, &handle, nil) : rbd_open(io, image, &handle, nil)
            guard result == 0, let handle else {
                throw RADOSFailure.error(-result, "open image \(pool)/\(image)", cluster: clusterName, missing: "image \(pool)/\(image)")
            }
            defer { rbd_close(handle) }
            return try body(handle)
        }
    }
}

/// An image held open with its exclusive lock (see `RADOSConnection.holdExclusiveLock`).
public final class RBDLockHolder: Sendable {
    private let connection: RADOSConnection
    private let image: UnsafeSendable<rbd_image_t>

    fileprivate init(connection: RADOSConnection, image: UnsafeSendable<rbd_image_t>) {
        self.connection = connection
        self.image = image
    }

    public func release() async {
        await connection.release(image)
    }
}

/// A librbd handle passed between the connection's threads and its owner; only those threads use it.
struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
