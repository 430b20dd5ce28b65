import Foundation
import TetherAPI
import TetherCore

#if canImport(FoundationXML)
import FoundationXML
#endif

/// A libvirt domain's XML as the qemu hook receives it: checked, read for the disks the hook acts
/// on, and rewritten where a filter must change a secret reference.
///
/// Hostile input is refused before a DOM is built: over `QemuHookRequest.maximumXMLBytes`, any
/// DOCTYPE (the only way to declare an entity, so nothing can expand or load a file), and anything
/// libxml2's strict SAX pass rejects — `XMLDocument` alone recovers from broken XML silently.
struct DomainXML {
    private let document: XMLDocument

    /// - Throws: `invalid_input` naming what is wrong with the XML.
    init(_ text: String) throws {
        guard text.utf8.count <= QemuHookRequest.maximumXMLBytes else {
            throw Self.invalid("is \(text.utf8.count) bytes, over the limit of \(QemuHookRequest.maximumXMLBytes)")
        }
        guard text.range(of: "<!DOCTYPE", options: .caseInsensitive) == nil, text.range(of: "<!ENTITY", options: .caseInsensitive) == nil else {
            throw Self.invalid("has a DOCTYPE or ENTITY declaration, which libvirt never writes")
        }
        try Self.checkWellFormed(text)
        do {
            document = try XMLDocument(xmlString: text, options: [.nodeLoadExternalEntitiesNever])
        } catch {
            throw Self.invalid("cannot be parsed: \(error)")
        }
        guard document.rootElement()?.name == "domain" else {
            throw Self.invalid("has no <domain> root element")
        }
    }

    /// The domain's `<name>`.
    var name: String? { element("name", in: document.rootElement())?.stringValue }

    /// The disks the hook acts on, in document order.
    var disks: [DomainDisk] {
        diskElements.compactMap { Self.disk($0) }
    }

    /// The XML with every RBD disk's ceph secret UUID (and conf path, when it names one) replaced;
    /// a secret named by usage stays. `replacement` answers for each RBD disk, nil to leave it alone.
    func rewritingRBD(_ replacement: (DomainDisk.RBDDisk) throws -> (secretUUID: String, configFile: String?)?) rethrows -> (xml: String, changed: Bool) {
        var changed = false
        for element in diskElements {
            guard case .rbd(let disk) = Self.disk(element), let new = try replacement(disk),
                let source = self.element("source", in: element)
            else { continue }
            // A secret named by usage is found by that name on every node: only UUIDs are node-local.
            if let secret = self.element("secret", in: self.element("auth", in: source) ?? self.element("auth", in: element)),
                secret.attribute(forName: "usage") == nil, secret.attribute(forName: "uuid")?.stringValue?.lowercased() != new.secretUUID {
                Self.set(secret, "uuid", new.secretUUID)
                changed = true
            }
            if let configFile = new.configFile, let config = self.element("config", in: source),
                config.attribute(forName: "file")?.stringValue != configFile {
                Self.set(config, "file", configFile)
                changed = true
            }
        }
        return (document.rootElement()?.xmlString ?? "", changed)
    }

    /// The XML with each iSCSI CHAP disk's secret reference and `<auth username>` replaced where
    /// `replacement` (asked for every such disk, nil to leave it alone) gives others. Unlike RBD, a
    /// usage is rewritten too: a usage another node gave need not exist here.
    func rewritingISCSI(_ replacement: (DomainDisk.ISCSIDisk) throws -> (secret: DomainDisk.SecretReference, username: String)?) rethrows -> (xml: String, changed: Bool) {
        var changed = false
        for element in diskElements {
            guard case .iscsi(let disk) = Self.disk(element), let new = try replacement(disk),
                let source = self.element("source", in: element),
                let auth = self.element("auth", in: source) ?? self.element("auth", in: element),
                let secret = self.element("secret", in: auth)
            else { continue }
            if disk.secret != new.secret {
                // One of uuid and usage: libvirt refuses a <secret> that names both.
                switch new.secret {
                case .uuid(let uuid):
                    secret.removeAttribute(forName: "usage")
                    Self.set(secret, "uuid", uuid)
                case .usage(let usage):
                    secret.removeAttribute(forName: "uuid")
                    Self.set(secret, "usage", usage)
                }
                changed = true
            }
            if disk.user != new.username {
                Self.set(auth, "username", new.username)
                changed = true
            }
        }
        return (document.rootElement()?.xmlString ?? "", changed)
    }

