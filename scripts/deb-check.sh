#!/usr/bin/env bash
# Checks the Debian package on the machine it runs on, which must be a throwaway root: a chroot
# made by scripts/fresh-check.sh deb, or the systemd container of scripts/deb-test.sh. Installs it
# with apt (its Depends only), checks every file with the mode and owner it must have (and that the
# package holds no file this list does not know), the conffiles, the unit, the man pages, the
# completions, the binaries; tetherd's sd_notify messages: under a systemd that is PID 1, tetherd
# started by it (READY=1: active, with its status text; WATCHDOG=1, and STOPPING=1 on stop, in
# systemd's own log), else over sd_notify's socket from a python3 listener; then purges it and
# checks nothing it added is left but tetherd's journal.
#
#   scripts/deb-check.sh PATH/tether_VERSION_amd64.deb
#
# Prints "deb-check: N passed, M failed"; exits
# non-zero on any failure.
set -uo pipefail
DEB=${1:?usage: deb-check.sh DEB}
passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAILED: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@" >/tmp/deb-check.out 2>&1; then ok "$what"; else bad "$what: $(tail -n 5 /tmp/deb-check.out)"; fi; }

# What the root holds before: the purge must bring it back (minus apt's and dpkg's own records,
# with the AppStream metadata `apt-get update` fetches where appstream is installed, logs, and
# /run/systemd, where `systemd-analyze verify` and systemd's own state live).
snapshot() {
    find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /var/cache -o -path /var/lib/dpkg \
        -o -path /var/lib/apt -o -path /var/lib/swcatalog -o -path /var/lib/app-info \
        -o -path /var/log -o -path /src -o -path /opt -o -path /root -o -path /run/systemd \
        -o -path /check -o -path /run/log -o -path /var/tmp \) -prune -o -print 2>/dev/null | sort
}

# MODE PATH of every file the package must install, all owned by root:root.
expected_files() {
    cat <<'EOF'
0755 /usr/sbin/tetherd
0755 /usr/bin/tether
0644 /usr/lib/systemd/system/tetherd.service
0644 /usr/lib/tmpfiles.d/tether.conf
0644 /usr/lib/sysusers.d/tether.conf
0644 /etc/tether/tether.toml
0644 /usr/lib/udev/rules.d/60-tether.rules
0644 /usr/lib/udev/rules.d/60-tether-rbd.rules
0644 /usr/share/man/man1/tether.1.gz
0644 /usr/share/man/man8/tetherd.8.gz
0644 /usr/share/bash-completion/completions/tether
0644 /usr/share/zsh/vendor-completions/_tether
0644 /usr/share/fish/vendor_completions.d/tether.fish
0644 /usr/share/doc/tether/copyright
EOF
    echo "0755 /etc/libvirt/hooks/qemu.d/tether"
}

