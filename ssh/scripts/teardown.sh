#!/bin/sh
# fencepost's teardown of one node, run as root over SSH (`sh -c` with this
# script; environment: FP_SYSTEM and FP_NODE, for the message only). It undoes
# install.sh from what install.sh recorded in /var/lib/fencepost: stops the
# server, purges exactly the packages that were not installed before, removes
# the users, groups and directories those packages made, turns the
# distribution's own service back on if it was on, and removes fencepost's
# files. Safe to run twice, or after an install that failed half-way.
#
# stdout carries one line, `removed SYSTEM from NODE`; the rest goes to
# stderr. Exit 2: not root.
set -u

if [ "$(id -u)" != 0 ]; then
    echo "fencepost teardown: must run as root (id -u is $(id -u))" >&2
    exit 2
fi

state=/var/lib/fencepost
pidfile=/run/fencepost/server.pid
status=0

if [ -x /usr/local/lib/fencepost/service ]; then
    /usr/local/lib/fencepost/service stop >&2 || status=1
fi
if [ -s "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill -CONT "$pid" 2>/dev/null
    kill -KILL "$pid" 2>/dev/null
fi

# Without a whole record (install.sh never got that far) nothing of the
# host's is touched: only fencepost's own files go.
if [ -s "$state/packages-before" ]; then
    new_packages=$(dpkg-query -W -f='${binary:Package}\n' | sort | comm -13 "$state/packages-before" -)
    if [ -n "$new_packages" ]; then
        # $new_packages is split into words on purpose.
        # shellcheck disable=SC2086
        env -u LD_PRELOAD DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
            purge -y $new_packages >&2 || status=1
    fi

    # System users and groups the packages made (their purge keeps them).
    for name in redis etcd zookeeper; do
        if ! grep -qx "$name" "$state/users-before" && getent passwd "$name" >/dev/null; then
            userdel "$name" >&2 || status=1
        fi
        if ! grep -qx "$name" "$state/groups-before" && getent group "$name" >/dev/null; then
            groupdel "$name" >&2 || status=1
        fi
    done

    # What the packages made and their purge leaves behind.
    for path in /etc/redis /var/lib/redis /var/log/redis /etc/zookeeper /var/lib/zookeeper /var/log/zookeeper \
        /etc/default/etcd /var/lib/etcd /var/log/etcd /usr/share/man/man1 /etc/ssl/certs/java \
        /etc/java-17-openjdk /usr/lib/jvm /var/lib/systemd/deb-systemd-helper-enabled \
        /var/lib/systemd/deb-systemd-helper-masked; do
        if ! grep -qx "$path" "$state/paths-before" 2>/dev/null; then
            rm -rf "$path"
        fi
    done

    # ucf's backups of its own state made by the packages' installs and purges.
    for path in /var/lib/ucf/hashfile.* /var/lib/ucf/registry.*; do
        if [ -e "$path" ] && ! grep -qx "${path##*/}" "$state/ucf-before" 2>/dev/null; then
            rm -f "$path"
        fi
    done

    # The distribution's own service, back as it was.
    if [ -d /run/systemd/system ] && [ -s "$state/units-before" ]; then
        while read -r what name; do
            case "$what" in
            enabled) systemctl enable "$name.service" >&2 2>&1 || status=1 ;;
            active) systemctl start "$name.service" >&2 2>&1 || status=1 ;;
            esac
        done < "$state/units-before"
    fi
fi

if [ -f "$state/policy-rc.d-created" ] && grep -q 'fencepost install.sh' /usr/sbin/policy-rc.d 2>/dev/null; then
    rm -f /usr/sbin/policy-rc.d
fi

rm -rf /etc/fencepost /usr/local/lib/fencepost /var/lib/fencepost /var/log/fencepost /run/fencepost

echo "removed ${FP_SYSTEM:-fencepost} from ${FP_NODE:-$(hostname)}"
exit "$status"
