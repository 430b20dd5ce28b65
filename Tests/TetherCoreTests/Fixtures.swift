import Foundation
import TetherCore

/// Payloads as Cinder and os-brick produce them.
enum Fixtures {
    /// Cinder's LVM driver with the tgt/lio iSCSI target and two portals
    /// (cinder/volume/targets/iscsi.py initialize_connection), as os-initialize_connection returns it.
    static let cinderISCSINested = """
        {"connection_info": {"driver_volume_type": "iscsi", "data": {
          "target_discovered": false,
          "target_iqn": "iqn.2010-10.org.openstack:volume-8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10",
          "target_portal": "192.0.2.10:3260",
          "target_lun": 1,
          "target_iqns": ["iqn.2010-10.org.openstack:volume-8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10",
                          "iqn.2010-10.org.openstack:volume-8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10"],
          "target_portals": ["192.0.2.10:3260", "198.51.100.10:3260"],
          "target_luns": [1, 1],
          "volume_id": "8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10",
          "auth_method": "CHAP",
          "auth_username": "fbqWS8xQ7nDmK3dL",
          "auth_password": "Yx3p9T2kLmQwE7rZ",
          "encrypted": false,
          "qos_specs": null,
          "access_mode": "rw",
          "cacheable": false,
          "driver_volume_type": "iscsi"
        }, "serial": "8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10"}}
        """

    /// The attachments API (microversion 3.44+): connection_info flat, with attachment_id.
    static let cinderISCSIFlat = """
        {"driver_volume_type": "iscsi", "attachment_id": "0f9b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
         "target_discovered": false, "target_portal": "192.0.2.10:3260",
         "target_iqn": "iqn.2010-10.org.openstack:volume-8e3b4a5c", "target_lun": "0",
         "volume_id": "8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10", "auth_method": "CHAP",
         "auth_username": "user", "auth_password": "pass", "encrypted": false, "qos_specs": null,
         "access_mode": "rw", "enforce_multipath": true}
        """

    /// Cinder's RBD driver (cinder/volume/drivers/rbd.py initialize_connection): ports as strings.
    static let cinderRBD = """
        {"driver_volume_type": "rbd", "data": {
          "name": "volumes/volume-8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10",
          "hosts": ["192.0.2.21", "192.0.2.22", "192.0.2.23"], "ports": ["6789", "6789", "6789"],
          "cluster_name": "ceph-a", "auth_enabled": true, "auth_username": "cinder",
          "secret_type": "ceph", "secret_uuid": "457eb676-33da-42ec-9a8c-9293d545c337",
          "volume_id": "8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10", "discard": true,
          "qos_specs": null, "access_mode": "rw", "encrypted": false}}
        """

    /// os-brick get_connector_properties on a Linux compute node.
    static let osBrickConnector = """
        {"platform": "x86_64", "os_type": "linux", "ip": "192.0.2.50", "host": "compute-1",
         "multipath": true, "enforce_multipath": false, "initiator": "iqn.1993-08.org.debian:01:abcdef123456",
         "do_local_attach": false, "nvme_hostid": "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
         "uuid": "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d", "system uuid": "30313233-3435-3637-3839-414243444546",
         "nqn": "nqn.2014-08.org.nvmexpress:uuid:2a3b4c5d", "found_dsc": ""}
        """

    static func json(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}
