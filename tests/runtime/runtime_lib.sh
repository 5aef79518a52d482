# shellcheck shell=bash
# Sourced by tests that need a real container runtime to call the CNI plugins: a private
# containerd (CRI over tests/runtime/cri.py) per emulated node and podman's CNI backend, each
# with its own root, state, sockets, CNI config and bin dirs under RT_WORK. Touches the kernel
# (network namespaces, mounts, processes); needs root. Never uses a system-wide containerd or
# podman store.
#
# The caller sets RT_WORK (a private temp dir) before sourcing and calls rt_cleanup from its exit
# trap BEFORE it deletes the node network namespaces. Functions:
#   rt_pause_image                        static pause + its OCI archive and rootfs (once)
#   ctd_start NAME NODE_NETNS CNI_BIN_DIR CNI_CONF_DIR
#                                         containerd in the node's netns; CRI socket CTD_SOCK[NAME]
#                                         (= ctd_launch, then ctd_wait NAME)
#   cri NAME ARGS...                      tests/runtime/cri.py against that containerd (JSON out)
#   cri_run_pod NAME TIMEOUT_S NS POD [cri.py run args...]
#                                         RunPodSandbox retried while it fails (as kubelet does);
#                                         the PodSandboxStatus JSON in CRI_OUT, errors in CRI_ERR
#   cri_remove_pod NAME SANDBOX_ID        StopPodSandbox + RemovePodSandbox
#   ctd_stop NAME                         every sandbox removed, containerd stopped, shims killed
#   podman_rt NAME NODE_NETNS CNI_BIN_DIR CNI_CONF_DIR
#                                         a private podman (CNI backend); then `pm NAME ARGS...`
#   pm_run NAME CONTAINER NETWORK         `podman run -d --rootfs` of the pause program
#   podman_stop NAME                      every container of that podman removed
# The CNI plugins a runtime runs inherit its network namespace, so running the runtime in the
# node's namespace puts the pods' host veths there. Only the network namespace is switched
# (nsenter --net, not `ip netns exec`): the runtime's netns mounts must stay visible to the agent.

RT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RT_PY=/usr/bin/python3  # Debian's python3 sees python3-grpcio
RT_PAUSE_IMAGE=localhost/ambient-test/pause:1
# The pods' cgroups (cgroupfs driver) go below this parent, removed by rt_cleanup.
RT_CGROUP_PARENT=/ambient-rt-$$
declare -A CTD_PID CTD_SOCK CTD_DIR PM_DIR PM_NETNS
: "${RT_WORK:?set RT_WORK to a private temp dir before sourcing runtime_lib.sh}"

rt_log() { echo "[$(date +%T)] $*"; }

# rt_pause_image: $RT_WORK/pause/{pause,pause-oci.tar,rootfs/pause}.
rt_pause_image() {
  local d=$RT_WORK/pause
  [ -s "$d/pause-oci.tar" ] && return 0
  mkdir -p "$d/rootfs"
  gcc -static -O2 -o "$d/pause" "$RT_DIR/pause.c" || return 1
  cp "$d/pause" "$d/rootfs/pause"
  "$RT_PY" "$RT_DIR/oci_image.py" "$d/pause" "$d/pause-oci.tar" "$RT_PAUSE_IMAGE"
}

# ctd_config NAME CNI_BIN_DIR CNI_CONF_DIR: containerd 1.6's config (version 2) with every path
# private. The CRI plugin keeps pods' netns mounts under its state dir, uses the native
# snapshotter (works on any file system, the VM's overlay root included) and our pause image.
ctd_config() {
  local d=${CTD_DIR[$1]}
  cat <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$d/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$RT_PAUSE_IMAGE"
    netns_mounts_under_state_dir = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    disable_apparmor = true
    # lowering oom_score_adj (the sandbox asks for -998) needs CAP_SYS_RESOURCE, which root
    # lacks on the CI machines: keep pods at containerd's own value
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$2"
      conf_dir = "$3"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "native"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          Root = "$d/runc"
          SystemdCgroup = false
EOF
}

