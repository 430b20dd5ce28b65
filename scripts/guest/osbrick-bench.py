#!/usr/bin/python3
"""os-brick's own connectors timed in the Tether test guest (scenario bench-kernel).

    osbrick-bench.py

Imports os-brick once, prints `ready`, then answers one command a line on stdin, so that the
scenario can check the node between the steps as it does for Tether and the steps by hand:
    use MODE FILE ->  `ok`          (the connection_info JSON in FILE, for connector MODE below)
    connect       ->  `ok NS PATH`  (connect_volume's wall time in ns, the device it returned)
    disconnect    ->  `ok NS`       (disconnect_volume of that device)
    quit          ->  exits (so does the end of input)
or `fail WHY`. Only the calls are timed, never Python's start or the imports, which are paid once
for every mode (tens of seconds under TCG on a busy host).

MODE: iscsi, ISCSIConnector over one path; multipath, ISCSIConnector with use_multipath over
every portal of the properties; krbd, RBDConnector with do_local_attach (`rbd map`), the keyring
read from the properties' keyring_file into `keyring` (as cinderlib passes it).

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
from os_brick.initiator.connectors import rbd
from os_brick.privileged import default as privileged_default

LOCK_DIR = '/run/osbrick-locks'


def load(mode, path):
    with open(path) as f:
        info = json.load(f)
    props = info.get('data', info)
    if 'keyring_file' in props:
        with open(props.pop('keyring_file')) as f:
            props['keyring'] = f.read()
    # The factory would import every connector (vmware, ...); its answers for "ISCSI" and "RBD"
    # are these classes.
    if mode == 'krbd':
        return props, rbd.RBDConnector('unused-root-helper', do_local_attach=True)
    if mode in ('iscsi', 'multipath'):
        return props, iscsi.ISCSIConnector('unused-root-helper', use_multipath=(mode == 'multipath'))
    raise ValueError('unknown mode %r' % mode)


def main():
    cfg.CONF([], project='osbrick-bench', default_config_files=[])
    os.makedirs(LOCK_DIR, exist_ok=True)
    cfg.CONF.set_override('lock_path', LOCK_DIR, group='oslo_concurrency')
    os_brick.setup(cfg.CONF)
    privileged_default.set_client_mode(False)

    print('ready', flush=True)
    props = connector = device = None
    for line in sys.stdin:
        words = line.split()
        try:
            if len(words) == 3 and words[0] == 'use':
                props, connector = load(words[1], words[2])
                print('ok', flush=True)
            elif words == ['connect']:
                t0 = time.monotonic_ns()
                device = connector.connect_volume(props)
                t1 = time.monotonic_ns()
                print('ok %d %s' % (t1 - t0, device['path']), flush=True)
            elif words == ['quit']:
                break
            elif words == ['disconnect']:
                t0 = time.monotonic_ns()
                connector.disconnect_volume(props, device)
                t1 = time.monotonic_ns()
                device = None
                print('ok %d' % (t1 - t0), flush=True)
            else:
                print('fail unknown command %r' % line.strip(), flush=True)
        except Exception as e:
            traceback.print_exc()
            print('fail %s: %s' % (type(e).__name__, str(e).replace('\n', ' ')), flush=True)


if __name__ == '__main__':
    main()
    # Threads os-brick or its libraries started must not keep the driver alive after its input ends.
    sys.stdout.flush()
    os._exit(0)
