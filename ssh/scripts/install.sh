#!/bin/sh
# fencepost's installer for one node of a user's own cluster (Debian or
# Ubuntu), run as root over SSH (`sh -c` with this script). Inputs, from the
# environment only:
#   FP_SYSTEM  etcd | redis | zookeeper
#   FP_NODE    this node's name (n1, n2...)
#   FP_ID      this node's 1-based index in FP_PEERS
#   FP_PEERS   `name=address` for every node, in order, space-separated;
#              the address is how the other nodes reach that one
#
# It records what the host had before (packages, users, groups, the
# packages' directories) so that teardown.sh can put it back, installs the
# distribution's packages without letting them start their own service,
# writes the same server configuration as fencepost's Docker images, and
# starts the server as fencepost's own service:
#   /usr/local/lib/fencepost/service start|stop
#   pidfile /run/fencepost/server.pid (the server's own pid)
#   log     /var/log/fencepost/server.log
# The server inherits the caller's environment (LD_PRELOAD for the clock
# shim). Running it twice is harmless: the record of the first run is kept
# and a running server is left alone.
#
# stdout carries one line, `installed SYSTEM on NODE`; everything else
# (apt's chatter included) goes to stderr. Exit 2: this host cannot be used.
set -eu

refuse() {
    echo "fencepost install: $*" >&2
    exit 2
}

[ "$(id -u)" = 0 ] || refuse "must run as root (id -u is $(id -u))"
command -v apt-get >/dev/null 2>&1 || refuse "no apt-get: only Debian and Ubuntu hosts are supported"
command -v dpkg-query >/dev/null 2>&1 || refuse "no dpkg-query: only Debian and Ubuntu hosts are supported"
command -v start-stop-daemon >/dev/null 2>&1 || refuse "no start-stop-daemon (Debian's dpkg provides it)"
[ -n "${FP_SYSTEM:-}" ] || refuse "FP_SYSTEM is not set"
[ -n "${FP_NODE:-}" ] || refuse "FP_NODE is not set"
[ -n "${FP_ID:-}" ] || refuse "FP_ID is not set"
[ -n "${FP_PEERS:-}" ] || refuse "FP_PEERS is not set"

case "$FP_SYSTEM" in
etcd)
    packages="etcd-server etcd-client"
    unit=etcd
    ;;
redis)
    packages="redis-server redis-tools"
    unit=redis-server
    ;;
zookeeper)
    # nc for the role script (`echo srvr | nc`).
    packages="zookeeper default-jre-headless netcat-openbsd"
    unit=zookeeper
    ;;
*)
    refuse "unknown system \`$FP_SYSTEM\` (etcd, redis or zookeeper)"
    ;;
esac

# This node's address, as the other nodes reach it.
address=""
for peer in $FP_PEERS; do
    case "$peer" in
    *=*) ;;
    *) refuse "FP_PEERS entry \`$peer\` is not name=address" ;;
    esac
    if [ "${peer%%=*}" = "$FP_NODE" ]; then
        address="${peer#*=}"
    fi
done
[ -n "$address" ] || refuse "FP_NODE $FP_NODE is not in FP_PEERS ($FP_PEERS)"

state=/var/lib/fencepost
mkdir -p "$state"

# What the host had before fencepost's first install, recorded once:
# packages-before is written last, so its presence means a whole record.
# These are the directories (and files) the packages make and their purge may
# leave behind, plus the man directory made below for Java.
known_paths="/etc/redis /var/lib/redis /var/log/redis /etc/zookeeper /var/lib/zookeeper /var/log/zookeeper
/etc/default/etcd /var/lib/etcd /var/log/etcd /usr/share/man/man1 /etc/ssl/certs/java /etc/java-17-openjdk
/usr/lib/jvm /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked"
if [ ! -s "$state/packages-before" ]; then
    for path in $known_paths; do
        if [ -e "$path" ] || [ -L "$path" ]; then echo "$path"; fi
    done > "$state/paths-before"
    # ucf (the JRE's and ZooKeeper's config files) keeps numbered backups of
    # its state, one more per run: hashfile.1, registry.1...
    ls -A /var/lib/ucf 2>/dev/null | sort > "$state/ucf-before"
    cut -d: -f1 /etc/passwd | sort > "$state/users-before"
    cut -d: -f1 /etc/group | sort > "$state/groups-before"
    for name in redis-server etcd zookeeper; do
        if [ -d /run/systemd/system ] && systemctl is-enabled "$name.service" >/dev/null 2>&1; then
            echo "enabled $name"
        fi
        if [ -d /run/systemd/system ] && systemctl is-active "$name.service" >/dev/null 2>&1; then
            echo "active $name"
        fi
    done > "$state/units-before"
    dpkg-query -W -f='${binary:Package}\n' | sort > "$state/packages-before.tmp"
    mv "$state/packages-before.tmp" "$state/packages-before"