# ctd_start NAME NODE_NETNS CNI_BIN_DIR CNI_CONF_DIR: a private containerd whose CNI plugins run
# in NODE_NETNS (a path, e.g. /run/netns/X); waits for its CRI and imports the pause image.
# ctd_launch (same arguments) only starts the process and ctd_wait NAME does the rest, so that
# several nodes' containerds start in parallel.
ctd_start() { ctd_launch "$@" && ctd_wait "$1"; }
ctd_launch() {
  local name=$1 netns=$2 bin=$3 conf=$4
  local d=$RT_WORK/ctd-$name
  mkdir -p "$d/root" "$d/state" "$d/opt" "$d/runc" "$bin" "$conf"
  CTD_DIR[$name]=$d
  CTD_SOCK[$name]=$d/containerd.sock
  rt_pause_image || { echo "runtime_lib: cannot build the pause image" >&2; return 1; }
  ctd_config "$name" "$bin" "$conf" >"$d/config.toml"
  nsenter --net="$netns" containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 &
  CTD_PID[$name]=$!
}
ctd_wait() {
  local name=$1 i d=${CTD_DIR[$1]}
  for ((i = 0; i < ${CTD_START_TIMEOUT:-120} * 5; i++)); do
    kill -0 "${CTD_PID[$name]}" 2>/dev/null ||
      { echo "runtime_lib: containerd $name exited: $(tail -n 5 "$d/containerd.log")" >&2; return 1; }
    [ -S "${CTD_SOCK[$name]}" ] && cri "$name" version >/dev/null 2>&1 && break
    sleep 0.2
  done
  cri "$name" version >/dev/null 2>&1 ||
    { echo "runtime_lib: containerd $name: no CRI answer: $(tail -n 5 "$d/containerd.log")" >&2; return 1; }
  ctr -a "${CTD_SOCK[$name]}" -n k8s.io images import --snapshotter native \
    "$RT_WORK/pause/pause-oci.tar" >"$d/import.log" 2>&1 ||
    { echo "runtime_lib: image import into $name failed: $(cat "$d/import.log")" >&2; return 1; }
}

cri() {
  local name=$1; shift
  "$RT_PY" "$RT_DIR/cri.py" --socket "${CTD_SOCK[$name]}" --timeout "${CRI_TIMEOUT:-60}" "$@"
}

# cri_run_pod NAME TIMEOUT_S NS POD [ARGS...]: RunPodSandbox until it succeeds or TIMEOUT_S
# passed (kubelet retries a sandbox whose CNI ADD failed; containerd has already run DEL).
cri_run_pod() {
  local name=$1 limit=$2 ns=$3 pod=$4; shift 4
  local start=$SECONDS
  CRI_ERR=""
  while :; do
    if CRI_OUT=$(cri "$name" run --namespace "$ns" --name "$pod" \
      --cgroup-parent "$RT_CGROUP_PARENT/$name" "$@"); then return 0; fi
    CRI_ERR=$CRI_OUT
    echo "RunPodSandbox $ns/$pod: $CRI_ERR" >>"${CTD_DIR[$name]}/runtime.log"
    ((SECONDS - start >= limit)) && return 1
    sleep 0.5
  done
}

cri_remove_pod() {
  cri "$1" stop "$2" >/dev/null && cri "$1" remove "$2" >/dev/null
}

