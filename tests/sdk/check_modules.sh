#!/usr/bin/env bash
# Checks that actor modules built with sdk/shoal.h keep to docs/abi.md:
# memory 0 exported as "memory"; exactly the expected exports, with the
# ABI's signatures; function imports only, from "shoal" (with the ABI's
# signatures) and the preview1 functions actors may have. Prints TAP.
#
# usage: check_modules.sh WASM_OBJDUMP SPEC...
#   SPEC is PATH=EXPORTS[=IMPORTS]: EXPORTS the comma-separated function
#   exports the module must have (besides memory) and no others; IMPORTS,
#   when given, shoal imports it must have (all: every import of the ABI).
set -u

objdump=$1
shift

# The ABI's signatures, spelled as wasm-objdump prints types.
declare -A shoal_sig=(
    [self]='() -> i64'
    [send]='(i64, i32, i32) -> i32'
    [receive]='(i64) -> i32'
    [msg_read]='(i32, i32) -> i32'
    [msg_sender]='() -> i64'
    [msg_kind]='() -> i32'
    [call]='(i64, i32, i32, i64) -> i32'
    [reply]='(i32, i32) -> i32'
    [spawn]='(i32, i32, i32, i32) -> i64'
    [exit]='(i32) -> nil'
    [log]='(i32, i32, i32) -> nil'
    [link]='(i64) -> i32'
    [unlink]='(i64) -> i32'
    [monitor]='(i64) -> i64'
    [demonitor]='(i64) -> i32'
    [trap_exit]='(i32) -> i32'
)
declare -A export_sig=(
    [shoal_handle]='(i32, i32) -> i32'
    [shoal_init]='(i32) -> i32'
    [shoal_main]='() -> nil'
)
declare -A wasi_allowed=()
for f in fd_write clock_time_get clock_res_get random_get args_get \
    args_sizes_get environ_get environ_sizes_get proc_exit sched_yield \
    fd_fdstat_get fd_prestat_get; do
    wasi_allowed[$f]=1
done

n=0
failed=0

check() {
    local spec=$1 path exports want_imports
    IFS='=' read -r path exports want_imports <<<"$spec"
    local name
    name=$(basename "$path")
    local problems=()

    local dump
    if ! dump=$("$objdump" -x "$path" 2>&1); then
        problems+=("wasm-objdump failed: $dump")
    fi

    # type index -> signature; function index -> type index
    declare -A types=() func_type=()
    local section='' line
    while IFS= read -r line; do
        case $line in
        [A-Z]*'['*']:') section=${line%%\[*} ;;
        ' - '*)
            case $section in
            Type)
                if [[ $line =~ ^\ -\ type\[([0-9]+)\]\ (.*)$ ]]; then
                    types[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
                fi
                ;;
            Import | Function)
                if [[ $line =~ ^\ -\ func\[([0-9]+)\]\ sig=([0-9]+) ]]; then
                    func_type[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
                fi
                ;;
            esac
            ;;
        esac
    done <<<"$dump"

    # Imports.
    declare -A have_import=()
    section=''
    local memory_exported=no got_exports=()
    while IFS= read -r line; do
        case $line in
        [A-Z]*'['*']:') section=${line%%\[*}; continue ;;
        ' - '*) ;;
        *) continue ;;
        esac
        if [[ $section == Import ]]; then
            local what=${line#' - '} from=${line##* <- }
            what=${what%%\[*}
            local module=${from%%.*} field=${from#*.}
            local idx=''
            [[ $line =~ ^\ -\ func\[([0-9]+)\] ]] && idx=${BASH_REMATCH[1]}
            if [[ $what != func ]]; then
                problems+=("imports a $what: $from")
            elif [[ $module == shoal ]]; then
                local sig=${types[${func_type[$idx]}]-}
                if [[ -z ${shoal_sig[$field]+x} ]]; then
                    problems+=("imports shoal.$field, which the ABI lacks")
                elif [[ $sig != "${shoal_sig[$field]}" ]]; then
                    problems+=("shoal.$field is $sig, not ${shoal_sig[$field]}")
                fi
                have_import[$field]=1
            elif [[ $module == wasi_snapshot_preview1 ]]; then
                if [[ -z ${wasi_allowed[$field]+x} ]]; then
                    problems+=("imports $from, a stub for actors")
                fi
            else
                problems+=("imports from module $module: $from")
            fi
        elif [[ $section == Export ]]; then
            local ename=${line##* -> }
            ename=${ename#\"}
            ename=${ename%\"}
            if [[ $line =~ ^\ -\ memory\[0\] ]]; then
                [[ $ename == memory ]] && memory_exported=yes
                [[ $ename != memory ]] && problems+=("memory exported as $ename")
            elif [[ $line =~ ^\ -\ func\[([0-9]+)\] ]]; then
                local idx=${BASH_REMATCH[1]}
                got_exports+=("$ename")
                local sig=${types[${func_type[$idx]}]-}
                if [[ -n ${export_sig[$ename]+x} && \
                      $sig != "${export_sig[$ename]}" ]]; then
                    problems+=("export $ename is $sig, not ${export_sig[$ename]}")
                fi
            else
                problems+=("exports ${line#' - '}")
            fi
        fi
    done <<<"$dump"

    [[ $memory_exported == yes ]] || problems+=('memory 0 not exported as "memory"')
    # wasm-ld wraps each export of a module it takes for a WASI command in
    # a run of the constructors and destructors (shoal.h's shoal__start is
    # there to prevent that).
    if grep -q '\.command_export>' <<<"$dump"; then
        problems+=("exports wrapped as a command's (*.command_export)")
    fi
    local want got
    want=$(tr ',' '\n' <<<"$exports" | sed '/^$/d' | sort | tr '\n' ' ')
    got=$(printf '%s\n' "${got_exports[@]}" | sed '/^$/d' | sort | tr '\n' ' ')
    [[ $want == "$got" ]] || problems+=("exports [${got% }], want [${want% }]")

    if [[ -n $want_imports ]]; then
        local f list
        if [[ $want_imports == all ]]; then
            list=${!shoal_sig[*]}
        else
            list=${want_imports//,/ }
        fi
        for f in $list; do
            [[ -n ${have_import[$f]+x} ]] || problems+=("does not import shoal.$f")
        done
    fi

    n=$((n + 1))
    if ((${#problems[@]} == 0)); then
        echo "ok $n - $name"
    else
        failed=$((failed + 1))
        echo "not ok $n - $name"
        printf '#   %s\n' "${problems[@]}"
    fi
}

for spec in "$@"; do
    check "$spec"
done
echo "1..$n"
exit $((failed > 0))
