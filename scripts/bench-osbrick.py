#!/usr/bin/python3
"""os-brick's RBDConnector as the peer of `scripts/bench.sh compare` (run by tether-bench).

usage: bench-osbrick.py PROPERTIES.json SAMPLES WARMUPS

connect_volume with do_local_attach=False connects to the cluster, opens the image and returns
an RBDVolumeIOWrapper; disconnect_volume closes the image and shuts the connection down. So every
attach is cold: os-brick pools no connection. Prints one JSON line: the samples in seconds and the
CPU (user + system, getrusage) this process spent in each kind of call.
"""
import json
import resource
import sys
import time

from os_brick.initiator.connectors.rbd import RBDConnector


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    with open(sys.argv[1]) as stream:
        properties = json.load(stream)
    samples, warmups = int(sys.argv[2]), int(sys.argv[3])
    connector = RBDConnector(None, do_local_attach=False)
    result = {"attach": [], "detach": [], "attach_cpu": 0.0, "detach_cpu": 0.0}
    for index in range(warmups + samples):
        counted = index >= warmups
        c, t = cpu(), time.perf_counter()
        device = connector.connect_volume(properties)
        elapsed, spent = time.perf_counter() - t, cpu() - c
        if counted:
            result["attach"].append(elapsed)
            result["attach_cpu"] += spent
        c, t = cpu(), time.perf_counter()
        connector.disconnect_volume(properties, device)
        elapsed, spent = time.perf_counter() - t, cpu() - c
        if counted:
            result["detach"].append(elapsed)
            result["detach_cpu"] += spent
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
