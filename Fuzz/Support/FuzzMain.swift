import Foundation

/// One fuzz input: libFuzzer's `LLVMFuzzerTestOneInput` signature. Returns 0; a bug traps.
public typealias FuzzOne = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

#if TETHER_FUZZ
// libFuzzer's own entry point. SwiftPM links every executable's main through `<module>_main`,
// which would leave libFuzzer's `main` out, so each target's `@main` hands argv to the driver.
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: FuzzOne
) -> CInt
#endif

public enum FuzzMain {
    /// Built with `-sanitize=fuzzer -DTETHER_FUZZ` (scripts/fuzz.sh): runs libFuzzer with argv.
    /// Built plainly: replays every file, or every file in every directory, named on the command
    /// line, so a crash that libFuzzer saved can be reproduced (and debugged) in a normal build.
    public static func run(_ one: FuzzOne) -> Never {
        #if TETHER_FUZZ
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runDriver(&argc, &argv, one))
        #else
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            FileHandle.standardError.write(Data("usage: \(CommandLine.arguments[0]) FILE|DIR...  (replays inputs; scripts/fuzz.sh fuzzes)\n".utf8))
            exit(64)
        }
        var count = 0
        for path in paths {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("cannot read \(file)\n".utf8))
                    exit(66)
                }
                _ = data.withUnsafeBytes { one($0.bindMemory(to: UInt8.self).baseAddress, data.count) }
                count += 1
            }
        }
        print("replayed \(count) inputs, no crash")
        exit(0)
        #endif
    }

    static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" }
        } catch {
            FileHandle.standardError.write(Data("cannot list \(path): \(error)\n".utf8))
            exit(66)
        }
    }
}

/// Checks an invariant of the code under test; a broken one is a bug the fuzzer must keep.
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("fuzz invariant broken: \(message())") }
}

extension Data {
    /// The input as libFuzzer passes it.
    public init(fuzzInput data: UnsafePointer<UInt8>?, _ size: Int) {
        self = data.map { Data(bytes: $0, count: size) } ?? Data()
    }
}
