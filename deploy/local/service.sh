# Shared by kafka.sh and registry.sh: a local service started in the background whose pid is
# kept in <data dir>/<name>.pid. Source it after setting SERVICE (the pid file's name) and
# defining die().

is_running() {  # is_running <dir>
    [[ -f "$1/$SERVICE.pid" ]] && kill -0 "$(cat "$1/$SERVICE.pid")" 2>/dev/null
}

stop() {  # stop --data <dir>: SIGTERM, up to STOP_TIMEOUT seconds, then SIGKILL
    local dir=""
    while (($#)); do
        case "$1" in
            --data) dir="$2"; shift 2 ;;
            *) die "stop: unknown argument $1" ;;
        esac
    done
    [[ -n "$dir" ]] || die "stop: --data DIR is required"
    is_running "$dir" || { rm -f "$dir/$SERVICE.pid"; return 0; }
    local pid
    pid="$(cat "$dir/$SERVICE.pid")"
    kill "$pid"
    for _ in $(seq 1 "$((STOP_TIMEOUT * 5))"); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$dir/$SERVICE.pid"; return 0; }
        sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/$SERVICE.pid"
}

status() {  # status --data <dir>: exit 0 if running
    [[ "${1:-}" == "--data" && -n "${2:-}" ]] || die "status: --data DIR is required"
    is_running "$2"
}

start_args() {  # start_args "$@": PORT and DATA (absolute, created) from --port/--data
    PORT=0 DATA=""
    while (($#)); do
        case "$1" in
            --port) PORT="$2"; shift 2 ;;
            --data) DATA="$2"; shift 2 ;;
            *) die "start: unknown argument $1" ;;
        esac
    done
    [[ -n "$DATA" ]] || die "start: --data DIR is required"
    mkdir -p "$DATA"
    DATA="$(cd "$DATA" && pwd)"
    is_running "$DATA" && die "a $SERVICE already runs with $DATA (pid $(cat "$DATA/$SERVICE.pid"))"
    return 0
}
