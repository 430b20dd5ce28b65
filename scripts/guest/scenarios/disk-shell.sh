# disk-shell: the lab's persistent disk over two real boots (`guest-lab.sh run --disk FILE`,
# `--boots N`), no Tether: boot 1 finds the disk formatted and mounted on /persist with
# /var/lib/tether, /etc/tether, /etc/iscsi, /etc/ceph and /etc/multipath bound from it (seeded from
# the initrd), writes a random file and its checksum; boot 2, a new QEMU with the same disk, reads
# them back and finds boot 1's initiator name.
# guest-lab: boots=2
. /tether/lib.sh
boot=$(cmdline_arg boot 1)
log "boot $boot of $(cmdline_arg boots 1)"
check mounted persist_mounted
for d in $PERSIST_DIRS; do check "bound-$(echo "$d" | tr / -)" persist_on "/$d"; done
case $boot in
    1)
        check seeded-initiator grep -q "^InitiatorName=$INITIATOR_IQN\$" /etc/iscsi/initiatorname.iscsi
        dd if=/dev/urandom of=/var/lib/tether/pattern bs=4096 count=64 2>/dev/null
        sha256sum </var/lib/tether/pattern >/etc/tether/pattern.sha256
        date >>/etc/iscsi/boots
        check write-synced sync
        ;;
    *)
        check pattern-back sh -c "[ \"\$(sha256sum </var/lib/tether/pattern)\" = \"\$(cat /etc/tether/pattern.sha256)\" ]"
        check boots-seen sh -c "[ \$(wc -l </etc/iscsi/boots) = $((boot - 1)) ]"
        check initiator-kept grep -q "^InitiatorName=$INITIATOR_IQN\$" /etc/iscsi/initiatorname.iscsi
        ;;
esac
