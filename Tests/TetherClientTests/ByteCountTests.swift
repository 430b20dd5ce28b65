import Testing
import TetherCore

@testable import TetherClient

@Suite struct ByteCountTests {
    @Test(arguments: [
        ("512", 512), ("512B", 512), ("64M", 67_108_864), ("64m", 67_108_864), ("1G", 1 << 30),
        ("1GiB", 1 << 30), ("3k", 3072), ("2T", 2 << 40), (" 8M ", 8 << 20), ("0", 0),
    ] as [(String, UInt64)])
    func parses(text: String, bytes: UInt64) throws {
        #expect(try ByteCount.parse(text) == bytes)
    }

    @Test(arguments: ["", "M", "1.5G", "-1", "64X", "1GB", "10 M", "1Gi B", "99999999999999999999", "16E", "0x10"])
    func rejects(text: String) {
        let error = #expect(throws: TetherError.self) { try ByteCount.parse(text) }
        #expect(error?.code == .invalidInput)
    }

    @Test(arguments: [
        (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (16 << 20, "16.0 MiB"), (3 << 29, "1.5 GiB"), (UInt64.max, "16.0 EiB"),
    ] as [(UInt64, String)])
    func formats(bytes: UInt64, text: String) {
        #expect(ByteCount.format(bytes) == text)
    }
}
