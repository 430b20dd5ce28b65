import ArgumentParser
import Foundation
import Logging
import NIOCore
import TetherAgent

#if canImport(Glibc)
import Glibc
#endif

@main
struct Tetherd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tetherd",
        abstract: "Tether's node-local volume attach agent.",
        discussion: "Serves the Tether API (HTTP+JSON) on a unix socket. Stops cleanly on SIGTERM.")

    @Option(help: "Configuration file.")
    var config: String?

    @Option(help: "Unix socket to serve on (overrides the configuration file).")
    var socket: String?

    @Option(help: "State directory holding the journal (overrides the configuration file).")
    var stateDir: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    func run() async throws {
        Self.capThreads()
        // Everything the agent creates (journal, secret files) is private unless made wider on purpose.
        umask(0o077)
        var configuration: AgentConfiguration
        do {
            configuration = try AgentConfiguration.load(path: config)
            configuration.failpoints = try Failpoints.parse(ProcessInfo.processInfo.environment[Failpoints.variable])
        } catch {
            FileHandle.standardError.write(Data("tetherd: \(error)\n".utf8))
            throw ExitCode(78)
        }
        if let socket { configuration.socketPath = socket }
        if let stateDir { configuration.stateDirectory = stateDir }
        if let logLevel {
            guard let level = Logger.Level(rawValue: logLevel) else {
                throw ValidationError("--log-level \(logLevel) is not one of trace, debug, info, notice, warning, error, critical")
            }
            configuration.logLevel = level
        }
        let level = configuration.logLevel
        let destination = LogDestination.standardError()
        LoggingSystem.bootstrap { label in LogfmtLogHandler(label: label, level: level, destination: destination) }
        let logger = Logger(label: "tetherd")
        do {
            try await Agent(configuration: configuration, logger: logger).run()
        } catch {
            logger.critical("tetherd failed", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }

    /// Caps swift-nio's singleton event loops and blocking pool, which default to one thread per
    /// core. They serve one unix socket (and a few TLS peers) here: on a hypervisor with 100 cores
    /// they would be 100 threads each, every one with its stack and, once it allocates, its own
    /// malloc arena (issue #17). NIO's environment variables still decide when set. This must run
    /// before anything uses the singletons.
    static func capThreads() {
        let environment = ProcessInfo.processInfo.environment
        let threads = min(System.coreCount, 4)
        if environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil {
            NIOSingletons.groupLoopCountSuggestion = threads
        }
        if environment["NIO_SINGLETON_BLOCKING_POOL_THREAD_COUNT"] == nil {
            NIOSingletons.blockingPoolThreadCountSuggestion = threads
        }
    }
}
