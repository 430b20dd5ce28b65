import CUDev
import Foundation
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// udev's netlink monitor ("udev" source: events after udevd ran its rules), read on its own
/// thread so waiting never blocks a Swift concurrency thread.
final class UDevMonitor: @unchecked Sendable {
    private let udev: OpaquePointer
    private let monitor: OpaquePointer
    private let stopped = NSLock()
    private var isStopped = false

    init(subsystems: [String]) throws {
        guard let udev = udev_new() else {
            throw TetherError(.hostCommandFailed, "cannot create a udev context")
        }
        guard let monitor = udev_monitor_new_from_netlink(udev, "udev") else {
            udev_unref(udev)
            throw TetherError(.hostCommandFailed, "cannot listen for udev events (netlink)", hint: "run tetherd as root")
        }
        for subsystem in subsystems {
            udev_monitor_filter_add_match_subsystem_devtype(monitor, subsystem, nil)
        }
        guard udev_monitor_enable_receiving(monitor) >= 0 else {
            udev_monitor_unref(monitor)
            udev_unref(udev)
            throw TetherError(.hostCommandFailed, "cannot listen for udev events", hint: "run tetherd as root")
        }
        self.udev = udev
        self.monitor = monitor
    }

    func stream() -> AsyncStream<DeviceEvent> {
        let (stream, continuation) = AsyncStream<DeviceEvent>.makeStream()
        continuation.onTermination = { [self] _ in stop() }
        let thread = Thread { [self] in
            defer { continuation.finish(); release() }
            let fd = udev_monitor_get_fd(monitor)
            while !stopRequested {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                // A short poll so a stop is noticed without a wake-up pipe.
                guard poll(&poller, 1, 100) > 0 else { continue }
                guard let device = udev_monitor_receive_device(monitor) else { continue }
                continuation.yield(Self.event(device))
                udev_device_unref(device)
            }
        }
        thread.name = "tether-udev"
        thread.start()
        return stream
    }

    private var stopRequested: Bool { stopped.withLock { isStopped } }

    private func stop() { stopped.withLock { isStopped = true } }

    private func release() {
        udev_monitor_unref(monitor)
        udev_unref(udev)
    }

    private static func event(_ device: OpaquePointer) -> DeviceEvent {
        var properties: [String: String] = [:]
        var entry = udev_device_get_properties_list_entry(device)
        while let current = entry {
            if let name = udev_list_entry_get_name(current) {
                properties[String(cString: name)] = udev_list_entry_get_value(current).map { String(cString: $0) } ?? ""
            }
            entry = udev_list_entry_get_next(current)
        }
        func text(_ value: UnsafePointer<CChar>?) -> String? { value.map { String(cString: $0) } }
        return DeviceEvent(
            action: text(udev_device_get_action(device)) ?? "",
            subsystem: text(udev_device_get_subsystem(device)) ?? "",
            sysPath: text(udev_device_get_syspath(device)) ?? "",
            deviceNode: text(udev_device_get_devnode(device)),
            properties: properties
        )
    }
}
