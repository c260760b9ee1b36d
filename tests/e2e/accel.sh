#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Accelerator choice on a host whose KVM opens but may not run a guest.
# A stand-in for QEMU plays the three ways a KVM probe boot can end (QEMU
# exits quoting an MSR error, the guest stays silent past the deadline, the
# guest says HELLO: the stand-in runs the real QEMU under TCG) and runs the
# real QEMU under TCG for every other boot, so each `up` really boots.
# Checks: auto falls back to TCG with one line saying why and how to force
# either; the verdict is cached (no second probe) and re-probed when the
# QEMU binary changes; --accel kvm fails with QEMU's error and keeps the
# logs; flag beats policy beats AGENTGW_ACCEL; doctor reports the verdict;
# ps shows the accelerator used.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require jq nsenter

e2e_netns accel
export AGENTGW_STATE_DIR=$tmp/state
export AGENTGW_QEMU=$tmp/qemu-standin
export AGENTGW_KVM_DEV=$tmp/kvm-device # opens: the probe must decide
export STANDIN_LOG=$tmp/standin.log STANDIN_MODE=exit
unset AGENTGW_ACCEL AGENTGW_KVM_PROBE_TIMEOUT_MS
# The stand-in writes its log here, outside QEMU's jail (tests/e2e/jail.sh tests the jail).
export AGENTGW_NO_JAIL=1
: >"$AGENTGW_KVM_DEV"
real_qemu=$(command -v qemu-system-x86_64)
# What the TCG command line adds (vmctl/qemu.c): a busy host cannot calibrate the TSC.
khz=$(awk '/^cpu MHz/ { printf "%d", $4 * 1000; exit }' /proc/cpuinfo)
cat >"$AGENTGW_QEMU" <<EOF
#!/usr/bin/env bash
# Stand-in QEMU: a KVM boot ends as \$STANDIN_MODE says; anything else is the real QEMU.
kvm=0 out=() prev=
for a in "\$@"; do
	if [ "\$prev" = -accel ] && [ "\$a" = kvm ]; then kvm=1; a=tcg,tb-size=256; fi
	if [ "\$prev" = -cpu ] && [ "\$a" = host ]; then a=max; fi
	if [ "\$prev" = -append ]; then a="\$a no_timer_check tsc_early_khz=$khz"; fi
	out+=("\$a") prev=\$a
done
echo "accel=\$([ \$kvm = 1 ] && echo kvm || echo tcg) mode=\$STANDIN_MODE" >>"\$STANDIN_LOG"
if [ \$kvm = 1 ]; then
	case "\$STANDIN_MODE" in
	exit) echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; exit 1 ;;
	silent) exec -a "agw-standin-silent-$$" sleep 300 ;;
	hello) exec $real_qemu "\${out[@]}" ;;
	esac
fi
exec $real_qemu "\$@"
EOF
chmod +x "$AGENTGW_QEMU"
cat >"$tmp/p.yaml" <<'YAML'
version: 1
name: e2e-accel
network:
  allow: [allowed.test]
audit:
  database: audit.db
YAML
sed 's/^name: e2e-accel$/&\nsandbox: { accel: kvm }/' "$tmp/p.yaml" >"$tmp/pkvm.yaml"

kvm_boots() { grep -c "accel=kvm" "$STANDIN_LOG"; }
up() { # name, args...: run `true` in a new sandbox; stderr in $tmp/err.NAME
	local n=$1
	shift
	nsenter --net=/run/netns/"$ns" timeout 300 "$AGENTGW" up --name "$n" "$@" -- true >"$tmp/out.$n" 2>"$tmp/err.$n"
}

# 1. QEMU exits under KVM: fall back to TCG, say why in one line, cache it.
: >"$STANDIN_LOG"
t0=$(date +%s%N)
up a1 --policy "$tmp/p.yaml"
rc=$?
t1=$(date +%s%N)
cat "$tmp/err.a1"
check "auto boots after QEMU exits in the KVM probe" [ "$rc" = 0 ]
check "one line says why (QEMU's MSR error) and how to force" \
	grep -q "KVM cannot boot the guest.*failed to set MSR 0x10a.*using TCG.*--accel kvm|tcg" "$tmp/err.a1"
check "exactly one line about it" [ "$(grep -c 'KVM cannot boot' "$tmp/err.a1")" = 1 ]
check "one probe (KVM) boot, then TCG" [ "$(kvm_boots)" = 1 ] && grep -q "accel=tcg" "$STANDIN_LOG"
check "verdict cached: tcg" grep -q "^verdict=tcg" "$AGENTGW_STATE_DIR/accel-probe"
echo "first up with probe: $(((t1 - t0) / 1000000)) ms"

# 2. The cached verdict: no second probe.
t0=$(date +%s%N)
up a2 --policy "$tmp/p.yaml"
rc=$?
t1=$(date +%s%N)
check "second up boots" [ "$rc" = 0 ]
check "second up does not probe again" [ "$(kvm_boots)" = 1 ]
check "second up says the verdict is cached" grep -q "cached verdict" "$tmp/err.a2"
echo "second up (cached verdict): $(((t1 - t0) / 1000000)) ms"

