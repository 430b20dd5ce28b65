"""Writes tether.toml and clusters.d/ceph-a.toml the way Python's tomli_w (PyPI) writes them.

tomli_w puts every non-empty array on several lines with a trailing comma, writes tables as
[headers] (dotted for nested ones: [user.cinder]) and dicts inside arrays as inline tables.
The committed files next to this script were written by tomli_w 1.2.0:

    python3 -m venv /tmp/v && /tmp/v/bin/pip install tomli_w && /tmp/v/bin/python generate.py DIR

TOMLFileTests loads the committed files, and when python3 can import tomli_w it runs
this script into a temporary directory and loads its output too (Debian 12 has tomli_w 1.0.0 as
python3-tomli-w, for /usr/bin/python3; its output is the same as 1.2.0's).
"""

import os
import sys

import tomli_w

TETHER = {
    "socket": "/run/tether/tetherd.sock",
    "state_dir": "/var/lib/tether",
    "log_level": "notice",
    "node": {"host": "compute-1", "ip": "192.0.2.50"},
    "iscsi": {
        "initiator": "iqn.1993-08.org.debian:01:compute-1",
        "connect_timeout": 5,
        "login_timeout": 7.5,
        "command_timeout": 10,
    },
    "api": {"idle_timeout": 30},
    "multipath": {"enabled": True},
    "target": {
        "portals": ["192.0.2.10:3260", "198.51.100.10:3260", "[2001:db8::10]:3260"],
        "iqn_prefix": "iqn.2026-11.io.tether",
        "tgt_socket": "/var/run/tgtd/socket",
        "tgt_control_port": 0,
        "backing_dirs": ["/srv/tether", "/var/lib/tether/volumes"],
    },
    "ceph": {"registry_dir": "/etc/tether", "ceph_dir": "/etc/ceph", "connect_timeout": 10},
    "libvirt": {"uri": "qemu:///system"},
}

CLUSTER = {
    "name": "ceph-a",
    "fsid": "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c",
    "mon_host": ["[v2:10.0.0.1:3300,v1:10.0.0.1:6789]", "10.0.0.2:6789"],
    "default_user": "cinder",
    "user": {
        "cinder": {
            "key_file": "/etc/tether/keys/ceph-a.client.cinder.key",
            "secret_uuid": "457eb676-33da-42ec-9a8c-9293d545c337",
        },
        "nova": {"key_file": "/etc/tether/keys/ceph-a.client.nova.key"},
    },
}

out = sys.argv[1]
os.makedirs(os.path.join(out, "clusters.d"), exist_ok=True)
with open(os.path.join(out, "tether.toml"), "wb") as f:
    tomli_w.dump(TETHER, f)
with open(os.path.join(out, "clusters.d", "ceph-a.toml"), "wb") as f:
    tomli_w.dump(CLUSTER, f)
