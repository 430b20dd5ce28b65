# smoke: the guest boots, its modules are loaded and udevd, iscsid, multipathd and the LIO target run.
. /tether/lib.sh

log "kernel $(uname -r)"
result_ok "kernel $(uname -r)"
for m in iscsi_tcp scsi_transport_iscsi sd_mod sg dm_multipath dm_round_robin dm_service_time \
         rbd libceph iscsi_target_mod target_core_file; do
    check "module-$m" test -d "/sys/module/$m"
done
check udevd udevadm control --ping
check iscsid grep -q ISCSIADM_ABSTRACT_NAMESPACE /proc/net/unix
check multipathd sh -c 'multipathd show daemon | grep -Eq "idle|running"'
check lio-portals sh -c "ls $LIO/iscsi/$TARGET_IQN/tpgt_1/np/$PORTAL1 && ls $LIO/iscsi/$TARGET_IQN/tpgt_2/np/$PORTAL2"
check rbd-sysfs test -w /sys/bus/rbd/add_single_major
check initiatorname grep -q "^InitiatorName=$INITIATOR_IQN\$" /etc/iscsi/initiatorname.iscsi
for c in $(ceph_clusters); do
    check "ceph-facts-$c" sh -c ". /tether/ceph/$c/cluster.env && test -n \"\$FSID\" -a -s /tether/ceph/$c/key"
done
for b in tether tetherd; do
    if [ -x "/tether/bin/$b" ]; then
        check "$b-runs" "/tether/bin/$b" --help
    fi
done