# 3. --accel kvm: one clear line quoting QEMU's error; logs kept.
up a3 --policy "$tmp/p.yaml" --accel kvm
rc=$?
cat "$tmp/err.a3"
check "--accel kvm fails (exit 1)" [ "$rc" = 1 ]
check "its first line quotes QEMU's error" \
	sh -c "grep -v \"^agentgw up: sandbox 'a3', audit log\" '$tmp/err.a3' | head -n1 | grep -q 'QEMU exited.*failed to set MSR 0x10a to 0x69'"
kept=$(sed -n "s/.*its logs are kept in \(.*\)$/\1/p" "$tmp/err.a3")
check "the logs' folder is printed" [ -n "$kept" ]
check "qemu.log is kept there" grep -q "MSR 0x10a" "$kept/qemu.log"
check "the failed sandbox leaves no state dir" [ ! -e "$AGENTGW_RUN_DIR/a3" ]

# 4. A silent guest under KVM: the probe gives up at its deadline; the
#    QEMU binary changed, so the cached verdict no longer holds.
: >"$STANDIN_LOG"
touch -d '2020-01-01' "$AGENTGW_QEMU"
export STANDIN_MODE=silent AGENTGW_KVM_PROBE_TIMEOUT_MS=1500
up a4 --policy "$tmp/p.yaml"
rc=$?
cat "$tmp/err.a4"
check "a changed QEMU is probed again" [ "$(kvm_boots)" = 1 ]
check "silent guest: auto boots under TCG" [ "$rc" = 0 ]
check "silent guest: the line names the deadline" \
	grep -q "KVM cannot boot.*within 1500 ms.*using TCG" "$tmp/err.a4"
check "silent guest: the probe's QEMU is gone" sh -c "! pgrep -f 'agw-standin-silen[t]-$$' >/dev/null"
unset AGENTGW_KVM_PROBE_TIMEOUT_MS

# 5. The guest says HELLO under KVM: auto uses KVM, ps shows it.
: >"$STANDIN_LOG"
touch -d '2021-01-01' "$AGENTGW_QEMU"
# The stand-in boots under TCG: give the probe the time TCG needs on a busy host.
export STANDIN_MODE=hello AGENTGW_KVM_PROBE_TIMEOUT_MS=120000
nsenter --net=/run/netns/"$ns" timeout 300 "$AGENTGW" up -d --name a5 --policy "$tmp/p.yaml" >"$tmp/out.a5" 2>"$tmp/err.a5"
rc=$?
cat "$tmp/err.a5"
check "hello: up -d boots" [ "$rc" = 0 ]
check "hello: no fallback line" sh -c "! grep -q 'KVM cannot boot' '$tmp/err.a5'"
check "hello: verdict cached: kvm" grep -q "^verdict=kvm" "$AGENTGW_STATE_DIR/accel-probe"
check "hello: probe plus the sandbox's own boot under KVM" [ "$(kvm_boots)" = 2 ]
check "ps shows accel kvm" sh -c "'$AGENTGW' ps --json | jq -e '.[] | select(.name==\"a5\") | .accel==\"kvm\"' >/dev/null"
"$AGENTGW" down a5 >/dev/null 2>&1

unset AGENTGW_KVM_PROBE_TIMEOUT_MS

# 6. Precedence: flag beats policy beats AGENTGW_ACCEL.
: >"$STANDIN_LOG"
AGENTGW_ACCEL=tcg up a6 --policy "$tmp/pkvm.yaml"
check "policy accel: kvm beats AGENTGW_ACCEL=tcg" [ "$(kvm_boots)" = 1 ]
: >"$STANDIN_LOG"
AGENTGW_ACCEL=kvm up a7 --policy "$tmp/pkvm.yaml" --accel tcg
check "--accel tcg beats the policy and the environment" [ "$(kvm_boots)" = 0 ] && grep -q accel=tcg "$STANDIN_LOG"
: >"$STANDIN_LOG"
AGENTGW_ACCEL=tcg "$AGENTGW" vm-run -- true 2>"$tmp/err.vm"
check "AGENTGW_ACCEL=tcg: vm-run boots with TCG, no probe" [ "$(kvm_boots)" = 0 ]
AGENTGW_ACCEL=foo "$AGENTGW" vm-run -- true 2>"$tmp/err.bad"
check "AGENTGW_ACCEL=foo is a usage error" [ $? = 2 ] && grep -q "AGENTGW_ACCEL: unknown accelerator 'foo'" "$tmp/err.bad"
"$AGENTGW" up --policy "$tmp/p.yaml" --accel fast -- true 2>"$tmp/err.bad"
check "--accel fast is a usage error" [ $? = 2 ] && grep -q "unknown accelerator 'fast'" "$tmp/err.bad"
sed 's/accel: kvm/accel: kvn/' "$tmp/pkvm.yaml" >"$tmp/pbad.yaml"
"$AGENTGW" policy check "$tmp/pbad.yaml" 2>"$tmp/err.bad"
check "sandbox.accel: kvn is a policy error with did-you-mean" grep -q "unknown accel 'kvn' (did you mean 'kvm'?)" "$tmp/err.bad"

# 7. doctor reads the verdict instead of "KVM opens".
if [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; then
	doc=$(env -u AGENTGW_KVM_DEV "$AGENTGW" doctor --json | jq -r 'select(.check=="kvm") | .message')
	echo "doctor: $doc"
	check "doctor reports the cached verdict" sh -c "echo '$doc' | grep -q 'KVM boots the guest (cached verdict'"
else
	ok "doctor verdict: no /dev/kvm on this host (auto is TCG without a probe there)"
fi
e2e_finish
