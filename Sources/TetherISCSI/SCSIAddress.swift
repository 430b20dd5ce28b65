/// A SCSI device's address on this host, host:channel:target:lun ("2:0:0:1"), as the kernel
/// names its sysfs directory.
struct SCSIAddress: Sendable, Hashable, CustomStringConvertible {
    var host: Int
    var channel: Int
    var target: Int
    var lun: Int

    init(host: Int, channel: Int, target: Int, lun: Int) {
        self.host = host
        self.channel = channel
        self.target = target
        self.lun = lun
    }

    init?(parsing text: some StringProtocol) {
        let numbers = text.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard numbers.count == 4, let host = numbers[0], let channel = numbers[1], let target = numbers[2], let lun = numbers[3] else { return nil }
        self.init(host: host, channel: channel, target: target, lun: lun)
    }

    var description: String { "\(host):\(channel):\(target):\(lun)" }
}
