#!/usr/bin/env bash
# End-to-end check of the identity library on this machine's cgroup2 mount.
# Needs root. It creates a kubepods-like cgroup
#   <cgroup2>/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
# moves a sleeping process into it, writes a fake kubelet log directory
# (pods/<ns>_<pod>_<uid>/ and a containers/ link), and checks that the
# resolver maps both the pid and the cgroup id to that pod and container.
# Everything it made is removed on exit, whatever happens.
#
# On a real Kubernetes node (kubepods.slice already there) it nests the fake
# pod under a private top cgroup instead, so the kubelet never sees it.
# On a hybrid host only the v2 hierarchy sees the move; that is all it needs.
#
#   tests/e2e/identity/check.sh            builds the probe with g++ into a temp dir
#   IDENTITY_PROBE=path check.sh           uses a probe built already
set -euo pipefail

[[ $EUID -eq 0 ]] || { echo "check.sh: needs root (it creates cgroups)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)

cgroup2=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
          /proc/self/mountinfo)
[[ -n $cgroup2 ]] || { echo "check.sh: no cgroup2 mount in /proc/self/mountinfo" >&2; exit 1; }

work=$(mktemp -d /tmp/tcpleak-identity-e2e.XXXXXX)
created=()   # cgroups this script made, parents first
sleeper=""

cleanup() {
    if [[ -n $sleeper ]]; then
        echo "$sleeper" > "$cgroup2/cgroup.procs" 2>/dev/null || true
        kill "$sleeper" 2>/dev/null || true
        wait "$sleeper" 2>/dev/null || true
    fi
    for ((i = ${#created[@]} - 1; i >= 0; i--)); do
        rmdir "${created[i]}" || echo "check.sh: could not remove ${created[i]}" >&2
    done
    rm -rf "$work"
}
trap cleanup EXIT

make_cgroup() { # every level it creates is recorded, so cleanup removes exactly those
    local path=$1 dir=""
    IFS=/ read -ra parts <<< "${path#/}"
    for part in "${parts[@]}"; do
        dir+="/$part"
        if [[ ! -d $cgroup2$dir ]]; then
            mkdir "$cgroup2$dir"
            created+=("$cgroup2$dir")
        fi
    done
}

uid=$(cat /proc/sys/kernel/random/uuid)
id=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
prefix=""
[[ -e $cgroup2/kubepods.slice ]] && prefix="/tcpleak-identity-e2e-$$"
scope="$prefix/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid//-/_}.slice/cri-containerd-$id.scope"

probe=${IDENTITY_PROBE:-}
if [[ -z $probe ]]; then
    probe="$work/identity-probe"
    g++ -std=c++20 -O2 -I"$repo/include" "$repo/tests/e2e/identity/probe.cpp" "$repo"/src/identity/*.cpp -o "$probe"
fi

make_cgroup "$scope"
sleep 600 &
sleeper=$!
echo "$sleeper" > "$cgroup2$scope/cgroup.procs"
cgroup_id=$(stat -c %i "$cgroup2$scope")
grep -qx "0::$scope" "/proc/$sleeper/cgroup" || { echo "check.sh: the move did not take" >&2; exit 1; }

mkdir -p "$work/pods/shop_cart-0_$uid/cart" "$work/containers"
: > "$work/pods/shop_cart-0_$uid/cart/0.log"
ln -s "$work/pods/shop_cart-0_$uid/cart/0.log" "$work/containers/cart-0_shop_cart-$id.log"

echo "cgroup2 mount: $cgroup2"
echo "cgroup:        $scope (id $cgroup_id)"
echo "process:       $sleeper"
expected=("cgroup_id=$cgroup_id" "cgroup_path=$scope" "container_id=$id" "container_runtime=containerd"
          "container_name=cart" "pod_uid=$uid" "pod_qos=burstable" "pod=cart-0" "namespace=shop" "systemd_unit=")
failures=0

# Each pass: the pid and the cgroup id, each in a probe of its own (so
# neither is a hit on the other's cache entry), must name the expected identity.
check_pass() {
    local name=$1 output query block
    shift
    echo "--- $name"
    REPLY=""
    for query in "pid $sleeper" "cgroup-id $cgroup_id"; do
        output=$("$probe" --cgroup-root "$cgroup2" --pods-dir "$work/pods" --containers-dir "$work/containers" "$@" \
                          --${query% *} "${query#* }")
        echo "$output"
        REPLY+=$output$'\n'
        block=$(sed -n '/^query=/,/^lookups=/p' <<< "$output")
        for line in "${expected[@]}"; do
            if ! grep -qxF -- "$line" <<< "$block"; then
                echo "FAIL ($name, $query): expected $line" >&2
                failures=$((failures + 1))
            fi
        done
    done
}

check_pass "cached by the start-up walk"
# Only the root cached: the cgroup id must come from open_by_handle_at.
if grep -qx "file_handles=1" <<< "$REPLY"; then
    check_pass "resolved by file handle" --max-entries 1
    grep -q "^lookups=1 cache_hits=0 handle_hits=1 " <<< "$REPLY" || { echo "FAIL: the id was not resolved by file handle" >&2; failures=$((failures + 1)); }
else
    echo "--- no file handles here (no CAP_DAC_READ_SEARCH?): that pass is skipped"
fi

((failures == 0)) && echo "PASS: pid $sleeper and cgroup id $cgroup_id both name pod shop/cart-0 ($uid), container cart ($id)"
exit $((failures > 0))
