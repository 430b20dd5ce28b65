#!/usr/bin/python3
"""os-brick's own ISCSIConnector timed in the Tether test guest (scenario bench-kernel).

    osbrick-bench.py CONNECTION_INFO_JSON

Imports os-brick once, prints `ready`, then answers one command a line on stdin, so that the
scenario can check the node between the steps as it does for Tether and the iscsiadm steps:
    connect      ->  `ok NS PATH`  (connect_volume's wall time in ns, the device it returned)
    disconnect   ->  `ok NS`       (disconnect_volume of that device)
or `fail WHY`. Only the call itself is timed, never Python's start or the imports.

Privileged steps run in this process (privsep client mode off; the scenario runs as root), so the
figures lack the privsep daemon's socket round trips that Nova's os-brick pays.
"""
import json
import os
import sys
import time
import traceback

from oslo_concurrency import lockutils  # noqa: F401  (registers oslo_concurrency.lock_path)
from oslo_config import cfg

import os_brick
from os_brick.initiator.connectors import iscsi
from os_brick.privileged import default as privileged_default

LOCK_DIR = '/run/osbrick-locks'


def main():
    with open(sys.argv[1]) as f:
        info = json.load(f)
    props = info.get('data', info)

    cfg.CONF([], project='osbrick-bench', default_config_files=[])
    os.makedirs(LOCK_DIR, exist_ok=True)
    cfg.CONF.set_override('lock_path', LOCK_DIR, group='oslo_concurrency')
    os_brick.setup(cfg.CONF)
    privileged_default.set_client_mode(False)
    # The factory would import every connector (rbd, vmware, ...); its answer for "ISCSI" is this class.
    connector = iscsi.ISCSIConnector('unused-root-helper', use_multipath=False)

    print('ready', flush=True)
    device = None
    for line in sys.stdin:
        cmd = line.strip()
        try:
            if cmd == 'connect':
                t0 = time.monotonic_ns()
                device = connector.connect_volume(props)
                t1 = time.monotonic_ns()
                print('ok %d %s' % (t1 - t0, device['path']), flush=True)
            elif cmd == 'disconnect':
                t0 = time.monotonic_ns()
                connector.disconnect_volume(props, device)
                t1 = time.monotonic_ns()
                device = None
                print('ok %d' % (t1 - t0), flush=True)
            else:
                print('fail unknown command %r' % cmd, flush=True)
        except Exception as e:
            traceback.print_exc()
            print('fail %s: %s' % (type(e).__name__, str(e).replace('\n', ' ')), flush=True)


if __name__ == '__main__':
    main()