# rt_kill_leftovers DIR [SOCKET]: SIGKILL what our runtimes started and left running: the
# processes named by pid files below DIR (pause, conmon) and the containerd shims serving SOCKET
# (containerd 1.6 writes no pid file for them; each one's command line names our socket:
# `containerd-shim-runc-v2 ... -address SOCKET`), then the shim sockets they named.
rt_kill_leftovers() {
  local f pid
  while IFS= read -r f; do
    pid=$(cat "$f" 2>/dev/null) || continue
    [[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] && kill -KILL "$pid" 2>/dev/null
  done < <(find "$1" \( -name '*.pid' -o -name pidfile \) -type f 2>/dev/null)
  if [ -n "${2:-}" ]; then
    for f in /proc/[0-9]*/cmdline; do
      [[ "$({ tr '\0' ' ' <"$f"; } 2>/dev/null)" == *"-address $2 "* ]] || continue
      pid=${f#/proc/}
      kill -KILL "${pid%/cmdline}" 2>/dev/null
    done
  fi
  # containerd 1.6 puts each shim's socket in /run/containerd/s/<hash> (hash of our socket
  # path, so it never names another containerd's); the bundle's "address" file names it.
  while IFS= read -r f; do
    local a
    a=$(sed -n 's#^unix://##p' "$f" 2>/dev/null)
    [[ "$a" == /run/containerd/s/* ]] && rm -f "$a"
  done < <(find "$1" -name address -type f 2>/dev/null)
}

# rt_umount_below DIR: lazily unmounts every mount below DIR, deepest first.
rt_umount_below() {
  local m
  awk -v p="$1/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while IFS= read -r m; do umount -l "$m" 2>/dev/null; done
}

# ctd_stop NAME: removes every sandbox (CNI DEL through the runtime), stops containerd, then
# kills what is left by PID and unmounts what is left. With RT_FAST_CLEANUP=1 the sandboxes are
# not removed through the CRI (no CNI DEL): their processes are killed and mounts undone.
ctd_stop() {
  local name=$1 id i
  [ -n "${CTD_PID[$name]:-}" ] || return 0
  if kill -0 "${CTD_PID[$name]}" 2>/dev/null; then
    [ -n "${RT_FAST_CLEANUP:-}" ] ||
      for id in $(CRI_TIMEOUT=20 cri "$name" list 2>/dev/null | jq -r '.[].id' 2>/dev/null); do
        CRI_TIMEOUT=20 cri_remove_pod "$name" "$id" >/dev/null 2>&1
      done
    kill -TERM "${CTD_PID[$name]}" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "${CTD_PID[$name]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${CTD_PID[$name]}" 2>/dev/null
  fi
  wait "${CTD_PID[$name]}" 2>/dev/null
  rt_kill_leftovers "${CTD_DIR[$name]}" "${CTD_SOCK[$name]}"
  rt_umount_below "${CTD_DIR[$name]}"
  unset "CTD_PID[$name]"
}

# ---- podman (CNI backend) ---------------------------------------------------------------------
# podman_rt NAME NODE_NETNS CNI_BIN_DIR CNI_CONF_DIR: a private podman: containers.conf and
# storage.conf of its own (vfs storage, cgroupfs, file events, runc), CNI from CNI_CONF_DIR.
podman_rt() {
  local name=$1 netns=$2 bin=$3 conf=$4
  local d=$RT_WORK/podman-$name
  mkdir -p "$d/root" "$d/runroot" "$d/tmp" "$bin" "$conf"
  PM_DIR[$name]=$d
  PM_NETNS[$name]=$netns
  rt_pause_image || return 1
  cat >"$d/containers.conf" <<EOF
[containers]
netns = "private"
[network]
network_backend = "cni"
cni_plugin_dirs = ["$bin"]
network_config_dir = "$conf"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/events.log"
runtime = "runc"
tmp_dir = "$d/tmp"
volume_path = "$d/volumes"
static_dir = "$d/static"
EOF
  cat >"$d/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$d/root"
runroot = "$d/runroot"
EOF
}

pm() {
  local name=$1; shift
  local d=${PM_DIR[$name]}
  CONTAINERS_CONF=$d/containers.conf CONTAINERS_STORAGE_CONF=$d/storage.conf \
    CONTAINERS_REGISTRIES_CONF=/dev/null TMPDIR=$d/tmp \
    timeout "${PM_TIMEOUT:-120}" nsenter --net="${PM_NETNS[$name]}" \
    podman --network-backend cni --root "$d/root" --runroot "$d/runroot" --tmpdir "$d/tmp" \
    --storage-driver vfs --cgroup-manager cgroupfs --events-backend file "$@"
}

# pm_run NAME CONTAINER NETWORK [podman run args...]: the pause program from a rootfs dir (no
# image), detached; prints the container id. Podman's CNI_ARGS hold only
# K8S_POD_NAME=<container name>; it appends the pairs of its own CNI_ARGS environment variable,
# so a caller passes a Kubernetes pod's namespace and uid as `CNI_ARGS=K8S_POD_NAMESPACE=..`.
# Small fixed open-files and process limits: podman's defaults for root (1048576 each) are above
# the CI machines' hard limits, and runc then fails with EPERM (raising a hard limit needs
# CAP_SYS_RESOURCE, which root lacks there); even the caller's own limits failed the same way.
pm_run() {
  local name=$1 ctr=$2 net=$3; shift 3
  pm "$name" run -d --name "$ctr" --network "$net" --cgroup-parent "$RT_CGROUP_PARENT/$name" \
    --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 "$@" \
    --rootfs "$RT_WORK/pause/rootfs" /pause
}

# podman_stop NAME: removes every container of this podman (CNI DEL), then kills conmon and
# container processes left behind by PID and unmounts what is left.
podman_stop() {
  local name=$1
  [ -n "${PM_DIR[$name]:-}" ] || return 0
  PM_TIMEOUT=60 pm "$name" rm -a -f -t 2 >/dev/null 2>&1
  rt_kill_leftovers "${PM_DIR[$name]}"
  rt_umount_below "${PM_DIR[$name]}"
  unset "PM_DIR[$name]"
}

# rt_cleanup: every runtime this library started, stopped; call from the caller's exit trap.
rt_cleanup() {
  local n
  for n in "${!CTD_PID[@]}"; do ctd_stop "$n"; done
  for n in "${!PM_DIR[@]}"; do podman_stop "$n"; done
  rt_umount_below "$RT_WORK"
  # Emptied cgroups below our parent, deepest first, in every hierarchy.
  find /sys/fs/cgroup -depth -mindepth 1 -maxdepth 6 -type d \
    \( -path "*$RT_CGROUP_PARENT" -o -path "*$RT_CGROUP_PARENT/*" \) -exec rmdir {} \; 2>/dev/null
}
