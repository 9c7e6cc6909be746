"""The lab's users: a steady trickle of GET /api/items to each demo app target, so its error rate means something.

Run by lab/labkit/users.py as the lab service ``users``. Requests that fail to connect (a target being redeployed)
are simply dropped, as a user's would be; the app's own metrics count what it answered.
"""

import argparse
import threading
import time
import urllib.error
import urllib.request


def browse(url, rate, stop):
    period = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
        except (urllib.error.URLError, OSError):
            pass
        next_at = max(next_at + period, time.monotonic())
        stop.wait(next_at - time.monotonic())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=4.0, help="requests per second per target")
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    stop = threading.Event()
    threads = [threading.Thread(target=browse, args=(url, args.rate, stop), daemon=True) for url in args.urls]
    for thread in threads:
        thread.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stop.set()


if __name__ == "__main__":
    main()
