import Foundation
import TetherAPI
import TetherClient
import TetherCore

extension Comparison {
    static let idleSeconds = 5

    /// tetherd's memory at idle: `fresh`, started and idle a few seconds before any row (what a
    /// node that has not attached yet carries: the targets); else once every attachment above is
    /// gone and it sat idle a few seconds (its two pooled Ceph connections, its threads and
    /// malloc's arenas from 256 attaches at once stay: its idle state after work).
    func measureIdleMemory(fresh: Bool) async throws {
        let left = try await client.attachments()
        guard left.isEmpty else { throw TetherError(.internalError, "\(left.count) attachments left before the idle measure") }
        try await Task.sleep(for: .seconds(Self.idleSeconds))
        let memory = try ProcessFigures.memory(pid: pid)
        let when = fresh ? "at start, before any row" : "after the rows above"
        table.add(
            "tetherd idle RSS (\(when))", samples: "1/-", tether: (Self.megabytes(memory.residentKiB), "-", "-"), peer: "-",
            ("-", "-", "-"), ratio: "-")
        table.add(
            "tetherd idle private (\(when))", samples: "1/-", tether: (Self.megabytes(memory.privateKiB), "-", "-"), peer: "-",
            ("-", "-", "-"), ratio: "-")
        guard fresh else { return }
        table.notes.append(
            "idle memory: \(Self.idleSeconds) s idle, no attachment journaled, VmRSS and Private_Clean+Private_Dirty of smaps_rollup of tetherd (this build, not stripped as the package is); the targets use the figures at start")
        table.targets.append(.init(name: "idle-private", value: Double(memory.privateKiB) / 1024, unit: " MB", goal: 10))
        table.targets.append(.init(name: "idle-rss", value: Double(memory.residentKiB) / 1024, unit: " MB", goal: 40))
    }

    /// 1,000 journaled attachments (network-mode RBD, 500 images on each cluster, made 16 at a
    /// time), then GET /v1/attachments from 8 clients at once, then POST /v1/reconcile of them all.
    func measureManyRecords() async throws {
        let infos = labs.flatMap { lab in (0..<Self.imagesPerCluster).map { Self.rbdInfo(lab, $0) } }
        let client = self.client
        let made = try await ContinuousClock().measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, info) in infos.enumerated() {
                    if index >= 16 { _ = try await group.next() }
                    group.addTask { _ = try await client.attach(CreateAttachmentRequest(connectionInfo: info)) }
                }
                try await group.waitForAll()
            }
        }
        let count = try await client.attachments().count
        guard count == infos.count else { throw TetherError(.internalError, "\(count) attachments journaled, not \(infos.count)") }
        table.notes.append(
            "1,000 records: \(count) network-mode RBD attachments (\(Self.imagesPerCluster) images per cluster), made 16 at a time in "
                + String(format: "%.1f s", made.milliseconds / 1000))
        try await measureList(records: count)
        try await measureReconcile(records: count)
    }

    func measureList(records: Int) async throws {
        let clients = 8
        let perClient = (options.samples + clients - 1) / clients
        let socket = agent.socketPath
        let request = HTTPRequest(method: "GET", target: "/v1/attachments")
        // Three phases, each with all clients at once: decode and count the rows; the timed GETs,
        // each taking the answer to its last byte and checking its size (decoding 1,000 rows is
        // the client's work, not the API's, and would compete with the timed GETs for the 2 cores);
        // decode and count again.
        let size = try await checkList(records: records, clients: clients, socket: socket)
        let (samples, cpu) = try await ProcessFigures.measuringCPU(of: pid) {
            try await withThrowingTaskGroup(of: [Duration].self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        let http = UnixHTTPClient(socketPath: socket)
                        let clock = ContinuousClock()
                        var samples: [Duration] = []
                        for _ in 0..<perClient {
                            var response: HTTPResponse?
                            let time = try await clock.measure { response = try await http.send(request) }
                            guard let response, response.status == 200, response.body.count == size else {
                                throw TetherError(.internalError, "GET /v1/attachments answered \(response?.status ?? 0) with \(response?.body.count ?? 0) bytes, not 200 with \(size)")
                            }
                            samples.append(time)
                        }
                        return samples
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
        }
        _ = try await checkList(records: records, clients: clients, socket: socket)
        let list = Sampled(samples, cpu: cpu)
        table.notes.append(
            "GET /v1/attachments: each sample from connect to the answer's last byte (a connection per request, as the CLI makes), "
                + String(format: "%.2f MB", Double(size) / 1_000_000)
                + " of JSON; decoding it is the client's work, untimed (every client decodes and counts the rows before and after the timed GETs)")
        table.add("GET /v1/attachments, 1,000 records, 8 clients", tether: list, peer: "-", nil, why: "no peer serves this API")
        table.targets.append(.init(name: "get-p99", value: list.p99.milliseconds, unit: " ms", goal: 5))
    }

    /// Every one of `clients` lists the attachments at once, decoding the answer; throws unless
    /// each counts `records`. Answers the size of the list's JSON.
    func checkList(records: Int, clients: Int, socket: String) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    let listed = try await TetherAgentClient(socketPath: socket).attachments().count
                    guard listed == records else { throw TetherError(.internalError, "GET listed \(listed) of \(records)") }
                    return try await UnixHTTPClient(socketPath: socket).send(HTTPRequest(method: "GET", target: "/v1/attachments")).body.count
                }
            }
            return try await group.reduce(0) { max($0, $1) }
        }
    }

    func measureReconcile(records: Int) async throws {
        let rounds = max(3, options.samples / 50)
        var samples: [Duration] = []
        var cpu = Duration.zero
        for _ in 0..<rounds {
            let (time, spent) = try await ProcessFigures.measuringCPU(of: pid) {
                try await ContinuousClock().measure { _ = try await client.send(.reconcile(ReconcileRequest())) }
            }
            samples.append(time)
            cpu += spent
        }
        table.add("reconcile of 1,000 records", tether: Sampled(samples, cpu: cpu), peer: "-", nil, why: "no peer reconciles")
    }
}