fi

# Keep the packages' own services from starting during the install
# (invoke-rc.d and deb-systemd-invoke obey policy-rc.d): they would take the
# ports fencepost's server needs. Only our own file is removed afterwards.
policy=/usr/sbin/policy-rc.d
policy_text='#!/bin/sh
# Written by fencepost install.sh while it installs packages; removed after.
exit 101'
remove_policy() {
    if [ -f "$state/policy-rc.d-created" ] && [ "$(cat "$policy" 2>/dev/null)" = "$policy_text" ]; then
        rm -f "$policy"
    fi
}
if [ ! -e "$policy" ]; then
    printf '%s\n' "$policy_text" > "$policy"
    chmod 755 "$policy"
    : > "$state/policy-rc.d-created"
fi
trap remove_policy EXIT

# Debian's slim images leave out /usr/share/man, and the JRE's postinst
# fails without man1 (it registers the man pages of its alternatives).
mkdir -p /usr/share/man/man1

# apt and dpkg run without the caller's LD_PRELOAD (that is for the server).
# Stale package lists fail the download: update them and try again. A
# running unattended-upgrades holds the lock for a while: wait for it.
apt_install() {
    # $packages is split into words on purpose.
    # shellcheck disable=SC2086
    env -u LD_PRELOAD DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
        install -y --no-install-recommends $packages >&2
}
if ! apt_install; then
    echo "fencepost install: apt-get install failed; updating the package lists and trying again" >&2
    env -u LD_PRELOAD apt-get -o DPkg::Lock::Timeout=300 update >&2
    apt_install
fi
remove_policy

# The distribution's own service must not run beside fencepost's (same
# ports, other data). teardown.sh turns it back on if it was on before.
if [ -d /run/systemd/system ]; then
    if systemctl cat "$unit.service" >/dev/null 2>&1; then
        systemctl disable --now "$unit.service" >&2 2>&1 || true
    fi
elif [ -x "/etc/init.d/$unit" ] && "/etc/init.d/$unit" status >/dev/null 2>&1; then
    "/etc/init.d/$unit" stop >&2 2>&1 || true
fi

# The server's command line: the same configuration as docker/images/*/start.
mkdir -p /etc/fencepost /usr/local/lib/fencepost /var/log/fencepost
case "$FP_SYSTEM" in
etcd)
    cluster=""
    for peer in $FP_PEERS; do
        cluster="${cluster:+$cluster,}${peer%%=*}=http://${peer#*=}:2380"
    done
    # etcd makes its data dir itself, with the mode it insists on (0700).
    workdir=$state
    exe=/usr/bin/etcd
    set -- --name "$FP_NODE" --data-dir "$state/etcd" \
        --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls "http://$address:2379" \
        --listen-peer-urls http://0.0.0.0:2380 --initial-advertise-peer-urls "http://$address:2380" \
        --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token fencepost \
        --heartbeat-interval 100 --election-timeout 1000
    ;;
redis)
    # No persistence, as the Redis lock recipes are usually deployed.
    workdir=$state/redis
    mkdir -p "$workdir"
    exe=/usr/bin/redis-server
    set -- --bind 0.0.0.0 --protected-mode no --port 6379 --dir "$workdir" \
        --save "" --appendonly no --daemonize no --loglevel notice
    ;;
