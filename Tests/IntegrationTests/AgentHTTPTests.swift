import Foundation
@testable import TetherAgent
import TetherAPI
import TetherClient
import TetherCore
import TetherLinux
import TetherTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile and broken HTTP, as raw bytes on the unix socket of a live agent: every one gets a
/// 4xx with Tether's error body (or, for a request that never completes, a closed connection),
/// and the agent keeps serving. No peer but tetherd itself is needed.
@Suite(.tags(.integration), .timeLimit(.minutes(2)))
struct AgentHTTPTests {
    /// How long the test agent lets a connection sit idle.
    static let idleTimeout = 2

    static func withAgent(idleTimeout: Int = Self.idleTimeout, _ body: (AgentProcess) async throws -> Void) async throws {
        try await TemporaryDirectory.with(prefix: "reg") { registry in
            let config = Lab.cephConfig(registry: registry) + "\n[api]\nidle_timeout = \(idleTimeout)\n"
            try await AgentProcess.with(tgtd: nil, extraConfig: config) { agent in
                try await body(agent)
                // Whatever came before, the agent still answers, and nothing surprised it.
                let health = try await TetherAgentClient(socketPath: agent.socketPath).health()
                #expect(health.status == "ok")
                #expect(kill(agent.pid, 0) == 0)
                #expect(!agent.log().contains("internal error"), "\(agent.log())")
            }
        }
    }

    /// The first answer's status and Tether error code.
    static func expectError(_ answer: RawAnswer, status: Int, code: TetherError.Code, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(answer.response?.status == status, "\(answer.text)", sourceLocation: sourceLocation)
        #expect(answer.error?.code == code.rawValue, "\(answer.text)", sourceLocation: sourceLocation)
        #expect(answer.error?.message.isEmpty == false, sourceLocation: sourceLocation)
    }

    /// A POST with a Content-Length; `close` asks the agent to close after answering, so the
    /// exchange does not wait for the idle timeout.
    static func post(
        _ target: String = "/v1/attachments", headers: [String] = ["Content-Type: application/json"], close: Bool = true, body: [UInt8]
    ) -> [UInt8] {
        let connection = close ? ["Connection: close"] : []
        let head = (["POST \(target) HTTP/1.1", "Host: localhost"] + headers + connection + ["Content-Length: \(body.count)", "", ""])
            .joined(separator: "\r\n")
        return Array(head.utf8) + body
    }

    @Test func oversizedBodyIs413AndTheAgentServesAfter() async throws {
        try await Self.withAgent { agent in
            let body = [UInt8](repeating: 0x20, count: (1 << 20) + 1)
            let answer = try RawConnection.exchange(agent.socketPath, Self.post(body: body))
            Self.expectError(answer, status: 413, code: .bodyTooLarge)
            #expect(answer.response?.header("connection") == "close")
            // Exactly the limit passes the size check (and fails as the JSON it is not).
            let limit = try RawConnection.exchange(agent.socketPath, Self.post(body: [UInt8](repeating: 0x20, count: 1 << 20)))
            Self.expectError(limit, status: 400, code: .invalidInput)
        }
    }