    private var diskElements: [XMLElement] {
        let devices = element("devices", in: document.rootElement())
        return devices?.elements(forName: "disk") ?? []
    }

    private func element(_ name: String, in parent: XMLElement?) -> XMLElement? {
        parent?.elements(forName: name).first
    }

    private static func disk(_ element: XMLElement) -> DomainDisk? {
        func attribute(_ node: XMLElement?, _ name: String) -> String? { node?.attribute(forName: name)?.stringValue }
        let source = element.elements(forName: "source").first
        let target = attribute(element.elements(forName: "target").first, "dev") ?? "?"
        switch attribute(element, "type") {
        case "block":
            let prefix = StableNames.byTetherDirectory + "/"
            guard let path = attribute(source, "dev"), path.hasPrefix(prefix) else { return nil }
            let volume = String(path.dropFirst(prefix.count))
            guard StableNames.isUsableVolumeID(volume) else { return nil }
            return .kernel(.init(target: target, volumeID: volume))
        case "network":
            guard let source, let sourceProtocol = attribute(source, "protocol") else { return nil }
            // libvirt accepts <auth> inside <source> (its own output) or beside it (older XML).
            let auth = source.elements(forName: "auth").first ?? element.elements(forName: "auth").first
            let secretElement = auth?.elements(forName: "secret").first
            let secret: DomainDisk.SecretReference? =
                attribute(secretElement, "uuid").map { .uuid($0.lowercased()) } ?? attribute(secretElement, "usage").map { .usage($0) }
            if sourceProtocol == "iscsi" {
                guard attribute(secretElement, "type") == "iscsi" else { return nil }
                let name = attribute(source, "name") ?? ""
                let (iqn, lun) = iscsiName(name)
                return .iscsi(.init(target: target, name: name, iqn: iqn, lun: lun, user: attribute(auth, "username"), secret: secret))
            }
            guard sourceProtocol == "rbd", attribute(secretElement, "type") == "ceph" else { return nil }
            let hosts = source.elements(forName: "host").compactMap { host -> Portal? in
                guard let name = attribute(host, "name") else { return nil }
                return Portal(host: name, port: attribute(host, "port").flatMap { Int($0) } ?? 6789)
            }
            return .rbd(
                .init(
                    target: target, name: attribute(source, "name") ?? "?", hosts: hosts, user: attribute(auth, "username"), secret: secret,
                    configFile: attribute(source.elements(forName: "config").first, "file")))
        default:
            return nil
        }
    }

    /// libvirt's iSCSI source name: `IQN/LUN`, or just the IQN for LUN 0. An IQN has no `/`
    /// (RFC 3720), so the last one separates them.
    static func iscsiName(_ name: String) -> (iqn: String, lun: Int?) {
        guard let slash = name.lastIndex(of: "/") else { return (name, 0) }
        let lunText = name[name.index(after: slash)...]
        let lun = lunText.count <= 5 && lunText.allSatisfy(\.isASCII) ? Int(lunText).flatMap { (0...65535).contains($0) ? $0 : nil } : nil
        return (String(name[..<slash]), lun)
    }

    private static func set(_ element: XMLElement, _ name: String, _ value: String) {
        if let attribute = element.attribute(forName: name) {
            attribute.stringValue = value
        } else if let attribute = XMLNode.attribute(withName: name, stringValue: value) as? XMLNode {
            element.addAttribute(attribute)
        }
    }

    /// libxml2's SAX parser in strict mode: the first error, with its line, fails the check.
    private static func checkWellFormed(_ text: String) throws {
        let parser = XMLParser(data: Data(text.utf8))
        parser.shouldResolveExternalEntities = false
        let delegate = StrictDelegate()
        parser.delegate = delegate
        // parse() answers true for some errors; parserError and the delegate say the truth.
        let parsed = parser.parse()
        if let error = delegate.error ?? parser.parserError {
            throw invalid("is not well-formed XML (line \(parser.lineNumber), libxml2 error \((error as NSError).code))")
        }
        guard parsed, delegate.sawRoot else {
            throw invalid("is empty or has no root element")
        }
    }

    private static func invalid(_ what: String) -> TetherError {
        TetherError.invalidField("xml", "the domain XML \(what)", hint: "pass the domain XML libvirt gives the hook on stdin, unchanged")
    }

    private final class StrictDelegate: NSObject, XMLParserDelegate {
        var error: (any Error)?
        var sawRoot = false

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            sawRoot = true
        }

        func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
            if error == nil { error = parseError }
            parser.abortParsing()
        }
    }
}
