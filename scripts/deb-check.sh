#!/usr/bin/env bash
# Checks the Debian package on the machine it runs on, which must be a throwaway root (a chroot
# made by scripts/fresh-check.sh deb): installs it with apt (its Depends only), checks every file
# and mode, the unit, the man pages, the completions, the binaries, READY=1 from tetherd over
# sd_notify's protocol, then purges it and checks nothing it added is left.
#
#   scripts/deb-check.sh PATH/tether_VERSION_amd64.deb
#
# Prints "deb-check: N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
DEB=${1:?usage: deb-check.sh DEB}
passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAILED: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@" >/tmp/deb-check.out 2>&1; then ok "$what"; else bad "$what: $(tail -n 5 /tmp/deb-check.out)"; fi; }

# What the root holds before: the purge must bring it back (minus apt's and dpkg's own records,
# and /run/systemd, where this script's own `systemd-analyze verify` leaves a marker).
snapshot() {
    find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /var/cache -o -path /var/lib/dpkg \
        -o -path /var/lib/apt -o -path /var/log -o -path /src -o -path /opt -o -path /root -o -path /run/systemd \) -prune -o -print 2>/dev/null | sort
}
snapshot >/tmp/deb-before.txt
getent group tether >/dev/null && bad "group tether exists before the install"

export DEBIAN_FRONTEND=noninteractive
check "apt installs the package and its Depends" apt-get install -y -qq --no-install-recommends "$DEB"

# Every file of the package is installed with the mode the package gives it.
while read -r mode _ _ _ _ path; do
    path=${path#.}
    case "$mode" in d*) continue ;; esac
    [ -e "$path" ] || { bad "$path is missing"; continue; }
    actual=$(stat -c %A "$path")
    [ "$actual" = "$mode" ] || bad "$path has mode $actual, the package says $mode"
done < <(dpkg-deb -c "$DEB" | awk '{print $1, $2, $3, $4, $5, $6}')
ok "every file landed with its mode ($(dpkg-deb -c "$DEB" | grep -vc '^d') files)"
for f in /usr/sbin/tetherd /usr/bin/tether /usr/lib/systemd/system/tetherd.service /etc/tether/tether.toml \
    /usr/lib/udev/rules.d/60-tether.rules /usr/lib/udev/rules.d/60-tether-rbd.rules /usr/lib/tmpfiles.d/tether.conf \
    /usr/lib/sysusers.d/tether.conf /usr/share/man/man1/tether.1.gz /usr/share/man/man8/tetherd.8.gz \
    /usr/share/bash-completion/completions/tether /usr/share/zsh/vendor-completions/_tether \
    /usr/share/fish/vendor_completions.d/tether.fish; do
    [ -f "$f" ] || bad "$f is not installed"
done
grep -qx /etc/tether/tether.toml /var/lib/dpkg/info/tether.conffiles && ok "tether.toml is a conffile" || bad "tether.toml is not a conffile"
check "group tether exists" getent group tether
[ "$(stat -c '%a %G' /run/tether 2>/dev/null)" = "750 tether" ] && ok "/run/tether is 0750 root:tether" ||
    bad "/run/tether is $(stat -c '%a %U:%G' /run/tether 2>&1)"

check "tether --version runs" tether --version
check "tetherd --help runs" tetherd --help
check "man tether" bash -c 'man -P cat tether | grep -q "tether"'
check "man 8 tetherd" bash -c 'man -P cat 8 tetherd | grep -q "tetherd"'
check "bash completion completes subcommands" bash -c '. /usr/share/bash-completion/completions/tether && complete -p tether'
check "systemd-analyze verify tetherd.service" systemd-analyze verify /usr/lib/systemd/system/tetherd.service

# READY=1 over sd_notify's protocol, as systemd would receive it for Type=notify.
ready=$(python3 - <<'PY'
import os, socket, subprocess, tempfile, time
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
case "$ready" in READY=1*STOPPING=1*) ok "tetherd sends READY=1, then STOPPING=1 on SIGTERM ($ready)" ;; *) bad "sd_notify: got '$ready'" ;; esac

check "apt purges the package (and the Depends it pulled in)" apt-get purge -y -qq --autoremove tether
getent group tether >/dev/null && bad "group tether is left after purge" || ok "group tether removed"
snapshot >/tmp/deb-after.txt
if diff /tmp/deb-before.txt /tmp/deb-after.txt >/tmp/deb-diff.txt; then
    ok "purge left the root as it was"
else
    bad "purge left a different root: $(grep '^[<>]' /tmp/deb-diff.txt | head -n 20 | tr '\n' ' ')"
fi
echo "deb-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
