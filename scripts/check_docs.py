"""Fail fast on module docs that are not valid YAML (ansible-test's own message is less direct)."""

import glob
import re
import sys

import yaml

failed = False
for path in sorted(glob.glob("plugins/modules/*.py")):
    source = open(path).read()
    for block in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
        match = re.search(block + r' = r"""(.*?)"""', source, re.S)
        if not match:
            print("%s: no %s" % (path, block))
            failed = True
            continue
        try:
            document = yaml.safe_load(match.group(1))
        except yaml.YAMLError as error:
            print("%s: %s is not valid YAML: %s" % (path, block, error))
            failed = True
            continue
        if block == "DOCUMENTATION":
            for index, line in enumerate(document.get("description", [])):
                if not isinstance(line, str):
                    print("%s: description item %d is not a string (a ': ' inside it?)" % (path, index))
                    failed = True
sys.exit(1 if failed else 0)
