#!/bin/sh
# The demo app's HTTP contract for the busybox images (no Python there):
# busybox nc runs this once per connection. RELEASE_* come from the image env.
read -r method path _
case "$path" in
    /health*)
        if [ "$RELEASE_HEALTH_STATUS" = 200 ]; then state=ok; reason=OK; else state=error; reason=Error; fi
        code=$RELEASE_HEALTH_STATUS
        body="{\"status\": \"$state\", \"version\": \"$RELEASE_VERSION\"}" ;;
    *)
        code=200; reason=OK
        body="{\"version\": \"$RELEASE_VERSION\", \"items\": [\"a\", \"b\", \"c\"]}" ;;
esac
[ "${RELEASE_DELAY_MS:-0}" -gt 0 ] && sleep "$((RELEASE_DELAY_MS / 1000)).$(printf '%03d' $((RELEASE_DELAY_MS % 1000)))"
printf 'HTTP/1.0 %s %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
    "$code" "$reason" "${#body}" "$body"
