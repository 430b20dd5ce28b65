import Foundation
import Testing
import TetherCore

@testable import TetherClient

#if canImport(Glibc)
import Glibc
#endif

@Suite struct LocalFileTests {
    @Test func secretFileIsOwnerOnlyAndReplacesAtomically() throws {
        try withDirectory { directory in
            let path = directory + "/connection.json"
            try Data("old".utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o644)

            try LocalFile.writeSecret(Data("{\"auth_password\":\"s3cret\"}".utf8), to: path)

            var info = stat()
            #expect(stat(path, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\"auth_password\":\"s3cret\"}")
            // Only the file itself: no temporary left beside it.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["connection.json"])
        }
    }

    @Test func unwritableDestinationIsInvalidInput() throws {
        try withDirectory { directory in
            let error = #expect(throws: TetherError.self) {
                try LocalFile.writeSecret(Data("x".utf8), to: directory + "/missing/out.json")
            }
            #expect(error?.code == .invalidInput)
            let checked = #expect(throws: TetherError.self) { try LocalFile.checkWritable(directory) }
            #expect(checked?.code == .invalidInput)
            try LocalFile.checkWritable(directory + "/new.json")
        }
    }

    @Test(arguments: ["{\"driver_volume_type\": ", "", "  \n"])
    func malformedJSONIsInvalidInputNamingTheFile(text: String) throws {
        try withDirectory { directory in
            let path = directory + "/info.json"
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: TetherError.self) { try LocalFile.readJSON(path) }
            #expect(error?.code == .invalidInput)
            #expect(error?.message.hasPrefix(path + ": ") == true)
        }
    }

    @Test func missingFileIsInvalidInput() {
        let error = #expect(throws: TetherError.self) { try LocalFile.readJSON("/tmp/tcl-no-such-file.json") }
        #expect(error?.code == .invalidInput)
    }

    @Test func readsJSON() throws {
        try withDirectory { directory in
            let path = directory + "/info.json"
            try Data(#"{"connection_info":{"driver_volume_type":"iscsi","data":{"target_lun":1}}}"#.utf8).write(to: URL(fileURLWithPath: path))
            let value = try LocalFile.readJSON(path)
            #expect(try ConnectionInfo(json: value).data["target_lun"] == 1)
        }
    }

    private func withDirectory(_ body: (String) throws -> Void) throws {
        var template = Array("/tmp/tcl-XXXXXX".utf8CString)
        let made = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) })
        let directory = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }
}