check_files() {
    local mode path actual listed extra before=$failed
    while read -r mode path; do
        actual=$(stat -c '%a %U:%G' "$path" 2>&1) || { bad "$path is missing"; continue; }
        [ "$actual" = "${mode#0} root:root" ] || bad "$path is $actual, expected ${mode#0} root:root"
    done < <(expected_files)
    # Every file the package holds is one of those: nothing lands unchecked.
    listed=$(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {sub(/^\./, "", $6); print $6}' | sort)
    extra=$(comm -23 <(echo "$listed") <(expected_files | cut -d' ' -f2 | sort))
    [ -z "$extra" ] || bad "the package holds files this check does not know: $extra"
    [ "$failed" = "$before" ] && ok "the package's $(echo "$listed" | wc -l) files, each with its mode and owner"
    local conffiles
    conffiles=$(sort /var/lib/dpkg/info/tether.conffiles)
    [ "$conffiles" = "$(expected_files | cut -d' ' -f2 | grep '^/etc/' | sort)" ] &&
        ok "every file under /etc is a conffile" || bad "conffiles are: $conffiles"
    check "group tether exists" getent group tether
    [ "$(stat -c '%a %U:%G' /run/tether 2>/dev/null)" = "750 root:tether" ] && ok "/run/tether is 0750 root:tether" ||
        bad "/run/tether is $(stat -c '%a %U:%G' /run/tether 2>&1)"
    [ "$(stat -c '%a %U:%G' /var/lib/tether 2>/dev/null)" = "700 root:root" ] && ok "/var/lib/tether is 0700 root:root" ||
        bad "/var/lib/tether is $(stat -c '%a %U:%G' /var/lib/tether 2>&1)"
}

check_commands() {
    local version
    version=$(dpkg-deb -f "$DEB" Version)
    [ "$(tether --version 2>&1)" = "$version" ] && ok "tether --version says $version" ||
        bad "tether --version says '$(tether --version 2>&1)', the package is $version"
    check "tetherd --help runs" tetherd --help
    check "man tether" bash -c 'man -P cat tether | grep -q "tether"'
    check "man 8 tetherd" bash -c 'man -P cat 8 tetherd | grep -q "tetherd"'
    check "bash completion completes subcommands" bash -c '
        . /usr/share/bash-completion/completions/tether
        COMP_WORDS=(tether att); COMP_CWORD=1; COMP_LINE="tether att"; COMP_POINT=${#COMP_LINE}
        "$(complete -p tether | sed "s/.*-F \([^ ]*\) .*/\1/")" tether att tether
        printf "%s\n" "${COMPREPLY[@]}" | grep -qx attach'
    check "systemd-analyze verify tetherd.service" systemd-analyze verify /usr/lib/systemd/system/tetherd.service
}

# Under a systemd that is PID 1: systemd starts tetherd (Type=notify: start returns once READY=1
# came), tether asks it over the socket, systemd stops it. Debug logging makes systemd write each
# notification it takes into its journal, the proof it reached systemd.
check_under_systemd() {
    systemd-analyze log-level debug
    # A watchdog for this run only (/run): tetherd must ping at half of it.
    mkdir -p /run/systemd/system/tetherd.service.d
    printf '[Service]\nWatchdogSec=4s\n' >/run/systemd/system/tetherd.service.d/deb-check.conf
    systemctl daemon-reload
    check "systemctl start tetherd (returns on READY=1)" timeout 120 systemctl start tetherd
    sleep 5
    local show
    show=$(systemctl show -p ActiveState -p SubState -p StatusText tetherd | sort | tr '\n' ' ')
    case "$show" in
        "ActiveState=active StatusText=serving "*" SubState=running ") ok "systemd shows $show" ;;
        *) bad "systemd shows $show" ;;
    esac
    check "tether health through the socket of systemd's tetherd" tether health
    check "systemctl stop tetherd" timeout 150 systemctl stop tetherd
    local journal
    journal=$(journalctl -b --no-pager -o cat _PID=1 | grep 'tetherd.service: Got notification message')
    grep -q 'READY=1' <<<"$journal" && ok "READY=1 reached systemd ($(grep -m1 READY=1 <<<"$journal"))" ||
        bad "systemd logged no READY=1 from tetherd: $journal"
    grep -q 'STOPPING=1' <<<"$journal" && ok "STOPPING=1 reached systemd on stop" ||
        bad "systemd logged no STOPPING=1 from tetherd: $journal"
    grep -q 'WATCHDOG=1' <<<"$journal" && ok "WATCHDOG=1 reached systemd (WatchdogSec=4s)" ||
        bad "systemd logged no WATCHDOG=1 from tetherd: $journal"
    rm -r /run/systemd/system/tetherd.service.d
    systemctl daemon-reload
    [ "$(systemctl show -p ActiveState --value tetherd)" = inactive ] && ok "tetherd is inactive after stop" ||
        bad "tetherd is $(systemctl show -p ActiveState --value tetherd) after stop"
    systemd-analyze log-level info
}

# Without systemd: READY=1 and STOPPING=1 over sd_notify's protocol, as systemd would receive them.
check_notify_socket() {
    local got
    got=$(python3 - <<'PY'
import os, socket, subprocess, tempfile
d = tempfile.mkdtemp()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(d + "/notify"); s.settimeout(30)
env = dict(os.environ, NOTIFY_SOCKET=d + "/notify")
p = subprocess.Popen(["/usr/sbin/tetherd", "--socket", d + "/t.sock", "--state-dir", d + "/state"], env=env,
                     stdout=subprocess.DEVNULL, stderr=open(d + "/log", "w"))
try:
    got = s.recv(4096).decode()
    p.terminate(); p.wait(30)
    try:
        got += "|" + s.recv(4096).decode()
    except socket.timeout:
        pass
    print(got.replace("\n", ";"))
finally:
    if p.poll() is None: p.kill()
PY
)
    case "$got" in READY=1*STOPPING=1*) ok "tetherd sends READY=1, then STOPPING=1 on SIGTERM ($got)" ;; *) bad "sd_notify: got '$got'" ;; esac
}

check_purge() {
    check "apt purges the package (and the Depends it pulled in)" apt-get purge -y -qq --autoremove tether
    getent group tether >/dev/null && bad "group tether is left after purge" || ok "group tether removed"
    snapshot >/tmp/deb-after.txt
    diff /tmp/deb-before.txt /tmp/deb-after.txt | grep '^[<>]' >/tmp/deb-diff.txt
    # The one thing kept on purpose: tetherd's journal, once it has run (postrm says so), as it may
    # record attachments that outlive the package.
    if [ "$(grep -v '^> /var/lib/tether\(/\|$\)' /tmp/deb-diff.txt)" != "" ]; then
        bad "purge left a different root: $(head -n 20 /tmp/deb-diff.txt | tr '\n' ' ')"
    elif [ -s /tmp/deb-diff.txt ]; then
        [ -f /var/lib/tether/journal.sqlite ] && ok "purge left the root as it was but for tetherd's journal (kept)" ||
            bad "purge kept /var/lib/tether without a journal: $(tr '\n' ' ' </tmp/deb-diff.txt)"
    else
        ok "purge left the root as it was"
    fi
}

snapshot >/tmp/deb-before.txt
getent group tether >/dev/null && bad "group tether exists before the install"
export DEBIAN_FRONTEND=noninteractive
check "apt updates its lists" apt-get update -qq
check "apt installs the package and its Depends" apt-get install -y -qq --no-install-recommends "$DEB"
check_files
check_commands
if [ "$(cat /proc/1/comm)" = systemd ] && [ -d /run/systemd/system ]; then
    check_under_systemd
else
    check_notify_socket
fi
check_purge
echo "deb-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