zookeeper)
    workdir=$state/zookeeper
    mkdir -p "$workdir"
    echo "$FP_ID" > "$workdir/myid"
    {
        echo "tickTime=1000"
        echo "initLimit=10"
        echo "syncLimit=5"
        echo "dataDir=$workdir"
        echo "clientPort=2181"
        echo "quorumListenOnAllIPs=true"
        echo "4lw.commands.whitelist=*"
        echo "admin.enableServer=false"
        i=1
        for peer in $FP_PEERS; do
            echo "server.$i=${peer#*=}:2888:3888"
            i=$((i + 1))
        done
    } > /etc/fencepost/zoo.cfg
    exe=/usr/bin/java
    # Debian's zookeeper.jar names its dependencies in its manifest.
    set -- -Xms64m -Xmx256m -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar \
        -Dzookeeper.log.dir=/var/log/zookeeper -Dzookeeper.root.logger=INFO,CONSOLE \
        org.apache.zookeeper.server.quorum.QuorumPeerMain /etc/fencepost/zoo.cfg
    ;;
esac

# One shell word, single-quoted.
quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}
args=""
for arg in "$@"; do
    args="$args $(quote "$arg")"
done

# Where this node stands, for whoever looks at the host.
{
    echo "FP_SYSTEM=$(quote "$FP_SYSTEM")"
    echo "FP_NODE=$(quote "$FP_NODE")"
    echo "FP_ID=$(quote "$FP_ID")"
    echo "FP_PEERS=$(quote "$FP_PEERS")"
} > /etc/fencepost/node

# start-stop-daemon's --output (dpkg >= 1.20.6) appends the server's stdout
# and stderr to the log; older ones get the same from a shell that execs the
# server, so that the pid it records is still the server's.
if start-stop-daemon --help 2>&1 | grep -q -- '--output'; then
    launch="--output \"\$log\" --exec \"\$exe\" --$args"
else
    launch="--exec \"\$exe\" --startas /bin/sh -- -c 'exec \"\$0\" \"\$@\" >>/var/log/fencepost/server.log 2>&1' \"\$exe\"$args"
fi

cat > /usr/local/lib/fencepost/service.tmp <<EOF
#!/bin/sh
# fencepost's service for $FP_SYSTEM on $FP_NODE, written by its install.sh.
# \`start\` starts the server in the background unless it runs already (a
# stopped one, kill -STOP, counts as running); \`stop\` ends it (TERM, KILL
# after 10 s). The pidfile names the server process itself, so signals sent
# to that pid reach the server. The server keeps the caller's environment
# (LD_PRELOAD for fencepost's clock shim).
set -eu
pidfile=/run/fencepost/server.pid
log=/var/log/fencepost/server.log
exe=$exe
case "\${1:-}" in
start)
    mkdir -p /run/fencepost /var/log/fencepost
    chmod 755 /run/fencepost
    start-stop-daemon --start --quiet --oknodo --background --make-pidfile --pidfile "\$pidfile" \\
        --chdir $(quote "$workdir") $launch
    ;;
stop)
    if [ -s "\$pidfile" ]; then
        # A stopped server would not act on TERM before the KILL.
        kill -CONT "\$(cat "\$pidfile")" 2>/dev/null || true
    fi
    start-stop-daemon --stop --quiet --oknodo --pidfile "\$pidfile" --exec "\$exe" --retry TERM/10/KILL/5
    rm -f "\$pidfile"
    ;;
*)
    echo "usage: \$0 start|stop" >&2
    exit 2
    ;;
esac
EOF
chmod 755 /usr/local/lib/fencepost/service.tmp
mv /usr/local/lib/fencepost/service.tmp /usr/local/lib/fencepost/service

/usr/local/lib/fencepost/service start

# A server that cannot start (a port in use, a bad flag) dies at once: say
# so here rather than let fencepost wait for it.
sleep 1
if ! start-stop-daemon --status --pidfile /run/fencepost/server.pid --exec "$exe"; then
    echo "fencepost install: the $FP_SYSTEM server exited at once; the end of /var/log/fencepost/server.log:" >&2
    tail -n 20 /var/log/fencepost/server.log >&2 || true
    exit 1
fi

echo "installed $FP_SYSTEM on $FP_NODE"
