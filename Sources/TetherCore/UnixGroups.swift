#if canImport(Glibc)
import Glibc
#endif

/// Group lookups in the system's user and group databases (NSS: /etc/group, or LDAP/sssd), for
/// the API socket's group (agent) and the hint of a refused client.
///
/// These calls may block on a remote directory: the agent makes them off its event loops.
public enum UnixGroups {
    /// The id of the group called `name`, nil when there is none.
    /// The corresponding C function is `getgrnam_r`.
    public static func id(ofGroup name: String) -> gid_t? {
        lookUpGroup({ group, buffer, result in getgrnam_r(name, &group, buffer.baseAddress!, buffer.count, &result) }, { $0.gr_gid })
    }

    /// The name of group `gid`, nil when the database has none.
    /// The corresponding C function is `getgrgid_r`.
    public static func name(ofGroup gid: gid_t) -> String? {
        lookUpGroup({ group, buffer, result in getgrgid_r(gid, &group, buffer.baseAddress!, buffer.count, &result) }, { String(cString: $0.gr_name) })
    }

    /// Every group user `uid` belongs to in the databases: its passwd entry's primary group and
    /// the groups that list it. Nil when the uid has no passwd entry.
    /// The corresponding C functions are `getpwuid_r` and `getgrouplist`.
    public static func groups(ofUser uid: uid_t) -> [gid_t]? {
        var size = max(Int(sysconf(Int32(_SC_GETPW_R_SIZE_MAX))), 1024)
        while size <= 1 << 20 {
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            var buffer = [CChar](repeating: 0, count: size)
            let groups: [gid_t]?? = buffer.withUnsafeMutableBufferPointer { storage in
                let status = getpwuid_r(uid, &entry, storage.baseAddress!, size, &result)
                if status == ERANGE { return nil }
                guard status == 0, result != nil else { return .some(nil) }
                // pw_name points into `storage`: use it inside this closure only.
                return .some(groupList(user: entry.pw_name, primary: entry.pw_gid))
            }
            guard let groups else {
                size *= 2
                continue
            }
            return groups
        }
        return nil
    }

    private static func groupList(user: UnsafePointer<CChar>, primary: gid_t) -> [gid_t] {
        var count: Int32 = 32
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var found = count
            if getgrouplist(user, primary, &groups, &found) >= 0 {
                return Array(groups.prefix(Int(found)))
            }
            // -1: the list was too small; `found` now holds the size needed.
            guard found > count, found < 65536 else { return [primary] }
            count = found
        }
    }

    /// Calls a `getgr*_r` function with a buffer that grows while it answers ERANGE, and reads
    /// the entry with `extract` while the buffer its strings point into is alive.
    private static func lookUpGroup<Value>(
        _ call: (inout group, UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<group>?) -> Int32,
        _ extract: (group) -> Value
    ) -> Value? {
        var size = max(Int(sysconf(Int32(_SC_GETGR_R_SIZE_MAX))), 1024)
        while size <= 1 << 22 {
            var entry = group()
            var result: UnsafeMutablePointer<group>?
            var buffer = [CChar](repeating: 0, count: size)
            let value: Value?? = buffer.withUnsafeMutableBufferPointer { storage in
                let status = call(&entry, storage, &result)
                if status == ERANGE { return nil }
                return status == 0 && result != nil ? .some(extract(entry)) : .some(nil)
            }
            guard let value else {
                size *= 2
                continue
            }
            return value
        }
        return nil
    }
}
