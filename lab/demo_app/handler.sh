#!/bin/sh
# The demo app's HTTP contract and metrics for the busybox images (no Python there), as lab/demo_app/app.py:
# busybox nc runs this once per connection; RELEASE_* come from the image env. Each request appends
# "handler code milliseconds" to $REQUEST_LOG (one short O_APPEND write, whole under concurrency).
# GET /metrics folds the lines logged since the last scrape into $METRICS_STATE (the running totals, a few dozen
# lines: a scrape costs the same after a day as after a minute) and renders the totals in the Prometheus text format.
REQUEST_LOG=${REQUEST_LOG:-/tmp/requests.log}
METRICS_STATE=${METRICS_STATE:-/tmp/metrics.state}
read -r started _ < /proc/uptime
read -r method path _
case "$path" in
    /health|/health\?*) handler=/health ;;
    /metrics|/metrics\?*) handler=/metrics ;;
    /api/*) handler=/api/items ;;
    /|/\?*) handler=/ ;;
    *) handler=other ;;
esac

metrics() {
    # One scrape at a time folds (mkdir is atomic); after a second the lock is taken to be a dead scrape's.
    tries=0
    until mkdir /tmp/metrics.lock 2>/dev/null; do
        tries=$((tries + 1)); [ "$tries" -gt 50 ] && break; sleep 0.02
    done
    # Lines appended after the rename go to a new log, read by the next scrape.
    mv "$REQUEST_LOG" "$REQUEST_LOG.fold" 2>/dev/null || : > "$REQUEST_LOG.fold"
    [ -f "$METRICS_STATE" ] || : > "$METRICS_STATE"
    # Buckets and label order as app.py prints them.
    awk -v version="$RELEASE_VERSION" -v state="$METRICS_STATE.new" '
        BEGIN { n = split("0.005 0.01 0.025 0.05 0.1 0.2 0.25 0.5 1 2.5 5 10", bound, " ") }
        $1 == "R" { requests[$2 "\t" $3] += $4; next }
        $1 == "C" { count[$2] += $3; total[$2] += $4; next }
        $1 == "B" { bucket[$2, $3] += $4; next }
        NF == 3 {
            requests[$1 "\t" $2]++; count[$1]++; total[$1] += $3 / 1000
            for (i = 1; i <= n; i++) if ($3 / 1000 <= bound[i] + 0) bucket[$1, i]++
        }
        END {
            print "# HELP http_requests_total HTTP requests served, by handler and status code."
            print "# TYPE http_requests_total counter"
            for (key in requests) {
                split(key, part, "\t")
                printf "http_requests_total{handler=\"%s\",code=\"%s\",version=\"%s\"} %d\n", part[1], part[2], version, requests[key]
                printf "R %s %s %d\n", part[1], part[2], requests[key] > state
            }
            print "# HELP http_request_duration_seconds Time to serve an HTTP request."
            print "# TYPE http_request_duration_seconds histogram"
            for (h in count) {
                labels = sprintf("handler=\"%s\",version=\"%s\"", h, version)
                for (i = 1; i <= n; i++) {
                    printf "http_request_duration_seconds_bucket{%s,le=\"%s\"} %d\n", labels, bound[i], bucket[h, i]
                    printf "B %s %d %d\n", h, i, bucket[h, i] > state
                }
                printf "http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels, count[h]
                printf "http_request_duration_seconds_sum{%s} %.6f\n", labels, total[h]
                printf "http_request_duration_seconds_count{%s} %d\n", labels, count[h]
                printf "C %s %d %.6f\n", h, count[h], total[h] > state
            }
            print "# HELP demo_release_info The demo app release this process serves."
            print "# TYPE demo_release_info gauge"
            printf "demo_release_info{version=\"%s\"} 1\n", version
            close(state)
        }' "$METRICS_STATE" "$REQUEST_LOG.fold"
    [ -f "$METRICS_STATE.new" ] && mv "$METRICS_STATE.new" "$METRICS_STATE"
    rm -f "$REQUEST_LOG.fold"
    rmdir /tmp/metrics.lock 2>/dev/null
}

type=application/json
if [ "$handler" = /metrics ]; then
    code=200; reason=OK; type='text/plain; version=0.0.4; charset=utf-8'
    body=$(metrics; echo .)
    body=${body%.}  # keep the final line feed the text format requires
else
    [ "${RELEASE_DELAY_MS:-0}" -gt 0 ] && sleep "$((RELEASE_DELAY_MS / 1000)).$(printf '%03d' $((RELEASE_DELAY_MS % 1000)))"
    if [ "$handler" = /health ]; then
        if [ "$RELEASE_HEALTH_STATUS" = 200 ]; then state=ok; reason=OK; else state=error; reason=Error; fi
        code=$RELEASE_HEALTH_STATUS
        body="{\"status\": \"$state\", \"version\": \"$RELEASE_VERSION\"}"
    elif [ "$handler" = /api/items ] && [ $((RANDOM % 100)) -lt "${RELEASE_ERROR_PERCENT:-0}" ]; then
        code=500; reason='Internal Server Error'
        body="{\"error\": \"internal error\", \"version\": \"$RELEASE_VERSION\"}"
    else
        code=200; reason=OK
        body="{\"version\": \"$RELEASE_VERSION\", \"items\": [\"a\", \"b\", \"c\"]}"
    fi
fi
# Logged before the answer, as app.py counts a request: a client that got its answer finds it in the next scrape
# (logged after, a scrape could come before the line under load: 24 of 25 requests counted in a CI run).
read -r finished _ < /proc/uptime
start_cs=${started%.*}${started#*.}
end_cs=${finished%.*}${finished#*.}
printf '%s %s %s\n' "$handler" "$code" "$(( (end_cs - start_cs) * 10 ))" >> "$REQUEST_LOG"
printf 'HTTP/1.0 %s %s\r\nContent-Type: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
    "$code" "$reason" "$type" "${#body}" "$body"
