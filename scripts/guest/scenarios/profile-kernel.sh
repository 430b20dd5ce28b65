# profile-kernel: a timeline of single-path and multipath attaches and detaches with the real
# tetherd, for finding where the kernel path's time goes: every iscsiadm/multipath(d) call (a
# wrapper logs start and end), every udev event (udevadm monitor), tetherd's debug log, and the
# CLI's own start-up cost. Not named tether-*: `guest-lab.sh ci` does not run it. Run with
# `scripts/guest-lab.sh run profile-kernel --tether .build/debug`.
. /tether/lib.sh
trap tether_debug EXIT

# Wrappers ahead of the real tools on tetherd's PATH; they log to one timeline file.
TL=/tmp/timeline
: >"$TL"
mkdir -p /tmp/prof
for tool in iscsiadm multipath multipathd; do
    real=$(command -v $tool)
    cat >/tmp/prof/$tool <<EOT
#!/bin/sh
echo "\$(cut -d' ' -f1 /proc/uptime) start $tool \$*" >>$TL
$real "\$@"; rc=\$?
echo "\$(cut -d' ' -f1 /proc/uptime) end   $tool rc=\$rc" >>$TL
exit \$rc
EOT
    chmod +x /tmp/prof/$tool
done

# The guest's clocks: uptime for the wrappers and udev, wall time for tetherd's log.
log "wall $(date -u +%H:%M:%S) = uptime $(cut -d' ' -f1 /proc/uptime)"

target_lun_add 1 64 && target_lun_add 2 64 || { result_fail target "target_lun_add"; exit 1; }
sed -i 's/find_multipaths off/find_multipaths strict/' /etc/multipath.conf
multipathd reconfigure >/dev/null
PATH=/tmp/prof:$PATH tether_setup false || { result_fail tetherd "did not start"; exit 1; }

for i in 1 2 3; do
    t0=$(cut -d' ' -f1 /proc/uptime); tether --version >/dev/null; t1=$(cut -d' ' -f1 /proc/uptime)
    t2=$(cut -d' ' -f1 /proc/uptime); tether health >/dev/null; t3=$(cut -d' ' -f1 /proc/uptime)
    log "cli: --version $t0..$t1, health $t2..$t3"
done

udevadm monitor --kernel --udev --subsystem-match=block --subsystem-match=scsi --subsystem-match=iscsi_session >/tmp/udev.log 2>&1 &
MON=$!
sleep 1

iscsi_info /tmp/single.json vol-prof 1 "$PORTAL1"
for i in 1 2; do
    echo "$(cut -d' ' -f1 /proc/uptime) ===== attach $i" >>"$TL"
    check "attach-$i" tether attach --mode kernel --connection-info /tmp/single.json --json
    echo "$(cut -d' ' -f1 /proc/uptime) ===== attached $i" >>"$TL"
    udevadm settle
    echo "$(cut -d' ' -f1 /proc/uptime) ===== detach $i" >>"$TL"
    check "detach-$i" tether detach vol-prof
    echo "$(cut -d' ' -f1 /proc/uptime) ===== detached $i" >>"$TL"
    udevadm settle
done

kill "$TETHERD_PID"; wait "$TETHERD_PID" 2>/dev/null
sed -i 's/find_multipaths strict/find_multipaths off/' /etc/multipath.conf
multipathd reconfigure >/dev/null
PATH=/tmp/prof:$PATH tether_setup true || { result_fail tetherd-mp "did not start"; exit 1; }
iscsi_info /tmp/mp.json vol-prof-mp 2 "$PORTAL1" "$PORTAL2"
echo "$(cut -d' ' -f1 /proc/uptime) ===== mp attach" >>"$TL"
check "mp-attach" tether attach --mode kernel --connection-info /tmp/mp.json --json
echo "$(cut -d' ' -f1 /proc/uptime) ===== mp attached" >>"$TL"
udevadm settle
echo "$(cut -d' ' -f1 /proc/uptime) ===== mp detach" >>"$TL"
check "mp-detach" tether detach vol-prof-mp
echo "$(cut -d' ' -f1 /proc/uptime) ===== mp detached" >>"$TL"

kill $MON
log "--- timeline"; cat "$TL"
log "--- udev"; grep -E '^(KERNEL|UDEV) *\[' /tmp/udev.log
log "--- tetherd"; cat "$TETHER_LOG"
