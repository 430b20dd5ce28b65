import Logging
import ServiceLifecycle
import TetherLinux

/// tetherd under systemd (`Type=notify`): READY=1 once the socket is published (`ready`),
/// WATCHDOG=1 at half the interval systemd asked for, STOPPING=1 as soon as shutdown begins.
/// Outside systemd (no `$NOTIFY_SOCKET`) it sends nothing.
struct SystemdNotifier: Service {
    let notify: SystemdNotify
    let logger: Logger

    init(notify: SystemdNotify = SystemdNotify(), logger: Logger) {
        self.notify = notify
        self.logger = logger
    }

    func ready(socket: String) {
        send { try notify.ready(status: "serving \(socket)") }
    }

    func run() async throws {
        if let interval = SystemdNotify.watchdogInterval() {
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    send { try notify.watchdog() }
                    // Cancellation (shutdown) ends the sleep early; nothing else can fail it.
                    try? await Task.sleep(for: interval / 2)
                }
            }
        } else {
            // Throws only when cancelled, and then the group is going away anyway.
            try? await gracefulShutdown()
        }
        send { try notify.stopping() }
    }

    /// A notification that cannot be sent is logged, never fatal: the agent serves either way.
    private func send(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            logger.warning("cannot notify systemd", metadata: ["error": "\(error)"])
        }
    }
}
