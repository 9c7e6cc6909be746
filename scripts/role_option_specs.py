"""Write (--write) or check the nested options of the roles' option dicts in roles/*/meta/argument_specs.yml.

They come from the modules' own documentation through the wiring in plugins/filter/options.py, so a role's
argument spec refuses a key its modules do not take (swapp: false) and cannot drift from the modules:
tests/unit/test_role_option_specs.py fails when a module gains or loses an option until this is re-run.
"""

import argparse
import json
import os
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".collections"))


def load_specs():
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([os.path.join(REPO, ".collections")])
    from ansible_collections.rollback.core.plugins.filter.options import role_option_specs

    # The docs loader's strings are tagged str subclasses: plain JSON types for YAML and comparisons.
    return json.loads(json.dumps(role_option_specs()))


def described(spec):
    """A role argument spec entry (description first) from a wiring spec."""
    modules = [m for m in spec.get("modules", []) if m != "role"]
    if modules:
        text = "Passed to %s." % " / ".join("rollback.core.%s" % m for m in modules)
    else:
        text = "Used by the role itself."
    entry = dict(description=text, type=spec.get("type", "str"))
    if spec.get("elements"):
        entry["elements"] = spec["elements"]
    if spec.get("choices"):
        entry["choices"] = list(spec["choices"])
    if spec.get("options"):
        entry["options"] = dict((key, described(spec["options"][key])) for key in sorted(spec["options"]))
    return entry


def nested(spec):
    return dict((key, described(spec["options"][key])) for key in sorted(spec["options"]))


def path_of(role):
    return os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def with_nested(text, name, options):
    """``text`` with the ``options:`` of role option ``name`` (indent 6) replaced by ``options``; the rest kept."""
    lines = text.splitlines(True)
    out, index = [], 0
    while index < len(lines):
        line = lines[index]
        out.append(line)
        index += 1
        if line.rstrip("\n") != " " * 6 + name + ":":
            continue
        block = []
        while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > 6):
            block.append(lines[index])
            index += 1
        kept, skipping = [], False
        for item in block:
            if item.strip() and _indent(item) == 8:
                skipping = item.strip() == "options:"
            if not skipping:
                kept.append(item)
        trailing = []
        while kept and not kept[-1].strip():
            trailing.insert(0, kept.pop())
        generated = yaml.dump({"options": options}, Dumper=Dumper, sort_keys=False, width=110,
                              default_flow_style=False)
        out.extend(kept + [" " * 8 + g + "\n" for g in generated.splitlines()] + trailing)
    return "".join(out)


def expected(role, options):
    with open(path_of(role)) as handle:
        text = handle.read()
    for name, spec in sorted(options.items()):
        text = with_nested(text, name, nested(spec))
    return text


class Dumper(yaml.SafeDumper):
    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the argument_specs.yml files")
    args = parser.parse_args()
    stale = []
    for role, options in sorted(load_specs().items()):
        text = expected(role, options)
        with open(path_of(role)) as handle:
            current = handle.read()
        if current != text:
            stale.append(role)
            if args.write:
                with open(path_of(role), "w") as handle:
                    handle.write(text)
    if stale and not args.write:
        print("stale nested options in roles %s: run .venv/bin/python scripts/role_option_specs.py --write"
              % ", ".join(stale))
        return 1
    print("rewrote: %s" % (", ".join(stale) or "nothing") if args.write else "nested options up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
