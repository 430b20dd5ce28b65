/// What `cinder local-attach` (python-brick-cinderclient-ext) takes that Tether's
/// `local-attach` does not, and what to use instead. README's local-attach section has the table.
enum BrickCompatibility {
    /// Why the command line is refused, with Tether's equivalent; nil when it is Tether's own.
    static func refusal(mode: String?, extra: [String], enforceMultipath: String?, mountpoint: String?, hostname: String?, nic: String?) -> String? {
        if let mode {
            switch mode.lowercased() {
            case "kernel", "network": break
            case "rw": return "--mode rw is brick-ext's access mode; Tether's --mode is kernel or network, and read-write is the default"
            case "ro": return "--mode ro is brick-ext's access mode; use --read-only (Tether's --mode is kernel or network)"
            default: return "--mode \(mode) is not kernel or network"
            }
        }
        if let value = extra.first {
            if ["true", "false", "yes", "no", "1", "0"].contains(value.lowercased()) {
                return "--multipath takes no value in Tether: use --multipath or --no-multipath instead of '--multipath \(value)'"
            }
            return "unexpected argument '\(value)': local-attach takes one VOLUME"
        }
        if enforceMultipath != nil {
            return "--enforce-multipath is brick-ext's; Tether has no fallback to hide: use --multipath, and `tether show VOLUME` lists the paths it got"
        }
        if mountpoint != nil {
            return "--mountpoint is brick-ext's; Tether tells Cinder the device path (/dev/disk/by-tether/VOLUME in kernel mode) and mounts nothing: mount that path yourself"
        }
        if hostname != nil {
            return "--hostname is brick-ext's; the connector's host is tether.toml [node] host (see `tether connector`)"
        }
        if nic != nil {
            return "--nic is brick-ext's; the connector's address is tether.toml [node] ip (see `tether connector`)"
        }
        return nil
    }
}
