"""Level 1 of 1, 20, 50 and 100 simulated Kubernetes services in one run (forks 50): the curve and its slope.

Each service is a Deployment of the lab's simulator (lab/kubesim) at a bad revision over a good one, and a host
of the rollback_services group (bench_drill.fleet). Every count is rolled back with playbooks/rollback.yml
-e level=1 -f 50; the line per count gives the median wall time, the ratio against one service and the time
per service added. The per-service slope is the least-squares fit over the counts. Run with the lab up:
  .venv/bin/python bench/bench_scale.py [--repeat N] [--counts 1,20,50,100]
"""

import argparse
import os
import statistics

from bench_drill import fleet, playbook
from common import lab_facts


def slope(points):
    """Least-squares seconds per service of ``[(count, seconds)]``."""
    mean_x = statistics.mean(x for x, _y in points)
    mean_y = statistics.mean(y for _x, y in points)
    return (sum((x - mean_x) * (y - mean_y) for x, y in points)
            / sum((x - mean_x) ** 2 for x, _y in points))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--counts", default="1,20,50,100")
    parser.add_argument("--forks", type=int, default=50)
    args = parser.parse_args()
    lab = lab_facts()
    os.environ["LAB_KUBECONFIG"] = lab["LAB_KUBECONFIG"]
    counts = [int(count) for count in args.counts.split(",")]
    print("load average before: %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    medians = {}
    for count in counts:
        walls = []
        for _run in range(args.repeat):
            inventory = fleet(count)  # every service back at its bad revision, untimed
            walls.append(playbook(inventory, "-e", "level=1", "-f", str(args.forks))[0])
        medians[count] = statistics.median(walls)
        base = medians[counts[0]]
        print("%4d service(s): %6.1f s (median of %d: %s), %.2fx %d service(s), %.2f s per service added"
              % (count, medians[count], args.repeat, ", ".join("%.1f" % wall for wall in walls), medians[count] / base,
                 counts[0], (medians[count] - base) / (count - counts[0]) if count != counts[0] else 0.0), flush=True)
    if len(medians) > 1:
        print("slope: %.2f s per service (least squares over %s); load average after: %.2f %.2f %.2f"
              % ((slope(sorted(medians.items())),) + (args.counts,) + os.getloadavg()), flush=True)


if __name__ == "__main__":
    main()
