import Foundation
import Testing
import TetherAPI
import TetherCore

@testable import TetherClient

@Suite struct UnixHTTPClientTests {
    @Test func exchangesOneRequestAndResponse() async throws {
        let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"detached\":[]}"
        let (response, request) = try await CannedServer.with(answer: answer) { path in
            try await UnixHTTPClient(socketPath: path).send(HTTPRequest(method: "DELETE", target: "/v1/attachments/v1?force=false"))
        }
        #expect(response.status == 200)
        #expect(response.body == Data("{\"detached\":[]}".utf8))
        #expect(request.hasPrefix("DELETE /v1/attachments/v1?force=false HTTP/1.1\r\n"))
        #expect(request.contains("Connection: close\r\n"))
    }

    @Test func typedCallDecodesAChunkedAnswer() async throws {
        let json = #"{"status":"ok","version":"0.1.0","attachments":2,"exports":1}"#
        let chunks = json.utf8.count
        let answer = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            + String(chunks, radix: 16) + "\r\n" + json + "\r\n0\r\n\r\n"
        let (health, request) = try await CannedServer.with(answer: answer) { path in
            try await TetherAgentClient(socketPath: path).health()
        }
        #expect(health.status == "ok")
        #expect(health.attachments == 2)
        #expect(request.hasPrefix("GET /v1/health HTTP/1.1\r\n"))
    }

    @Test func postsTheBodyAndReadsCreated() async throws {
        let attachment = #"""
            {"id":"a1","volume_id":"v1","protocol":"iscsi","mode":"network","state":"attached","target":"iqn.x lun 1",
             "created_at":"2025-01-01T00:00:00Z","paths":[],"wwid":"36001405abc","size_bytes":16777216}
            """#
        let answer = "HTTP/1.1 201 Created\r\nContent-Length: \(attachment.utf8.count)\r\n\r\n" + attachment
        let info = ConnectionInfo(driverVolumeType: "iscsi", data: ["volume_id": "v1", "target_lun": 1])
        let (result, request) = try await CannedServer.with(answer: answer) { path in
            try await TetherAgentClient(socketPath: path).attach(CreateAttachmentRequest(connectionInfo: info))
        }
        #expect(result.created)
        #expect(result.attachment.id == "a1")
        #expect(result.attachment.sizeBytes == 16 << 20)
        let body = try #require(request.range(of: "\r\n\r\n").map { request[$0.upperBound...] })
        let sent = try JSONDecoder().decode(CreateAttachmentRequest.self, from: Data(body.utf8))
        #expect(sent.connectionInfo == info)
    }

    @Test func agentErrorIsThrown() async throws {
        let body = #"{"error":{"code":"iscsi.auth_failed","message":"CHAP refused","hint":"check the credentials"}}"#
        let answer = "HTTP/1.1 403 Forbidden\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        let (error, _) = try await CannedServer.with(answer: answer) { path in
            await #expect(throws: TetherError.self) { try await TetherAgentClient(socketPath: path).attachments() }
        }
        #expect(error?.code == .iscsiAuthFailed)
        #expect(error?.code.exitCode == 5)
    }

    @Test func silentAgentTimesOut() async throws {
        let (error, _) = try await CannedServer.with(answer: nil) { path in
            await #expect(throws: TetherError.self) {
                try await TetherAgentClient(socketPath: path, timeout: .milliseconds(200)).health()
            }
        }
        #expect(error?.code == .timedOut)
    }

    @Test func tricklingAgentTimesOutAtTheDeadline() async throws {
        // One byte every 50 ms never leaves a single read waiting long: only a deadline for the
        // whole exchange stops it (the 2,000-byte answer would take 100 s).
        let body = String(repeating: "x", count: 2000)
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        let ((error, waited), _) = try await CannedServer.with(answer: answer, trickle: .milliseconds(50)) { path in
            let started = ContinuousClock.now
            let error = await #expect(throws: TetherError.self) {
                try await UnixHTTPClient(socketPath: path, timeout: .milliseconds(700)).send(HTTPRequest(method: "GET", target: "/v1/health"))
            }
            return (error, started.duration(to: .now))
        }
        #expect(error?.code == .timedOut)
        // The client's own wait, not the server's wind-down: far below the answer's 100 s even on
        // a loaded machine (a CI run once took 11.7 s for the whole exchange with its teardown).
        #expect(waited < .seconds(30))
    }

    @Test func agentThatClosesWithoutAnsweringIsUnavailable() async throws {
        // What the client sees when tetherd is killed mid-operation.
        let (error, _) = try await CannedServer.with(answer: "") { path in
            await #expect(throws: TetherError.self) { try await TetherAgentClient(socketPath: path).health() }
        }
        #expect(error?.code == .agentUnavailable)
        #expect(error?.message.contains("closed the connection without answering") == true)
        #expect(error?.hint?.contains("tether list") == true)
    }

    @Test func agentThatClosesWithTheRequestUnreadDeniesThisUser() async throws {
        // What a peer that is neither root nor in the socket's group sees: the running agent
        // closes the connection before reading a byte.
        let (error, _) = try await CannedServer.with(answer: nil, reading: false) { path in
            await #expect(throws: TetherError.self) { try await TetherAgentClient(socketPath: path).health() }
        }
        #expect(error?.code == .agentDenied)
        #expect(error?.code.exitCode == 5)
        #expect(error?.message.contains("without reading the request") == true)
        // The hint names the socket's group (this test's socket belongs to root's group).
        let group = UnixGroups.name(ofGroup: getegid()) ?? "gid \(getegid())"
        #expect(error?.hint?.contains("group \(group)") == true, "\(error?.hint ?? "")")
    }

    @Test func answerSentBeforeTheAgentClosedIsRead() async throws {
        // tetherd answers 413 to a body over its limit and closes without reading the rest: the
        // client's send fails, and the answer is still there to read.
        let body = #"{"error":{"code":"body_too_large","message":"too large"}}"#
        let answer = "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        let big = Data(repeating: 0x20, count: 8 << 20)
        let (response, _) = try await CannedServer.with(answer: answer, reading: false) { path in
            try await UnixHTTPClient(socketPath: path).send(HTTPRequest(method: "POST", target: "/v1/attachments", body: big))
        }
        #expect(response.status == 413)
        let error = try JSONDecoder().decode(ErrorBody.self, from: response.body)
        #expect(error.error.code == "body_too_large")
    }

    @Test func missingSocketIsAgentUnavailable() async throws {
        let path = "/tmp/tcl-missing-\(UInt32.random(in: 0...UInt32.max)).sock"
        let error = await #expect(throws: TetherError.self) { try await TetherAgentClient(socketPath: path).health() }
        #expect(error?.code == .agentUnavailable)
        #expect(error?.code.exitCode == 7)
        #expect(error?.message.contains(path) == true)
        #expect(error?.hint?.contains("TETHER_SOCKET") == true)
    }

    @Test func overlongSocketPathIsInvalidInput() async throws {
        let error = await #expect(throws: TetherError.self) {
            try await TetherAgentClient(socketPath: "/tmp/" + String(repeating: "x", count: 200)).health()
        }
        #expect(error?.code == .invalidInput)
    }
}