    @Test func oversizedChunkedBodyIs413() async throws {
        try await Self.withAgent { agent in
            let chunk = String(repeating: "a", count: 64 << 10)
            var request = "POST /v1/clusters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            for _ in 0..<20 { request += String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n" }
            request += "0\r\n\r\n"
            Self.expectError(try RawConnection.exchange(agent.socketPath, Array(request.utf8)), status: 413, code: .bodyTooLarge)
        }
    }

    @Test func bodyNobodyReadsIsNotDrainedPastTheLimit() async throws {
        try await Self.withAgent { agent in
            // /v1/health answers without reading the body; the agent must not then read 64 MiB.
            let size = 64 << 20
            let connection = try RawConnection(agent.socketPath)
            defer { connection.close() }
            try connection.send(Array("GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: \(size)\r\n\r\n".utf8))
            let chunk = [UInt8](repeating: 0x20, count: 64 << 10)
            var sent = 0
            while sent < size {
                let count = try connection.send(chunk)
                sent += count
                if count < chunk.count { break }
            }
            let answer = RawAnswer(bytes: try connection.receiveAll())
            #expect(answer.response?.status == 200, "\(answer.text)")
            #expect(sent < 16 << 20, "the agent read \(sent) bytes")
        }
    }

    @Test func truncatedBodyIsInvalidInput() async throws {
        try await Self.withAgent { agent in
            // Content-Length says 100, 10 bytes come, then the client stops sending.
            var request = Self.post(body: Array(#"{"connecti"#.utf8))
            let head = String(decoding: request, as: UTF8.self).replacingOccurrences(of: "Content-Length: 10", with: "Content-Length: 100")
            request = Array(head.utf8)
            Self.expectError(try RawConnection.exchange(agent.socketPath, request, halfClose: true), status: 400, code: .invalidInput)
        }
    }

    @Test func badChunkSizesAreInvalidInput() async throws {
        try await Self.withAgent { agent in
            for chunks in ["ZZ\r\n{}\r\n0\r\n\r\n", "-1\r\n{}\r\n0\r\n\r\n", "fffffffffffffffffff\r\n{}\r\n0\r\n\r\n", "2\r\n{}XX0\r\n\r\n"] {
                let request = "POST /v1/attachments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
                Self.expectError(try RawConnection.exchange(agent.socketPath, Array(request.utf8)), status: 400, code: .invalidInput)
            }
        }
    }

    @Test func badChunkAfterTheAnswerOnlyClosesTheConnection() async throws {
        try await Self.withAgent { agent in
            // /v1/health answers at once; the broken body after it must not get a second answer.
            let request = "GET /v1/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\nZZ\r\n"
            let answer = try RawConnection.exchange(agent.socketPath, Array(request.utf8))
            #expect(answer.response?.status == 200, "\(answer.text)")
            #expect(answer.text.components(separatedBy: "HTTP/1.1 ").count == 2, "\(answer.text)")
        }
    }

    @Test func garbageRequestLinesAreInvalidInput() async throws {
        try await Self.withAgent { agent in
            let garbage: [[UInt8]] = [
                Array("HELLO\r\n\r\n".utf8),
                Array("GET /v1/health HTTP/9.9\r\n\r\n".utf8),
                Array("GET /v1/he alth HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
                [0x00, 0x01, 0x02, 0xff, 0x0d, 0x0a, 0x0d, 0x0a],
                Array("GET /v1/health HTTP/1.1\r\nHost x\r\n\r\n".utf8),
            ]
            for bytes in garbage {
                Self.expectError(try RawConnection.exchange(agent.socketPath, bytes), status: 400, code: .invalidInput)
            }
        }
    }

    @Test func contentLengthMismatchesAreInvalidInput() async throws {
        try await Self.withAgent { agent in
            let twoLengths = "POST /v1/attachments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}abc"
            Self.expectError(try RawConnection.exchange(agent.socketPath, Array(twoLengths.utf8)), status: 400, code: .invalidInput)
            let notANumber = "POST /v1/attachments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1x\r\n\r\n{}"
            Self.expectError(try RawConnection.exchange(agent.socketPath, Array(notANumber.utf8)), status: 400, code: .invalidInput)
            // Both framings at once (the request-smuggling shape).
            let both = "POST /v1/attachments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
            Self.expectError(try RawConnection.exchange(agent.socketPath, Array(both.utf8)), status: 400, code: .invalidInput)
            // More bytes than Content-Length: the rest is read as a next request, which is garbage.
            let longer = Self.post(close: false, body: Array("{}".utf8)) + Array("garbage after the body\r\n\r\n".utf8)
            let answer = try RawConnection.exchange(agent.socketPath, longer)
            Self.expectError(answer, status: 400, code: .invalidInput)
            #expect(answer.text.components(separatedBy: "HTTP/1.1 400").count == 3, "\(answer.text)")
        }
    }

    @Test func headerFloodsAreInvalidInput() async throws {
        try await Self.withAgent { agent in
            let many = (0..<500).map { "X-Flood-\($0): \($0)" }.joined(separator: "\r\n")
            let manyHeaders = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\(many)\r\n\r\n"
            Self.expectError(try RawConnection.exchange(agent.socketPath, Array(manyHeaders.utf8)), status: 400, code: .invalidInput)
            let huge = "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Huge: \(String(repeating: "h", count: 100 << 10))\r\n\r\n"
            let answer = try RawConnection.exchange(agent.socketPath, Array(huge.utf8))
            Self.expectError(answer, status: 400, code: .invalidInput)
            #expect(answer.error?.message.contains("headers") == true)
        }
    }

    @Test func badJSONAndContentTypes() async throws {
        try await Self.withAgent { agent in
            Self.expectError(try RawConnection.exchange(agent.socketPath, Self.post(body: Array("{bad".utf8))), status: 400, code: .invalidInput)
            Self.expectError(
                try RawConnection.exchange(agent.socketPath, Self.post(body: [0xff, 0xfe, 0x7b, 0x7d])), status: 400, code: .invalidInput)
            Self.expectError(
                try RawConnection.exchange(agent.socketPath, Self.post(headers: ["Content-Type: text/plain"], body: Array("{}".utf8))),
                status: 415, code: .unsupportedMediaType)
            Self.expectError(
                try RawConnection.exchange(agent.socketPath, Self.post(headers: [], body: Array("{}".utf8))), status: 415, code: .unsupportedMediaType)
            let json = try RawConnection.exchange(
                agent.socketPath, Self.post("/v1/local-attachments", headers: ["Content-Type: application/json; charset=utf-8"], body: Array("{}".utf8)))
            Self.expectError(json, status: 400, code: .invalidInput)
            #expect(json.error?.message.contains("volume_id") == true, "\(json.text)")
        }
    }

    @Test func invalidUTF8InThePathIsAClientError() async throws {
        try await Self.withAgent { agent in
            for path in [[0xff, 0xfe], [0xc3, 0x28], Array("%FF%FE".utf8), Array("%C3%28".utf8)] as [[UInt8]] {
                for prefix in ["/v1/attachments/", "/v1/exports/", "/v1/"] {
                    let request = Array("GET \(prefix)".utf8) + path + Array(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
                    let answer = try RawConnection.exchange(agent.socketPath, request)
                    let status = try #require(answer.response?.status, "\(answer.text)")
                    #expect((400..<500).contains(status), "\(prefix) \(path): \(answer.text)")
                    #expect(answer.error != nil, "\(answer.text)")
                }
            }
        }
    }

    @Test func halfRequestIsClosedAfterTheIdleTimeoutAndOthersAreServedMeanwhile() async throws {
        try await Self.withAgent { agent in
            let slow = try RawConnection(agent.socketPath)
            defer { slow.close() }
            let started = ContinuousClock.now
            try slow.send(Array("GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8))
            let client = TetherAgentClient(socketPath: agent.socketPath)
            // Trickle a byte now and then, for longer than the idle timeout: the head never
            // completes, others are served meanwhile, and the trickle does not keep it open.
            // The bound only stops a broken agent from holding the test: on a loaded 2-core CI
            // machine each health call can take seconds, so it is generous.
            while !slow.peerClosed(), ContinuousClock.now - started < .seconds(Self.idleTimeout * 20) {
                #expect(try await client.health().status == "ok")
                try slow.send(Array("a".utf8))
                try await Task.sleep(for: .milliseconds(250))
            }
            let elapsed = ContinuousClock.now - started
            #expect(slow.peerClosed())
            #expect(try slow.receiveAll().isEmpty)
            // Not before the idle timeout: the trickle itself never counts as activity that ends it early.
            #expect(elapsed >= .seconds(Self.idleTimeout), "\(elapsed)")
        }
    }

    @Test func stalledBodyIsClosedAfterTheIdleTimeout() async throws {
        try await Self.withAgent { agent in
            // Content-Length 100, 10 bytes, then silence with the connection left open.
            let head = "POST /v1/attachments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            let started = ContinuousClock.now
            let answer = try RawConnection.exchange(agent.socketPath, Array((head + #"{"connecti"#).utf8))
            let elapsed = ContinuousClock.now - started
            #expect(answer.bytes.isEmpty, "\(answer.text)")
            // Not before the idle timeout: the trickle itself never counts as activity that ends it early.
            #expect(elapsed >= .seconds(Self.idleTimeout), "\(elapsed)")
        }
    }

    @Test func undecodableJournalRecordIsA500WithAnErrorIdAndTheAgentServes() async throws {
        try await TemporaryDirectory.with(prefix: "reg") { registry in
            try await AgentProcess.with(tgtd: nil, extraConfig: Lab.cephConfig(registry: registry)) { agent in
                // An attachment whose stored result is not JSON, written beside the running agent
                // (SQLite allows it): showing it then fails in a way no route expects, while the
                // list leaves it out and the others stay usable.
                let journal = try await Journal.open(directory: agent.stateDirectory, host: LinuxHost())
                let now = Journal.now()
                try await journal.beginAttach(
                    AttachmentRecord(
                        id: "a-corrupt", volumeID: "vol-corrupt", targetKey: "iscsi:x:1", protocolName: "iscsi", mode: .network,
                        state: .attaching, connectionInfo: ConnectionInfo(driverVolumeType: "iscsi", data: [:]), result: nil, createdAt: now, updatedAt: now))
                try await journal.writer.write {
                    try $0.execute(sql: "UPDATE attachment SET state = 'attached', result = 'not json' WHERE id = 'a-corrupt'")
                }
                let list = try RawConnection.exchange(agent.socketPath, Array("GET /v1/attachments HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
                #expect(list.response?.status == 200, "\(list.text)")
                let request = Array("GET /v1/attachments/a-corrupt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
                let answer = try RawConnection.exchange(agent.socketPath, request)
                #expect(answer.response?.status == 500, "\(answer.text)")
                #expect(answer.error?.code == "internal")
                let id = try #require(answer.error?.id, "\(answer.text)")
                #expect(id.count == 12 && id.allSatisfy { $0.isHexDigit })
                #expect(answer.error?.hint?.contains(id) == true)
                // The details are in the log line with that id, not in the answer.
                let line = agent.log().split(separator: "\n").first { $0.contains("error_id=\(id)") }
                #expect(line?.contains("level=error") == true, "\(agent.log())")
                #expect(!answer.text.contains("not json"))
                // The agent keeps serving.
                #expect(try await TetherAgentClient(socketPath: agent.socketPath).health().attachments == 1)
                #expect(kill(agent.pid, 0) == 0)
            }
        }
    }

    @Test func socketThatCannotBePublishedStopsTheAgentWithTheReason() async throws {
        try await TemporaryDirectory.with(prefix: "pub") { directory in
            // A directory where the socket should go: the rename into place fails.
            try FileManager.default.createDirectory(atPath: directory.file("t.sock/x"), withIntermediateDirectories: true)
            let config = """
                socket = "\(directory.file("t.sock"))"
                state_dir = "\(directory.file("state"))"
                [iscsi]
                initiator = "iqn.2026-11.io.tether.test:node1"
                \(Lab.cephConfig(registry: directory))
                [libvirt]
                uri = ""
                """
            try config.write(toFile: directory.file("tether.toml"), atomically: true, encoding: .utf8)
            let (status, output) = try await Lab.offPool { try Lab.run(AgentProcess.binary, ["--config", directory.file("tether.toml")]) }
            #expect(status == 1, "\(output)")
            #expect(output.contains("cannot publish the API socket"), "\(output)")
            #expect(output.contains("rename"), "\(output)")
            // Nothing is left where the socket was staged.
            #expect(!FileManager.default.fileExists(atPath: directory.file(".t.sock.d")))
        }
    }

    @Test func connectionsOverTheCapWaitUntilIdleOnesAreClosed() async throws {
        let idle = 6
        try await Self.withAgent(idleTimeout: idle) { agent in
            // Fill every slot with a half request, then one more request waits in the backlog. NIO
            // accepts a few connections per wake-up, so the cap can be passed by those few.
            let connections = try (0..<Agent.maximumConnections + 16).map { _ in try RawConnection(agent.socketPath) }
            defer { connections.forEach { $0.close() } }
            for connection in connections { try connection.send(Array("GET /v1/health HTTP/1.1\r\n".utf8)) }
            let filled = ContinuousClock.now
            let waiting = try RawConnection(agent.socketPath)
            defer { waiting.close() }
            try waiting.send(Array("GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            try await Task.sleep(for: .milliseconds(500))
            // Served only once the idle timeout could have freed slots (a loaded machine may wake
            // this test late).
            let arrived = waiting.anythingArrived()
            let elapsed = ContinuousClock.now - filled
            #expect(!arrived || elapsed >= .seconds(idle), "served over the cap after \(elapsed)")
            let answer = RawAnswer(bytes: try waiting.receiveAll())
            #expect(answer.response?.status == 200, "\(answer.text)")
        }
    }

    @Test func manyHalfRequestsDoNotStopTheAgent() async throws {
        try await Self.withAgent { agent in
            let connections = try (0..<50).map { _ in try RawConnection(agent.socketPath) }
            defer { connections.forEach { $0.close() } }
            for connection in connections { try connection.send(Array("POST /v1/attachments HTTP/1.1\r\nContent-Length: 50\r\n".utf8)) }
            #expect(try await TetherAgentClient(socketPath: agent.socketPath).health().status == "ok")
        }
    }
}

/// The first answer on a raw connection, and all the bytes that came.
struct RawAnswer {
    var bytes: [UInt8]
    var text: String { String(decoding: bytes, as: UTF8.self) }
    var response: HTTPResponse? { try? HTTPResponse.parse(bytes, atEnd: true) }
    var error: ErrorBody.Detail? { response.flatMap { try? JSONDecoder().decode(ErrorBody.self, from: $0.body).error } }
}

/// A client connection that sends exactly the bytes it is given.
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    init(_ socket: String, timeout: Duration = .seconds(20)) throws {
        switch UnixSocket.connect(to: socket, timeout: timeout) {
        case .success(let fd): self.fd = fd
        case .failure(let failure): throw TetherError(.agentUnavailable, "cannot connect to \(socket): \(failure)")
        }
    }

    /// Sends `bytes`; stops quietly when the agent has closed its end (it may have answered).
    /// Returns how many bytes went out.
    @discardableResult
    func send(_ bytes: [UInt8]) throws -> Int {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE || errno == ECONNRESET { return offset }
                throw TetherError(.internalError, "send: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        return offset
    }

    /// Everything until the agent closes the connection.
    /// - Throws: `timed_out` when it neither answers nor closes within the connection's timeout.
    func receiveAll() throws -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return received }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { return received }
                throw TetherError(.timedOut, "no close from the agent: \(String(cString: strerror(errno))); got \(String(decoding: received, as: UTF8.self))")
            }
            received += buffer[..<count]
        }
    }

    func close() { Glibc.close(fd) }

    /// Whether the agent has answered or closed, without waiting.
    func anythingArrived() -> Bool {
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return count >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Whether the agent has closed the connection (EOF or reset), without waiting.
    func peerClosed() -> Bool {
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return count == 0 || (count < 0 && errno == ECONNRESET)
    }

    /// Connects, sends `bytes` (then half-closes when asked), and reads until the agent closes.
    static func exchange(_ socket: String, _ bytes: [UInt8], halfClose: Bool = false) throws -> RawAnswer {
        let connection = try RawConnection(socket)
        defer { connection.close() }
        try connection.send(bytes)
        if halfClose { shutdown(connection.fd, Int32(SHUT_WR)) }
        return RawAnswer(bytes: try connection.receiveAll())
    }
}
