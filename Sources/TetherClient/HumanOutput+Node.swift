import TetherAPI
import TetherCore

extension HumanOutput {
    /// This node's connector properties; keys Tether does not model follow, sorted.
    public static func connector(_ connector: ConnectorProperties) -> String {
        var fields: [(label: String, value: String)] = [
            ("Initiator", connector.initiator ?? missing),
            ("Host", connector.host ?? missing),
            ("IP", connector.ip ?? missing),
            ("Multipath", yesNo(connector.multipath)),
            ("Enforce multipath", yesNo(connector.enforceMultipath)),
            ("Platform", connector.platform ?? missing),
            ("OS type", connector.osType ?? missing),
            ("Do local attach", yesNo(connector.doLocalAttach)),
        ]
        for key in connector.extra.keys.sorted() {
            let value = ConnectionInfo.isSecretKey(key) ? "<redacted>" : text(connector.extra[key]!)
            fields.append((key, value))
        }
        return TextTable.fields(fields)
    }

    public static func health(_ health: HealthBody) -> String {
        TextTable.fields([
            ("Status", health.status),
            ("Agent version", health.version),
            ("Client version", TetherVersion.current),
            ("Attachments", String(health.attachments)),
            ("Exports", String(health.exports)),
        ])
    }
}
