#  Sourced by the integration test libraries: waiting with a deadline.

#  wait_for SECONDS COMMAND...: poll COMMAND every 50 ms until it succeeds;
#  return 1 when SECONDS pass first.
wait_for () {
    limit=$(( $1 * 20 ))
    shift
    tries=0
    while ! "$@"; do
        tries=$((tries + 1))
        [ "$tries" -ge "$limit" ] && return 1
        sleep 0.05
    done
    return 0
}
